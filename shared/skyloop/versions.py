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
        """The CV mean of the primary metric (higher is better by construction)."""
        name = self.primary_metric
        return None if name is None else self.metrics.get(f"cv_{name}_mean")


__all__ = ["ALIASES", "TRANSITIONS", "ModelVersion", "Status", "check_transition"]
