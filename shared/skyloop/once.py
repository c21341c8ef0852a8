"""Run a handler's effect at most once per idempotency key."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from .logs import correlation_id

if TYPE_CHECKING:
    from .ports import IdempotencyStore

log = logging.getLogger("skyloop.handlers")


# A claim outlives the longest function timeout (900 s on Lambda): with a shorter one, a slow
# first attempt still running could be joined by a redelivery doing the same work beside it.
CLAIM_SECONDS = 960.0


def once(store: IdempotencyStore, key: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    token = correlation_id.set(key)
    lease = getattr(store, "lease_seconds", None)  # a store with short, renewed claims (local)
    try:
        prior = store.begin(key, expires_after=lease or CLAIM_SECONDS)
        if prior is not None:
            log.info("duplicate event: returning the first result", extra={"idempotency_key": key})
            return {**prior, "duplicate": True}
        try:
            result = _renewing(store, key, lease, fn) if lease else fn()
        except BaseException:
            store.release(key)  # a redelivery may try again (and fail the same typed way)
            raise
        store.complete(key, result)
        return {**result, "duplicate": False}
    finally:
        correlation_id.reset(token)


def _renewing(store: Any, key: str, lease: float, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn`` while a thread renews the claim every third of its lease: alive, the worker
    keeps its key however long the work takes; killed, the key is free a lease later."""
    import threading

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease / 3):
            try:
                store.extend(key, lease)
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the work goes on
                log.warning("could not renew the claim", extra={"idempotency_key": key, "error": type(exc).__name__})

    t = threading.Thread(target=beat, name=f"lease:{key[:40]}", daemon=True)
    t.start()
    try:
        return fn()
    finally:
        stop.set()
        t.join(timeout=lease)
