"""Pub/Sub: the ``EventPublisher`` (domain events on the events topic, with their type as an
attribute so a subscription can filter), remediation requests on their own topic (its
subscription carries the dead-letter policy), and the dead-letter topic for events that can
never succeed, each with its reason.

Delivery is Eventarc's: each function is a push target of its topic's trigger, so a function
never pulls. A message is published once per call; the publisher's own retries cover transient
errors, and a publish that still fails is a ``TransientError`` (the function's retry policy
redelivers the event that caused it).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from ...errors import TransientError
from ...ports import DeadLetter, Message
from .config import GcpSettings

REASON_ATTR = "skyloop-dead-letter-reason"
PUBLISH_TIMEOUT = 30.0
PULL_TIMEOUT = 5.0  # an empty subscription answers a pull only at its deadline


@lru_cache(maxsize=None)
def publisher_client() -> Any:
    """One client per process. With PUBSUB_EMULATOR_HOST set it talks to the emulator."""
    from google.cloud.pubsub_v1 import PublisherClient  # lazy: the core never imports google

    return PublisherClient()


class PubSubPublisher:
    """Publishes bodies to one topic; ``publish`` takes a domain event, ``send`` a raw body."""

    def __init__(self, gcp: GcpSettings, topic: str, client: Any = None) -> None:
        self.client = client or publisher_client()
        self.topic = self.client.topic_path(gcp.project, topic)

    def _publish(self, data: bytes, **attributes: str) -> str:
        try:
            message_id: str = self.client.publish(self.topic, data, **attributes).result(timeout=PUBLISH_TIMEOUT)
        except Exception as exc:
            # transient even for a missing topic or permission: that is the operator's to fix, and
            # retrying keeps the event that caused the publish until it is fixed, where dropping would lose it
            raise TransientError(f"Pub/Sub publish to {self.topic} failed: {type(exc).__name__}: {str(exc)[:200]}") from None
        return message_id

    def publish(self, event: Any) -> str:
        kind = str(getattr(event, "type", type(event).__name__))
        self._publish(event.model_dump_json().encode(), type=kind, event_id=str(event.event_id))
        return str(event.event_id)

    def send(self, body: str, message_id: str | None = None) -> str:
        """A remediation request (JSON) on its topic; ``message_id`` rides as an attribute for logs."""
        return self._publish(body.encode(), **({"request_id": message_id} if message_id else {}))


def dead_letter_event(gcp: GcpSettings, raw: object, error: BaseException, function: str, client: Any = None) -> str:
    """Park an event that can never succeed (bad CSV, unknown version ...) with its reason."""
    reason = str(error).encode()[:1000].decode(errors="ignore")  # an attribute value holds 1,024 bytes
    body = json.dumps({"function": function, "error": getattr(error, "code", type(error).__name__), "reason": reason,
                       "event": raw}, default=str)
    # Pub/Sub takes 10 MB a message; the event is cut well below it, the reason never is
    return PubSubPublisher(gcp, gcp.dead_letter_topic, client)._publish(
        body.encode()[:1_000_000], **{REASON_ATTR: reason, "function": function})


@lru_cache(maxsize=None)
def subscriber_client() -> Any:
    from google.cloud.pubsub_v1 import SubscriberClient  # lazy

    return SubscriberClient()


class PubSubQueue:
    """The remediation ``Queue`` on Pub/Sub. ``send`` publishes to the remediation topic, whose
    Eventarc trigger pushes each message to the remediate function (retried, then dead-lettered
    by the subscription's policy). The pull side (receive, ack, nack, dead letters) is for an
    operator's tools and the tests, on pull subscriptions of the remediation and dead-letter
    topics (``remediation_subscription``, ``dead_letter_subscription``). Pub/Sub reports no depth:
    ``depth`` is -1 (the backlog is Cloud Monitoring's ``num_undelivered_messages``)."""

    def __init__(self, gcp: GcpSettings, *, publisher: Any = None, subscriber: Any = None, topic: str | None = None,
                 subscription: str | None = None) -> None:
        self.gcp = gcp
        self.subscription = subscription or gcp.remediation_subscription
        self.topic = PubSubPublisher(gcp, topic or gcp.remediation_topic, publisher)
        self.dead = PubSubPublisher(gcp, gcp.dead_letter_topic, publisher)
        self._subscriber = subscriber

    @property
    def subscriber(self) -> Any:
        if self._subscriber is None:
            self._subscriber = subscriber_client()
        return self._subscriber

    def _sub(self, name: str) -> str:
        return str(self.subscriber.subscription_path(self.gcp.project, name))

    def send(self, body: str, message_id: str | None = None) -> str:
        return self.topic.send(body, message_id)

    def receive(self, max_messages: int = 10, visibility_timeout: float = 30.0) -> list[Message]:
        sub = self._sub(self.subscription)
        got = self.subscriber.pull(request={"subscription": sub, "max_messages": max_messages}, timeout=PULL_TIMEOUT)
        out = []
        for r in got.received_messages:
            if visibility_timeout != 10:  # the subscription's ack deadline is the default "visibility"
                self.subscriber.modify_ack_deadline(request={"subscription": sub, "ack_ids": [r.ack_id],
                                                             "ack_deadline_seconds": max(10, min(600, int(visibility_timeout)))})
            out.append(Message(r.message.message_id, r.message.data.decode(), r.ack_id, max(1, int(r.delivery_attempt or 1))))
        return out

    def ack(self, message: Message) -> None:
        self.subscriber.acknowledge(request={"subscription": self._sub(self.subscription),
                                             "ack_ids": [message.receipt]})

    def nack(self, message: Message, delay: float = 0.0) -> None:
        self.subscriber.modify_ack_deadline(request={"subscription": self._sub(self.subscription),
                                                     "ack_ids": [message.receipt], "ack_deadline_seconds": int(delay)})

    def dead_letter(self, message: Message, reason: str) -> None:
        self.dead._publish(json.dumps({"function": "remediate", "error": "dead_letter", "reason": reason[:1000],
                                       "event": message.body, "message_id": message.message_id}).encode(),
                           **{REASON_ATTR: reason[:1000], "function": "remediate"})
        self.ack(message)

    def dead_letters(self) -> list[DeadLetter]:
        """What the dead-letter subscription holds, left there (pulled, then handed straight back)."""
        sub = self._sub(self.gcp.dead_letter_subscription)
        got = self.subscriber.pull(request={"subscription": sub, "max_messages": 100}, timeout=PULL_TIMEOUT)
        out = []
        for r in got.received_messages:
            attrs = dict(r.message.attributes)
            reason = attrs.get(REASON_ATTR) or "delivery attempts exhausted"
            count = int(attrs.get("CloudPubSubDeadLetterSourceDeliveryCount") or 0)
            try:
                doc = json.loads(r.message.data)
            except ValueError:
                doc = None
            body = doc.get("event") if isinstance(doc, dict) and REASON_ATTR in attrs else r.message.data.decode()
            out.append(DeadLetter(r.message.message_id, json.dumps(body) if not isinstance(body, str) else body,
                                  reason, count))
        if got.received_messages:
            self.subscriber.modify_ack_deadline(request={"subscription": sub, "ack_deadline_seconds": 0,
                                                         "ack_ids": [r.ack_id for r in got.received_messages]})
        return out

    def depth(self) -> int:
        return -1
