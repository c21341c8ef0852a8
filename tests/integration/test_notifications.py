"""People are told (issue 33): the demo with a Slack-compatible webhook and PagerDuty pointed at a
receiver on 127.0.0.1, and a receiver that answers 500, which loses nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from skyloop.config import Settings
from skyloop.events import RemediationRequested, Severity
from skyloop.local.runtime import LocalRuntime
from tests.conftest import DEMO_START
from tests.receiver import Receiver


def test_the_demo_tells_the_on_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from skyloop.app.cli import app

    with Receiver() as rx:
        monkeypatch.setenv("SKYLOOP_NOTIFICATIONS__WEBHOOK_URL", rx.url("/hooks/T0/B0/secret"))
        monkeypatch.setenv("SKYLOOP_NOTIFICATIONS__PAGERDUTY_ROUTING_KEY", "R0UTINGKEY")
        monkeypatch.setenv("SKYLOOP_NOTIFICATIONS__PAGERDUTY_URL", rx.url("/v2/enqueue"))
        res = CliRunner().invoke(app, ["demo", "--json", "--start", DEMO_START, "--home", str(tmp_path)])
        assert res.exit_code == 0, res.output
        slack, pd = rx.bodies("/hooks/T0/B0/secret"), rx.bodies("/v2/enqueue")
    texts = [m["text"] for m in slack]
    assert all(isinstance(m.get("blocks"), list) for m in slack)
    opened = [t for t in texts if "critical incident" in t and "top cause" in t and "action queued" in t]
    assert len(opened) >= 4, texts
    held = [t for t in texts if "waits for a person" in t]
    assert held and all("skyloop remediate --approve " in t and "skyloop remediate --reject " in t for t in held)
    assert any("resolved" in t for t in texts) and any("promoted to production" in t for t in texts)
    assert len(texts) == len(set(texts))  # one message per state change, not per pump or record
    # PagerDuty: one alert per incident, triggered on open and resolved by verification, one dedup_key
    by_key: dict[str, list[str]] = {}
    for e in pd:
        assert e["routing_key"] == "R0UTINGKEY"
        by_key.setdefault(e["dedup_key"], []).append(e["event_action"])
    resolved = [k for k, actions in by_key.items() if actions[0] == "trigger" and actions[-1] == "resolve"]
    assert len(resolved) >= 4, by_key
    summary = json.loads(res.output)
    assert summary["dead_letters"] == 0


def _held(rt: LocalRuntime) -> str:
    req = RemediationRequested(request_id="inc-1:restart_service", action="restart_service", target="api",
                               severity=Severity.CRITICAL)
    rt.adapters.remediation.send(req.model_dump_json(), message_id=req.request_id)
    rt.pump(dry_run=False)
    assert [h["request_id"] for h in rt.adapters.state.held()] == [req.request_id]
    return req.request_id


def test_a_receiver_that_answers_500_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    down = True
    with Receiver(status=lambda path, n: 500 if down else 200) as rx:
        monkeypatch.setenv("SKYLOOP_NOTIFICATIONS__WEBHOOK_URL", rx.url("/hook"))
        rt = LocalRuntime(Settings(home=tmp_path))
        try:
            rid = _held(rt)
            q = rt.adapters.notifications
            assert q is not None and rx.got == [] and rx.tries["/hook"] >= 1
            assert q.depth() == 1 and q.dead_letters() == []  # waiting for its retry, the loop's work done
            down = False
            deadline = time.monotonic() + 30
            while not rx.got and time.monotonic() < deadline:  # its backoff (2 s after one failure) runs out
                time.sleep(0.5)
                rt.pump(dry_run=False)
            [(path, msg)] = rx.got
            assert f"skyloop remediate --approve {rid}" in msg["text"] and q.depth() == 0
            rt.pump(dry_run=False)
            assert len(rx.got) == 1  # told once
        finally:
            rt.close()


def test_a_refused_notice_is_dead_lettered_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver(status=lambda path, n: 404) as rx:
        monkeypatch.setenv("SKYLOOP_NOTIFICATIONS__WEBHOOK_URL", rx.url("/revoked"))
        rt = LocalRuntime(Settings(home=tmp_path))
        try:
            _held(rt)
            [dead] = rt.adapters.notifications.dead_letters()  # type: ignore[union-attr]
            assert "channel_refused" in dead.reason and "404" in dead.reason and "/revoked" not in dead.reason
            assert rt.adapters.state.held()  # the request still waits for its person
        finally:
            rt.close()


def test_the_rate_limit_defers_and_drops_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skyloop.clock import ManualClock
    from skyloop.notify.deliver import enqueue
    from skyloop.ports.notify import Notice

    rt = LocalRuntime(Settings(home=tmp_path), clock=ManualClock(1_000.0))
    try:
        kv, q = rt.adapters.kv, rt.adapters.notifications
        assert q is not None
        many = [Notice(key=f"k{i}", subject=f"s{i}", kind="version_pending", title=f"v{i}") for i in range(5)]
        assert enqueue(kv, q, many, ["webhook"], now=1_000.0, per_minute=2) == ["k0", "k1"]
        assert enqueue(kv, q, many, ["webhook"], now=1_010.0, per_minute=2) == []  # a sixth of a token back
        assert enqueue(kv, q, many, ["webhook"], now=1_060.0, per_minute=2) == ["k2", "k3"]
        assert enqueue(kv, q, many, ["webhook"], now=1_200.0, per_minute=2) == ["k4"]
        assert q.depth() == 5
    finally:
        rt.close()


def test_a_held_request_nobody_decides_expires_audited_and_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skyloop.clock import ManualClock
    from skyloop.errors import StateConflict

    clock = ManualClock(1_800_000_000.0)
    with Receiver() as rx:
        monkeypatch.setenv("SKYLOOP_NOTIFICATIONS__WEBHOOK_URL", rx.url("/hook"))
        rt = LocalRuntime(Settings(home=tmp_path), clock=clock)
        try:
            rid = _held(rt)
            clock.advance(239 * 60)
            rt.pump(dry_run=False)
            assert rt.adapters.state.held()  # within its time
            clock.advance(2 * 60)
            rt.pump(dry_run=False)
            assert rt.adapters.state.held() == []
            [entry] = [e for e in rt.adapters.audit.entries() if e["kind"] == "expired"]
            assert entry["request_id"] == rid and "no decision within 240 min" in entry["note"]
            with pytest.raises(StateConflict, match="already expired"):
                rt.decide_held(rid, "approved", actor="late-oncall")
            texts = [m["text"] for m in rx.bodies("/hook")]
            assert any("waits for a person" in t for t in texts) and any("expired unapproved" in t for t in texts)
            assert not [e for e in rt.adapters.audit.entries() if e["kind"] == "executed"]  # it never ran
        finally:
            rt.close()


@pytest.mark.parametrize("body", ["not json", '{"channel": "webhook"}', '{"channel": "webhook", "notice": {"key": ""}}'])
def test_a_message_that_is_no_notice_is_a_typed_refusal(body: str) -> None:
    from skyloop.errors import InvalidEvent
    from skyloop.notify.deliver import deliver

    with pytest.raises(InvalidEvent, match="not a queued notice"):
        deliver(body, {})
