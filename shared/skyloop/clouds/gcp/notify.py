"""Google Cloud's own notification channel: each notice published to the deployment's notifications
topic (its JSON, with kind and severity as attributes a subscription can filter on), for whatever
the team subscribes: a chat bridge, email through a function, another project's pipeline. The
webhook URL and the PagerDuty key reach the notify function as Secret Manager references in its
environment (infra/gcp): in no template, state file or log."""

from __future__ import annotations

from typing import Any

from ...ports.notify import Notice
from .config import GcpSettings
from .pubsub import PubSubPublisher


class PubSubNotifier:
    name = "pubsub"

    def __init__(self, gcp: GcpSettings, client: Any = None) -> None:
        self.topic = PubSubPublisher(gcp, gcp.notifications_topic, client)

    def send(self, notice: Notice) -> None:
        self.topic._publish(notice.model_dump_json().encode(), kind=notice.kind, severity=notice.severity)


__all__ = ["PubSubNotifier"]
