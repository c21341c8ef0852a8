"""Model versions, their approval states, aliases and the auto-approval gate.

The registry is the single source of truth for what may be deployed: a version's
artifact sha256 is recorded at registration and checked at every load, and the
``production`` alias history is what ``rollback_deployment`` walks back along.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import StateConflict

if TYPE_CHECKING:
    from .events import ModelVersionApproved
    from .ports import ModelRegistry as ModelRegistryPort
    from .ports import Queue as QueuePort

ALIASES = ("staging", "canary", "production")


class Status(str, Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ARCHIVED = "ARCHIVED"


# Allowed transitions. ARCHIVED -> APPROVED lets an operator bring back an old
# version deliberately; REJECTED is terminal so a known-bad model stays out.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.APPROVED, Status.REJECTED, Status.ARCHIVED}),
    Status.APPROVED: frozenset({Status.REJECTED, Status.ARCHIVED}),
    Status.ARCHIVED: frozenset({Status.APPROVED}),
    Status.REJECTED: frozenset(),
}


def check_transition(current: Status, new: Status) -> None:
    if new == current:
        return
    if new not in TRANSITIONS[current]:
        raise StateConflict(f"cannot move a model version from {current.value} to {new.value}")


class ModelVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    version: int
    status: Status
    artifact_uri: str
    artifact_sha256: str
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime

    @property
    def primary_metric(self) -> str | None:
        return self.lineage.get("primary_metric")

    @property
    def score(self) -> float | None:
        """The CV mean of the primary metric (higher is better by construction)."""
        name = self.primary_metric
        return None if name is None else self.metrics.get(f"cv_{name}_mean")


class GateDecision(BaseModel):
    approve: bool
    reason: str


class ApprovalGate(BaseModel):
    """Auto-approve a candidate whose CV score beats production by ``margin``.

    With no production model, ``min_score`` (if set) is the bar. Disabled by
    default: a human approves unless the operator opts into the gate.
    """

    enabled: bool = False
    margin: float = 0.0
    min_score: float | None = None

    def decide(self, candidate: ModelVersion, production: ModelVersion | None) -> GateDecision:
        if not self.enabled:
            return GateDecision(approve=False, reason="gate disabled: manual approval required")
        cand = candidate.score
        if cand is None:
            return GateDecision(approve=False, reason="candidate has no primary CV metric")
        if production is None or production.score is None:
            if self.min_score is None:
                return GateDecision(approve=False, reason="no production baseline and no min_score set")
            ok = cand >= self.min_score
            return GateDecision(
                approve=ok,
                reason=f"{candidate.primary_metric}={cand:.4f} {'>=' if ok else '<'} min_score {self.min_score:.4f}",
            )
        if candidate.primary_metric != production.primary_metric:
            return GateDecision(approve=False, reason="candidate and production use different primary metrics")
        bar = production.score + self.margin
        ok = cand >= bar
        return GateDecision(
            approve=ok,
            reason=(
                f"{candidate.primary_metric}={cand:.4f} {'>=' if ok else '<'} production "
                f"v{production.version} {production.score:.4f} + margin {self.margin:.4f}"
            ),
        )


def approve(registry: "ModelRegistryPort", events: "QueuePort", group: str, version: int, *, actor: str, note: str = "") -> "ModelVersionApproved":
    """Approve a version and emit ``ModelVersionApproved`` on the event channel.

    The event id is derived from (group, version), so approving twice (or a
    retried approval) emits one logical event that the deploy handler dedups.
    """
    from .events import ModelVersionApproved

    registry.set_status(group, version, Status.APPROVED, actor=actor, note=note)
    event = ModelVersionApproved(
        event_id=f"approved:{group}:{version}", model_group=group, version=version, approved_by=actor
    )
    events.send(event.model_dump_json(), message_id=event.event_id)
    return event
