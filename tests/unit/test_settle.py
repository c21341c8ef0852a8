"""The delivery rule on a platform that retries by itself, written once (skyloop.delivery.settle)
for the AWS, Google Cloud and Azure entry points, which each wrote it out before."""

from __future__ import annotations

import pytest

from skyloop.delivery import deliver, settle
from skyloop.errors import InvalidEvent, SkyloopError, TransientError


def _fails(exc: BaseException):
    def work():
        raise exc
    return work


def test_done_answers_the_result_and_parks_nothing() -> None:
    parked: list[BaseException] = []
    assert settle(deliver(lambda: {"status": "ok"}), parked.append) == {"status": "ok"} and parked == []


def test_a_transient_failure_is_raised_for_the_platforms_retry() -> None:
    parked: list[BaseException] = []
    with pytest.raises(TransientError):
        settle(deliver(_fails(TransientError("busy"))), parked.append)
    with pytest.raises(KeyError):  # a bug: retried too, never lost
        settle(deliver(_fails(KeyError("x"))), parked.append)
    assert parked == []


def test_a_permanent_failure_is_parked_and_answered() -> None:
    parked: list[BaseException] = []
    out = settle(deliver(_fails(InvalidEvent("not a CSV"))), parked.append)
    assert out == {"status": "dead_lettered", "error": "invalid_event", "reason": "not a CSV"}
    assert [type(e) for e in parked] == [InvalidEvent]


def test_a_retry_past_the_platforms_window_is_parked_with_why() -> None:
    parked: list[BaseException] = []

    def give_up(error: BaseException) -> BaseException | None:
        final = SkyloopError(f"still failing a day later: {error}")
        final.code = "retries_exhausted"
        return final

    out = settle(deliver(_fails(TransientError("busy"))), parked.append, give_up)
    assert out["status"] == "dead_lettered" and out["error"] == "retries_exhausted" and "busy" in out["reason"]
    assert len(parked) == 1
