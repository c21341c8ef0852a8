"""The notify function on moto's server (issue 33): the schedule reads what the committed state
warrants and queues each notice once per channel; the notifications queue delivers them to a
Slack-compatible webhook and to PagerDuty (both a receiver on 127.0.0.1, their URL and routing key
read from Secrets Manager) and to the SNS topic. A channel answering 500 is retried by SQS (its
record in batchItemFailures) while the others are delivered. Every call is held to NotifyRole."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.receiver import Receiver

from .conftest import Aws, load_event
from .test_canary_on_sagemaker import sqs_event


def _channels(aws: Aws, monkeypatch: pytest.MonkeyPatch, rx: Receiver) -> str:
    """The template's notification resources, as the stack makes them; returns the topic's reading queue."""
    import common

    sqs, sns, secrets = aws.client("sqs"), aws.client("sns"), aws.client("secretsmanager")
    dlq = sqs.create_queue(QueueName="skyloop-notifications-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName="skyloop-notifications")["QueueUrl"]
    topic = sns.create_topic(Name="skyloop-notifications")["TopicArn"]
    reader = sqs.create_queue(QueueName="chatbot-stand-in")["QueueUrl"]
    reader_arn = sqs.get_queue_attributes(QueueUrl=reader, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=reader_arn, Attributes={"RawMessageDelivery": "true"})
    hook = secrets.create_secret(Name="skyloop/notifications/webhook", SecretString=rx.url("/hooks/T/B/x"))["ARN"]
    key = secrets.create_secret(Name="skyloop/notifications/pagerduty", SecretString="R0UTINGKEY")["ARN"]
    for k, v in {"SKYLOOP_AWS_NOTIFICATION_QUEUE_URL": queue, "SKYLOOP_AWS_NOTIFICATION_DLQ_URL": dlq,
                 "SKYLOOP_AWS_NOTIFICATION_TOPIC_ARN": topic, "SKYLOOP_AWS_WEBHOOK_SECRET_ARN": hook,
                 "SKYLOOP_AWS_PAGERDUTY_SECRET_ARN": key,
                 "SKYLOOP_NOTIFICATIONS__PAGERDUTY_URL": rx.url("/v2/enqueue")}.items():
        monkeypatch.setenv(k, v)
    common.reset()
    return reader


def _queued(aws: Aws) -> list[dict[str, Any]]:
    return aws.messages(f"{aws.endpoint}/123456789012/skyloop-notifications")


def test_the_on_call_is_told_of_an_incident_through_every_channel(aws: Aws, context: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import detect
    import notify

    fail_webhook = {"on": True}
    with Receiver(status=lambda path, n: 500 if path.startswith("/hooks") and fail_webhook["on"] else 200) as rx:
        reader = _channels(aws, monkeypatch, rx)
        assert detect.handler(load_event("firehose-metric-stream-transform.json"), context)["records"]
        schedule = load_event("eventbridge-scheduled-notify.json")
        out = notify.handler(schedule, context)
        assert out["status"] == "ok" and any(k.startswith("incident:") and k.endswith(":opened") for k in out["queued"])
        assert notify.handler(schedule, context)["queued"] == []  # the next minute's look: told once

        messages = _queued(aws)
        channels = sorted({json.loads(m["Body"])["channel"] for m in messages})
        assert channels == ["pagerduty", "sns", "webhook"]
        first = notify.handler(sqs_event(aws, messages), context)
        failed = {f["itemIdentifier"] for f in first["batchItemFailures"]}
        webhook_ids = {m["MessageId"] for m in messages if json.loads(m["Body"])["channel"] == "webhook"}
        assert failed == webhook_ids  # the webhook's 500s come back; PagerDuty and SNS are done

        fail_webhook["on"] = False
        again = notify.handler(sqs_event(aws, [m for m in messages if m["MessageId"] in failed]), context)
        assert again["batchItemFailures"] == []
        [opened] = [b for b in rx.bodies("/hooks/T/B/x") if "critical incident" in b["text"] or "incident" in b["text"]][:1]
        assert "top cause" in opened["text"] and "skyloop --cloud aws incidents --open" in opened["text"]
        [page] = [e for e in rx.bodies("/v2/enqueue") if e["event_action"] == "trigger"]
        assert page["routing_key"] == "R0UTINGKEY" and page["dedup_key"] == out["queued"][0].split(":")[1]
        told = [json.loads(m["Body"]) for m in aws.messages(reader)]
        assert any(t["kind"] == "incident_opened" for t in told)


def test_without_a_channel_the_schedule_looks_and_does_nothing(aws: Aws, context: Any) -> None:
    import notify

    assert notify.handler(load_event("eventbridge-scheduled-notify.json"), context) == {
        "status": "ignored", "reason": "no notification channel or queue configured"}
