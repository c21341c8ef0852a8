"""PagerDuty's Events API v2: ``trigger`` when something needs a person (an incident opened, an
action held for approval, a runbook run out), ``resolve`` when verification resolves it, with the
subject as ``dedup_key`` so one incident is one PagerDuty alert from trigger to resolve. What needs
no person (a promotion, a version waiting) is not paged."""

from __future__ import annotations

from typing import Any

from ..ports.notify import PAGES, Notice
from .http import post_json

URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info"}


def event(notice: Notice, routing_key: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"routing_key": routing_key, "dedup_key": notice.subject[:255],
                           "event_action": "resolve" if notice.resolves else "trigger"}
    if not notice.resolves:
        doc["payload"] = {"summary": notice.title[:1024], "source": "skyloop",
                          "severity": SEVERITY.get(notice.severity, "info"),
                          "custom_details": {"kind": notice.kind, "text": notice.text, "commands": notice.commands}}
    return doc


class PagerDutyNotifier:
    name = "pagerduty"

    def __init__(self, routing_key: str, *, url: str = URL, timeout: float = 5.0) -> None:
        self._key, self.url, self.timeout = routing_key, url, timeout

    def send(self, notice: Notice) -> None:
        if notice.kind not in PAGES:
            return
        post_json(self.url, event(notice, self._key), channel="PagerDuty", timeout=self.timeout)


__all__ = ["PagerDutyNotifier", "URL", "event"]
