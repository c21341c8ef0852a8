"""EventBridge: where Skyloop's domain events go on AWS (the ``EventPublisher`` port)."""

from __future__ import annotations

from typing import Any

from ...errors import TransientError
from .config import AwsSettings
from .session import client


class EventBridgeBus:
    """The AWS ``EventPublisher``: domain events (``ModelVersionApproved`` ...) put on EventBridge.

    EventBridge pushes to rule targets: the deploy function is the rule's target, and
    undeliverable events land in the rule target's own DLQ (SAM template)."""

    source = "skyloop"

    def __init__(self, aws: AwsSettings) -> None:
        self.bus = aws.event_bus
        self.events = client("events", aws)

    def publish(self, event: Any) -> str:
        body = event.model_dump_json()
        res = self.events.put_events(Entries=[{
            "Source": self.source, "DetailType": str(getattr(event, "type", type(event).__name__)), "Detail": body,
            "EventBusName": self.bus}])
        if res.get("FailedEntryCount"):
            entry = res["Entries"][0]
            raise TransientError(f"EventBridge refused the event: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
        return str(event.event_id or res["Entries"][0]["EventId"])
