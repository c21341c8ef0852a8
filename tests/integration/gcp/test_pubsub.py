"""Pub/Sub publishing on the real emulator: domain events carry their type and id as attributes,
remediation requests their request id, dead letters their reason; a publish that fails is a
transient error (the function's retry policy redelivers what caused it), never a lost event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyloop.errors import InvalidDataset, TransientError
from skyloop.events import ModelVersionApproved

from .conftest import PROJECT


def _topic_with_subscription(pubsub: Any, name: str) -> str:
    publisher, subscriber = pubsub
    topic = publisher.create_topic(name=publisher.topic_path(PROJECT, name)).name
    sub = subscriber.subscription_path(PROJECT, f"{name}-sub")
    subscriber.create_subscription(name=sub, topic=topic)
    return sub


def _pull(pubsub: Any, sub: str) -> list[Any]:
    _, subscriber = pubsub
    res = subscriber.pull(subscription=sub, max_messages=10, timeout=10)
    return [m.message for m in res.received_messages]


def test_domain_events_and_dead_letters(pubsub: Any) -> None:
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.pubsub import REASON_ATTR, PubSubPublisher, dead_letter_event

    gcp = GcpSettings(project=PROJECT, events_topic="skyloop-events", dead_letter_topic="skyloop-dead", remediation_topic="skyloop-remediation")
    ev, dl, rq = (_topic_with_subscription(pubsub, t) for t in ("skyloop-events", "skyloop-dead", "skyloop-remediation"))

    event = ModelVersionApproved(event_id="approve-1", model_group="churn", version=3, approved_by="oncall")
    assert PubSubPublisher(gcp, gcp.events_topic).publish(event) == "approve-1"
    [m] = _pull(pubsub, ev)
    assert dict(m.attributes) == {"type": "ModelVersionApproved", "event_id": "approve-1"}
    assert ModelVersionApproved.model_validate_json(m.data) == event

    PubSubPublisher(gcp, gcp.remediation_topic).send('{"type": "RemediationRequested"}', "req-7")
    [r] = _pull(pubsub, rq)
    assert r.attributes["request_id"] == "req-7" and json.loads(r.data)["type"] == "RemediationRequested"

    raw = {"type": "google.cloud.storage.object.v1.finalized", "data": {"name": "bad.csv"}}
    dead_letter_event(gcp, raw, InvalidDataset("bad.csv: no target column 'churned'\nsecond line"), "train")
    [d] = _pull(pubsub, dl)
    assert d.attributes[REASON_ATTR] == "bad.csv: no target column 'churned'\\nsecond line"  # one line, escaped
    body = json.loads(d.data)
    assert body["function"] == "train" and body["error"] == "invalid_dataset" and body["event"] == raw


def test_a_failed_publish_is_transient(pubsub: Any) -> None:
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.pubsub import PubSubPublisher

    gcp = GcpSettings(project=PROJECT)
    with pytest.raises(TransientError, match="no-such-topic"):
        PubSubPublisher(gcp, "no-such-topic").send("{}")
