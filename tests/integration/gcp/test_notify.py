"""The notify function on Google Cloud's emulators (issue 33): Cloud Scheduler's tick on the notices
topic queues what the committed state warrants, once per channel; each queued notice, pushed back
to the function by Eventarc, goes to its channel: a Slack-compatible webhook (a receiver on
127.0.0.1; on a deployment its URL is a Secret Manager reference in the function's environment) and
the notifications topic people subscribe to. A webhook answering 500 is answered 500 (Eventarc
redelivers); a 404 is parked on the dead-letter topic with its reason."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.receiver import Receiver

from . import harness
from .conftest import PROJECT


def _topics(env: Any) -> tuple[Any, str, str]:
    """The notices and notifications topics with pull subscriptions to read them; adapters that use them."""
    pub, sub = env.publisher, env.subscriber
    suffix = env.gcs.bucket[-12:]
    names = {t: f"skyloop-{t}-{suffix}" for t in ("notices", "notifications")}
    for name in names.values():
        topic = pub.create_topic(name=pub.topic_path(PROJECT, name)).name
        sub.create_subscription(name=sub.subscription_path(PROJECT, f"{name}-pull"), topic=topic)
    return env.gcp.model_copy(update={"notices_topic": names["notices"], "notifications_topic": names["notifications"]}), \
        names["notices"], names["notifications"]


def _pull(env: Any, topic: str) -> list[Any]:
    sub = env.subscriber.subscription_path(PROJECT, f"{topic}-pull")
    got = env.subscriber.pull(subscription=sub, max_messages=50, timeout=5).received_messages
    if got:
        env.subscriber.acknowledge(subscription=sub, ack_ids=[r.ack_id for r in got])
    return [r.message for r in got]


def _tick(gcp: Any) -> dict[str, Any]:
    raw = json.loads((harness.EVENTS / "pubsub-notify-tick.json").read_text())
    raw["data"]["message"]["data"] = base64.b64encode(json.dumps({"type": "NotifyTick"}).encode()).decode()
    return raw


def _held(env: Any, adapters: Any) -> str:
    from skyloop.events import RemediationRequested, Severity
    from skyloop.handlers import on_remediation

    req = RemediationRequested(request_id="inc-9:restart_service", action="restart_service", target="api",
                               severity=Severity.CRITICAL)
    assert on_remediation(req, adapters, dry_run=False)["status"] == "awaiting_approval"
    return req.request_id


def test_the_on_call_is_told_through_the_webhook_and_the_topic(gcp_env: Any) -> None:
    from skyloop.config import Settings

    env = gcp_env
    down = {"on": True}
    with Receiver(status=lambda path, n: 500 if down["on"] else 200) as rx:
        gcp, notices, notifications = _topics(env)
        settings = Settings(home=env.tmp / "home", notifications={"webhook_url": rx.url("/hook")})
        adapters = env.rebuilt(settings, gcp)
        rid = _held(env, adapters)
        assert harness.deliver("notify", _tick(gcp), adapters, gcp).status_code == 200
        queued = _pull(env, notices)
        assert sorted(json.loads(m.data)["channel"] for m in queued) == ["pubsub", "webhook"]
        assert harness.deliver("notify", _tick(gcp), adapters, gcp).status_code == 200
        assert _pull(env, notices) == []  # told once

        def push(m: Any) -> int:
            topic = f"projects/{PROJECT}/topics/{notices}"
            return harness.deliver("notify", harness.pubsub_cloudevent(m, f"{topic}-push", topic), adapters,
                                   gcp).status_code

        webhook = next(m for m in queued if json.loads(m.data)["channel"] == "webhook")
        assert push(webhook) == 500  # the webhook's 500: Eventarc redelivers
        down["on"] = False
        assert push(webhook) == 200 and [m.data for m in queued if m is not webhook]
        assert all(push(m) == 200 for m in queued if m is not webhook)
        [(_, told)] = rx.got
        assert f"skyloop --cloud gcp remediate --approve {rid}" in told["text"]
        [topic_msg] = _pull(env, notifications)
        assert json.loads(topic_msg.data)["kind"] == "action_held" and topic_msg.attributes["kind"] == "action_held"


def test_a_refused_notice_is_parked_with_its_reason(gcp_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from skyloop.config import Settings

    env = gcp_env
    with Receiver(status=lambda path, n: 404) as rx:
        gcp, notices, _ = _topics(env)
        adapters = env.rebuilt(Settings(home=env.tmp / "home", notifications={"webhook_url": rx.url("/gone")}), gcp)
        _held(env, adapters)
        harness.deliver("notify", _tick(gcp), adapters, gcp)
        topic = f"projects/{PROJECT}/topics/{notices}"
        webhook = next(m for m in _pull(env, notices) if json.loads(m.data)["channel"] == "webhook")
        assert harness.deliver("notify", harness.pubsub_cloudevent(webhook, f"{topic}-push", topic), adapters,
                               gcp).status_code == 200
        [parked] = [json.loads(m.data) for m in env.pull("dead_letter_topic")]
        assert parked["function"] == "notify" and parked["error"] == "channel_refused" and "404" in parked["reason"]


def test_an_event_of_another_kind_is_parked_not_retried(gcp_env: Any) -> None:
    """The notify function fed a storage event (not a Pub/Sub message) or a message that is no notice:
    a typed refusal, parked with its reason, never a 500 that Eventarc would redeliver for a day."""
    from skyloop.config import Settings

    env = gcp_env
    with Receiver() as rx:
        gcp, _, _ = _topics(env)
        adapters = env.rebuilt(Settings(home=env.tmp / "home", notifications={"webhook_url": rx.url("/hook")}), gcp)
        storage = json.loads((harness.EVENTS / "storage-object-finalized.json").read_text())
        assert harness.deliver("notify", storage, adapters, gcp).status_code == 200
        junk = _tick(gcp)
        junk["data"]["message"]["data"] = base64.b64encode(b'{"hello": "world"}').decode()
        assert harness.deliver("notify", junk, adapters, gcp).status_code == 200
        parked = [json.loads(m.data) for m in env.pull("dead_letter_topic")]
        assert [(p["function"], p["error"]) for p in parked] == [("notify", "invalid_event")] * 2
        assert "not a Pub/Sub message" in parked[0]["reason"] and "not a queued notice" in parked[1]["reason"]
        assert rx.got == []
