"""Azure's own notification channel: each notice an event on the deployment's notifications topic
(Event Grid; a Logic App, a Teams workflow or an email action subscribes), ``Skyloop.Notice.<kind>``
with the notice as its data. The webhook URL and the PagerDuty key reach the notify app as Key Vault
references in its settings (infra/azure): in no template, setting value or log."""

from __future__ import annotations

from typing import Any

from ...errors import TransientError
from ...ports.notify import Notice
from .config import AzureSettings
from .eventgrid import publisher_client

EVENT_TYPE_PREFIX = "Skyloop.Notice."


class EventGridNotifier:
    name = "eventgrid"

    def __init__(self, azure: AzureSettings, client: Any = None) -> None:
        self.endpoint, self._client = azure.notifications_topic_endpoint, client

    def send(self, notice: Notice) -> None:
        from azure.eventgrid import EventGridEvent

        if self._client is None:
            self._client = publisher_client(self.endpoint)
        try:
            self._client.send(EventGridEvent(subject=f"skyloop/{notice.subject}", event_type=EVENT_TYPE_PREFIX + notice.kind,
                                             data=notice.model_dump(mode="json"), data_version="1.0", id=notice.key[:512]))
        except Exception as exc:  # the notice comes back from its queue until it is taken
            raise TransientError(f"Event Grid did not take the notice: {type(exc).__name__}") from None


__all__ = ["EventGridNotifier"]
