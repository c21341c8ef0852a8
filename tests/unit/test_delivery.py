"""The one delivery rule (skyloop.delivery) that the local drain and the Lambda entry points share."""

import logging

import pytest

from skyloop.delivery import Outcome, backoff, deliver
from skyloop.errors import InvalidEvent, SkyloopError, TransientError


def test_done_carries_the_result():
    d = deliver(lambda: {"status": "ok"})
    assert d.outcome is Outcome.DONE and d.result == {"status": "ok"} and d.error is None


def test_permanent_error_is_dead_lettered_with_its_reason(caplog):
    def work():
        raise InvalidEvent("event is not valid JSON")

    with caplog.at_level(logging.ERROR, "skyloop.delivery"):
        d = deliver(work, {"message_id": "m-1"})
    assert d.outcome is Outcome.DEAD_LETTER and d.code == "invalid_event" and d.reason == "event is not valid JSON"
    assert d.as_status() == {"status": "dead_lettered", "error": "invalid_event", "reason": "event is not valid JSON"}
    [rec] = caplog.records
    assert rec.message_id == "m-1" and rec.error == "invalid_event"


@pytest.mark.parametrize("exc", [TransientError("throttled"), RuntimeError("a bug")])
def test_transient_errors_and_bugs_are_retried_never_lost(exc):
    def work():
        raise exc

    d = deliver(work)
    assert d.outcome is Outcome.RETRY and d.error is exc
    assert d.reason == ("throttled" if isinstance(exc, SkyloopError) else "internal error")


def test_backoff_doubles_then_caps():
    assert [backoff(n) for n in (0, 1, 2, 3)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(30) == 60.0 and backoff(-1) == 1.0
