"""A Slack-compatible incoming webhook (Slack, Mattermost, Teams' Slack-compatible connectors): the
``text`` every client shows, and blocks for those that render them, with the commands as code."""

from __future__ import annotations

from typing import Any

from ..ports.notify import Notice
from .http import post_json

ICON = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:",
        "low": ":white_circle:", "info": ":information_source:"}


def message(notice: Notice) -> dict[str, Any]:
    icon = ":white_check_mark:" if notice.resolves else ICON.get(notice.severity, ":information_source:")
    lines = [f"{icon} *{notice.title}*"] + ([notice.text] if notice.text else [])
    lines += [f"`{c}`" for c in notice.commands]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[:2])}}]
    if notice.commands:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "\n".join(f"`{c}`" for c in notice.commands)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"skyloop · {notice.kind} · {notice.subject}"}]})
    return {"text": "\n".join(lines), "blocks": blocks}


class WebhookNotifier:
    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self._url, self.timeout = url, timeout

    def send(self, notice: Notice) -> None:
        post_json(self._url, message(notice), channel="the webhook", timeout=self.timeout)


__all__ = ["WebhookNotifier", "message"]
