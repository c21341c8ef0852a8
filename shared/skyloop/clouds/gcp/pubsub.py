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
from .config import GcpSettings

REASON_ATTR = "skyloop-dead-letter-reason"
PUBLISH_TIMEOUT = 30.0


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
