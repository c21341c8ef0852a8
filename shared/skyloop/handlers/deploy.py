"""Trigger: a model version was approved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..deployment import rollout
from ..events import ModelVersionApproved
from ._once import once

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_model_approved(event: ModelVersionApproved, adapters: "Adapters") -> dict[str, Any]:
    def run() -> dict[str, Any]:
        version = adapters.registry.get(event.model_group, event.version)
        return rollout(
            version, deployer=adapters.deployer, registry=adapters.registry, kv=adapters.kv,
            clock=adapters.clock, settings=adapters.settings,
        ).to_dict()

    return once(adapters.idempotency, f"deploy:{event.model_group}:{event.version}", run)
