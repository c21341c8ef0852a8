"""A registry that keeps a run mirror current: every status or alias change (an
approval, a promotion, a rollback, a rejection) wherever it happens in the loop is
followed by a sync of that group, so no use case has to remember to do it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ports import ModelRegistry
    from ..ports.registry import ModelVersion, Status
    from ..tracking.mlflow_mirror import MlflowMirror


class MirroredRegistry:
    """Delegates everything to ``inner``; registration is left to the training handler,
    which syncs once the gate has decided (so the run carries the decision)."""

    def __init__(self, inner: "ModelRegistry", mirror: "MlflowMirror") -> None:
        self.inner = inner
        self.mirror = mirror

    def set_status(self, group: str, version: int, status: "Status", *, actor: str, note: str = "") -> "ModelVersion":
        out = self.inner.set_status(group, version, status, actor=actor, note=note)
        self.mirror.try_sync(self.inner, group)
        return out

    def set_alias(self, group: str, alias: str, version: int | None) -> None:
        self.inner.set_alias(group, alias, version)
        self.mirror.try_sync(self.inner, group)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
