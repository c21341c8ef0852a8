"""Domain events on an Event Grid custom topic (the ``EventPublisher``), and the dead-letter
queue for events that can never succeed.

A domain event goes out in the Event Grid schema as ``Skyloop.<type>`` with the event itself as
``data`` and its id as the Event Grid id, so a subscription filters by type (deploy takes
``Skyloop.ModelVersionApproved`` and ``Skyloop.CanaryPassed``) and a redelivery keeps its id.
The publisher authenticates with the function's managed identity (EventGrid Data Sender on the
topic): no access key is configured.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from ...errors import TransientError
from .config import AzureSettings
from .storage import queue_client

EVENT_TYPE_PREFIX = "Skyloop."


@lru_cache(maxsize=None)
def publisher_client(endpoint: str) -> Any:
    from azure.eventgrid import EventGridPublisherClient  # lazy: the core never imports azure

    from .storage import _credential

    return EventGridPublisherClient(endpoint, _credential())


class EventGridPublisher:
    """Domain events on the events topic; ``endpoint`` names another topic (the notifications one)."""

    def __init__(self, azure: AzureSettings, client: Any = None, *, endpoint: str | None = None,
                 setting: str = "SKYLOOP_AZURE_EVENTS_TOPIC_ENDPOINT") -> None:
        self.azure, self._client = azure, client
        self.endpoint = azure.events_topic_endpoint if endpoint is None else endpoint
        self.setting = setting

    @property
    def client(self) -> Any:
        if self._client is None:
            if not self.endpoint:
                raise TransientError(f"{self.setting} is not set: events have nowhere to go")
            self._client = publisher_client(self.endpoint)
        return self._client

    def send(self, subject: str, event_type: str, data: Any, event_id: str) -> None:
        """One event on the topic; any failure is transient: what caused it is redelivered until it works."""
        from azure.eventgrid import EventGridEvent

        try:
            self.client.send(EventGridEvent(subject=subject, event_type=event_type, data=data, data_version="1.0",
                                            id=event_id))
        except TransientError:
            raise
        except Exception as exc:
            raise TransientError(f"Event Grid publish failed: {type(exc).__name__}: {str(exc)[:200]}") from None

    def publish(self, event: Any) -> str:
        kind = str(getattr(event, "type", type(event).__name__))
        self.send(f"skyloop/{kind}", EVENT_TYPE_PREFIX + kind, json.loads(event.model_dump_json()), str(event.event_id))
        return str(event.event_id)


def dead_letter_event(azure: AzureSettings, raw: object, error: BaseException, function: str, client: Any = None) -> str:
    """Park an event that can never succeed (bad CSV, unknown version ...) with its reason."""
    reason = str(error)[:1000]
    body = json.dumps({"skyloop_dead_letter": True, "function": function,
                       "error": getattr(error, "code", type(error).__name__), "reason": reason, "event": raw}, default=str)
    q = client or queue_client(azure, azure.dead_letter_queue)
    sent = q.send_message(body[:60_000])  # a queue message holds 64 KiB
    return str(sent.id)
