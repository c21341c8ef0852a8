"""The one delivery rule every runtime applies to one message (issue 14: it was written three times).

An outcome is decided here and only here:

- **done**: the work returned; the runtime acknowledges the message.
- **retry**: a transient Skyloop error (``retryable``: a throttled API, a store that did not answer),
  or any other exception, because a bug must not lose a message: the runtime makes the message
  visible again (with ``backoff``), and its queue's redrive limit is the backstop.
- **dead_letter**: a permanent Skyloop error (bad CSV, malformed event, unknown version): retrying
  cannot help, so the runtime parks the message with this reason and the rest of the batch goes on.

Runtimes only map the outcome onto their platform: the local drain (ack / nack / dead-letter
table), Lambda (return, raise, or send to the dead-letter queue and report success), and later
Pub/Sub and Storage Queue. The rule itself, and its log line, stay here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Callable, Mapping

from .errors import SkyloopError

log = logging.getLogger("skyloop.delivery")


class Outcome(str, Enum):
    DONE = "done"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    code: str = ""
    reason: str = ""

    def as_status(self) -> dict[str, Any]:
        """What a runtime answers for a parked message."""
        return {"status": "dead_lettered", "error": self.code, "reason": self.reason}


def backoff(attempt: int, cap: float = 60.0) -> float:
    """Seconds before the next try: doubling per receive, capped."""
    return min(2.0 ** max(attempt, 0), cap)


def deliver(work: Callable[[], dict[str, Any]], context: Mapping[str, Any] | None = None) -> Delivery:
    """Run one message's work and decide its outcome (logged once, with ``context``)."""
    ctx = dict(context or {})
    try:
        return Delivery(Outcome.DONE, result=work())
    except SkyloopError as exc:
        ctx.update(error=exc.code, reason=exc.reason)
        if exc.retryable:
            log.warning("transient failure, will retry", extra=ctx)
            return Delivery(Outcome.RETRY, error=exc, code=exc.code, reason=exc.reason)
        log.error("permanent failure, dead-lettered", extra=ctx)
        return Delivery(Outcome.DEAD_LETTER, error=exc, code=exc.code, reason=exc.reason)
    except Exception as exc:  # noqa: BLE001 - a bug must not lose the message: retry, then the redrive limit
        log.exception("unexpected failure, will retry", extra=ctx)
        return Delivery(Outcome.RETRY, error=exc, code=type(exc).__name__, reason="internal error")


def settle(d: Delivery, park: Callable[[BaseException], None],
           give_up: Callable[[BaseException], BaseException | None] | None = None) -> dict[str, Any]:
    """The delivery rule on a platform that retries by itself, written once for every entry point:
    done -> the result; retry -> raise, so the platform's own retries come back, unless ``give_up``
    turns the error into a permanent one (Google Cloud: still failing past its retry window);
    dead-letter -> ``park`` the event with its error (the platform's dead-letter path) and answer
    the status, so the invocation succeeds and the rest of the batch goes on."""
    if d.outcome is Outcome.DONE:
        assert d.result is not None
        return d.result
    assert d.error is not None
    if d.outcome is Outcome.RETRY:
        final = give_up(d.error) if give_up is not None else None
        if final is None:
            raise d.error
        d = replace(d, outcome=Outcome.DEAD_LETTER, error=final, code=getattr(final, "code", type(final).__name__),
                    reason=getattr(final, "reason", str(final)))
    assert d.error is not None
    park(d.error)
    return d.as_status()


__all__ = ["Delivery", "Outcome", "backoff", "deliver", "settle"]
