"""Pub/Sub's own push, retry and dead-letter policy, on the emulator, delivering to the remediate
function served for real over HTTP by functions-framework (the shape infra/gcp/main.tf deploys: a
push subscription with a dead-letter topic in front of the function). A request the function takes
is acknowledged once; one that fails transiently is answered 500 and redelivered by Pub/Sub until
``max_delivery_attempts``, then moved to the dead-letter topic with its delivery count; one that can
never succeed is parked by the function itself with its reason and acknowledged at once. The
emulator does not check the push subscription's OIDC token."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Iterator

import pytest

from skyloop.errors import TransientError

from . import harness
from .conftest import PROJECT


@pytest.fixture
def served(gcp_env: Any) -> Iterator[tuple[Any, str]]:
    """The remediate function on a real HTTP server on 127.0.0.1 (a thread, stopped after the test)."""
    import functions_framework
    import sys

    from werkzeug.serving import make_server

    from tests.conftest import _free_port

    app = functions_framework.create_app(target="remediate", source=str(harness.MAIN), signature_type="cloudevent")
    sys.modules["main"].use(gcp_env.adapters, gcp_env.gcp)
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gcp_env, f"http://127.0.0.1:{port}/"
    server.shutdown()
    thread.join(timeout=10)


def _push_subscription(env: Any, endpoint: str) -> None:
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    sub = env.subscriber.subscription_path(PROJECT, f"{env.gcp.remediation_topic}-push")
    env.subscriber.create_subscription(request=pubsub_v1.types.Subscription(
        name=sub, topic=env.publisher.topic_path(PROJECT, env.gcp.remediation_topic),
        push_config=pubsub_v1.types.PushConfig(push_endpoint=endpoint), ack_deadline_seconds=10,
        dead_letter_policy=pubsub_v1.types.DeadLetterPolicy(
            dead_letter_topic=env.publisher.topic_path(PROJECT, env.gcp.dead_letter_topic), max_delivery_attempts=5),
        retry_policy=pubsub_v1.types.RetryPolicy(minimum_backoff=duration_pb2.Duration(seconds=1),
                                                 maximum_backoff=duration_pb2.Duration(seconds=2))))


def _wait_for(check: Any, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_push_retry_and_dead_letter(served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env, endpoint = served
    _push_subscription(env, endpoint)
    q = env.adapters.remediation

    # one the function takes: executed once, acknowledged
    q.send(json.dumps({"type": "RemediationRequested", "request_id": "ok-1", "target": "api", "action": "scale_out",
                       "reason": "cpu"}), "ok-1")
    _wait_for(lambda: [e for e in env.adapters.audit.entries() if e["kind"] == "executed"])
    assert env.run.service.scaling.min_instance_count == 3

    # one that can never succeed (an unknown action): parked by the function with its reason
    q.send(json.dumps({"type": "RemediationRequested", "request_id": "bad-1", "target": "api", "action": "reboot_datacenter"}))
    parked = _wait_for(lambda: env.pull("dead_letter_topic"))
    [doc] = [json.loads(m.data) for m in parked]
    assert doc["function"] == "remediate" and "reboot_datacenter" in doc["reason"]

    # one that keeps failing transiently: Pub/Sub redelivers, then dead-letters it after 5 attempts
    calls = {"n": 0}
    real = env.adapters.executor.describe

    def throttled(target: str) -> Any:
        calls["n"] += 1
        raise TransientError("Cloud Run API quota exceeded")

    monkeypatch.setattr(env.adapters.executor, "describe", throttled)
    q.send(json.dumps({"type": "RemediationRequested", "request_id": "busy-1", "target": "api", "action": "restart_service",
                       "reason": "cpu"}), "busy-1")
    dead = _wait_for(lambda: env.pull("dead_letter_topic"), seconds=90)
    [m] = dead
    assert json.loads(m.data)["request_id"] == "busy-1"  # the request itself, moved by Pub/Sub
    assert int(m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"]) == 5
    assert calls["n"] == 5
    monkeypatch.setattr(env.adapters.executor, "describe", real)
    assert env.run.revisions == 1  # never restarted
