"""Run a handler's effect at most once per idempotency key."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from ..logs import correlation_id

if TYPE_CHECKING:
    from ..ports import IdempotencyStore

log = logging.getLogger("skyloop.handlers")


# A claim outlives the longest function timeout (900 s on Lambda): with a shorter one, a slow
# first attempt still running could be joined by a redelivery doing the same work beside it.
CLAIM_SECONDS = 960.0


def once(store: IdempotencyStore, key: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    token = correlation_id.set(key)
    try:
        prior = store.begin(key, expires_after=CLAIM_SECONDS)
        if prior is not None:
            log.info("duplicate event: returning the first result", extra={"idempotency_key": key})
            return {**prior, "duplicate": True}
        try:
            result = fn()
        except BaseException:
            store.release(key)  # a redelivery may try again (and fail the same typed way)
            raise
        store.complete(key, result)
        return {**result, "duplicate": False}
    finally:
        correlation_id.reset(token)
