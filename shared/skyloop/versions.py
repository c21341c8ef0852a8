"""A registered model version and its approval states: the record every registry adapter
returns and the rules for moving between states.

Apart from ``registry`` (which holds the gate and the approve use-case) so that the ports can
name these types without the registry and the ports importing each other.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import StateConflict

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
        """The primary metric as the version was evaluated (higher is better by construction): the
        CV mean for a model Skyloop trained; for one a cloud service trained and evaluated on its
        own test split (Vertex AutoML), that split's value."""
        name = self.primary_metric
        if name is None:
            return None
        return self.metrics.get(f"cv_{name}_mean", self.metrics.get(f"test_{name}"))

    @property
    def score_source(self) -> str:
        """Where ``score`` comes from, as the gate's record says it."""
        name = self.primary_metric
        return "CV" if name is None or f"cv_{name}_mean" in self.metrics else "test split"

    @property
    def managed(self) -> dict[str, Any] | None:
        """The cloud service that trained and serves this version itself (``{"service", "model",
        ...}``), or None: Skyloop's own artifact."""
        found = self.lineage.get("managed")
        return dict(found) if isinstance(found, dict) else None


__all__ = ["ALIASES", "TRANSITIONS", "ModelVersion", "Status", "check_transition"]
