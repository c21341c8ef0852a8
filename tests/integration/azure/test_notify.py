"""The notify functions on Azurite (issue 33): the timer's look queues what the committed state
warrants on the notices Storage Queue, once per channel; the queue trigger delivers each notice to
its channel: a Slack-compatible webhook (a receiver on 127.0.0.1; deployed, its URL is a Key Vault
reference in the notify app's settings) and the notifications Event Grid topic (faked at its client:
Event Grid has no emulator). A webhook answering 500 is raised for the host to retry; a 404 is parked
on the dead-letter queue with its reason."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any


from tests.receiver import Receiver

from .conftest import FakeEventGrid
from .test_functions import _app, _fn, _queue

TOPIC = "https://skyloop-notifications-x.eastus-1.eventgrid.azure.net/api/events"


def _notify_env(env: Any, url: str) -> tuple[Any, Any, FakeEventGrid]:
    from skyloop.config import Settings

    notices = f"notices{env.azure.container[-12:]}"
    env.queue(notices).create_queue()
    azure = env.azure.model_copy(update={"notices_queue": notices, "notifications_topic_endpoint": TOPIC})
    topic = FakeEventGrid()
    adapters = env.rebuilt(Settings(home=env.tmp / "home", notifications={"webhook_url": url}), azure,
                           notifications_eventgrid=topic)
    return _app(SimpleNamespace(adapters=adapters, azure=azure)), adapters, topic


def _held(adapters: Any) -> str:
    from skyloop.events import RemediationRequested, Severity
    from skyloop.handlers import on_remediation

    req = RemediationRequested(request_id="inc-7:restart_service", action="restart_service", target="api",
                               severity=Severity.CRITICAL)
    assert on_remediation(req, adapters, dry_run=False)["status"] == "awaiting_approval"
    return req.request_id


def _look(module: Any) -> None:
    from azure.functions.timer import TimerRequest  # what the host hands a timer trigger

    _fn(module, "notify_look")(TimerRequest(past_due=False))


def _queued(env: Any, adapters: Any) -> list[str]:
    q = env.queue(adapters.notifications.name)
    got = [m.content for m in q.receive_messages(messages_per_page=32, max_messages=32)]
    return got


def test_the_on_call_is_told_through_the_webhook_and_the_topic(azure_env: Any) -> None:
    env = azure_env
    down = {"on": True}
    with Receiver(status=lambda path, n: 500 if down["on"] else 200) as rx:
        module, adapters, topic = _notify_env(env, rx.url("/hook"))
        rid = _held(adapters)
        _look(module)
        bodies = _queued(env, adapters)
        assert sorted(json.loads(b)["channel"] for b in bodies) == ["eventgrid", "webhook"]
        _look(module)
        assert _queued(env, adapters) == []  # told once
        webhook = next(b for b in bodies if json.loads(b)["channel"] == "webhook")
        try:
            _fn(module, "notify")(_queue(webhook))
            raise AssertionError("a 500 must be raised for the host to retry")
        except Exception as exc:  # noqa: BLE001 - the host sees any exception as a failure to retry
            assert "500" in str(exc)
        down["on"] = False
        _fn(module, "notify")(_queue(webhook, dequeue_count=2))
        for b in bodies:
            if b is not webhook:
                _fn(module, "notify")(_queue(b))
        [(_, told)] = rx.got
        assert f"skyloop --cloud azure remediate --approve {rid}" in told["text"]
        [event] = topic.sent
        assert event.event_type == "Skyloop.Notice.action_held" and event.data["commands"][0].endswith(rid)


def test_a_refused_notice_is_parked_with_its_reason(azure_env: Any) -> None:
    env = azure_env
    with Receiver(status=lambda path, n: 404) as rx:
        module, adapters, _ = _notify_env(env, rx.url("/gone"))
        _held(adapters)
        _look(module)
        webhook = next(b for b in _queued(env, adapters) if json.loads(b)["channel"] == "webhook")
        _fn(module, "notify")(_queue(webhook))  # answered: nothing for the host to retry
        [parked] = [d for d in env.dead_letters() if d["function"] == "notify"]
        assert parked["error"] == "channel_refused" and "404" in parked["reason"]
