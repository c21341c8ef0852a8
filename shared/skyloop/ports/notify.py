"""The Notifier port's contract: what a notice says and how a channel answers.

A notice is about one subject (an incident, a held request, a model version) in one state; its
``key`` names that pair, so a subject's state change is told once however often the loop looks at
it. ``subject`` is what a paging channel groups and resolves on (PagerDuty's ``dedup_key``). A
channel raises ``TransientError`` for what a retry may fix (a 5xx, a timeout, a 429) and a
permanent ``SkyloopError`` for what it cannot (a 4xx: a revoked webhook); the delivery rule does
the rest (retried with backoff, dead-lettered with the reason)."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["incident_opened", "action_held", "escalated", "incident_resolved", "canary_aborted",
               "version_promoted", "version_rolled_back", "version_pending", "dead_letters", "action_expired", "batch_failed",
               "training_failed"]
# what a person must act on: a paging channel opens (or resolves) an alert for these
PAGES: frozenset[str] = frozenset({"incident_opened", "action_held", "escalated", "incident_resolved"})


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1)  # subject and state: told once
    subject: str = Field(min_length=1)
    kind: Kind
    severity: str = "info"  # critical | high | medium | low | info
    title: str
    text: str = ""
    commands: list[str] = Field(default_factory=list)  # the exact commands a person runs next
    resolves: bool = False  # the subject is over (a paging channel resolves its alert)


@runtime_checkable
class Notifier(Protocol):
    name: str

    def send(self, notice: Notice) -> None: ...


__all__ = ["Kind", "Notice", "Notifier", "PAGES"]
