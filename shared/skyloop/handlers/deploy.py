"""Trigger: a model version was approved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..deployment import complete_canary, rollout
from ..events import CanaryPassed, ModelVersionApproved
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


def on_canary_passed(event: CanaryPassed, adapters: "Adapters") -> dict[str, Any]:
    """The detector saw the canary's whole bake within production's normal: promote it."""
    def run() -> dict[str, Any]:
        a = adapters
        detail = complete_canary(event.model_group, event.version, deployer=a.deployer, registry=a.registry,
                                 kv=a.kv, clock=a.clock)
        return {"model_group": event.model_group, "version": event.version, "detail": detail,
                "observed_minutes": event.observed_minutes}

    return once(adapters.idempotency, f"canary-passed:{event.model_group}:{event.version}", run)
