"""Azure's own notification channel: each notice an event on the deployment's notifications topic
(Event Grid; a Logic App, a Teams workflow or an email action subscribes), ``Skyloop.Notice.<kind>``
with the notice as its data. The webhook URL and the PagerDuty key reach the notify app as Key Vault
references in its settings (infra/azure): in no template, setting value or log."""

from __future__ import annotations

from typing import Any

from ...ports.notify import Notice
from .config import AzureSettings
from .eventgrid import EventGridPublisher

EVENT_TYPE_PREFIX = "Skyloop.Notice."


class EventGridNotifier:
    name = "eventgrid"

    def __init__(self, azure: AzureSettings, client: Any = None) -> None:
        self.topic = EventGridPublisher(azure, client, endpoint=azure.notifications_topic_endpoint,
                                        setting="SKYLOOP_AZURE_NOTIFICATIONS_TOPIC_ENDPOINT")

    def send(self, notice: Notice) -> None:
        self.topic.send(f"skyloop/{notice.subject}", EVENT_TYPE_PREFIX + notice.kind, notice.model_dump(mode="json"),
                        notice.key[:512])


__all__ = ["EventGridNotifier"]
