"""Trigger: a model version was approved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..serving.deployment import DeploymentFailed, complete_canary, rollout
from ..events import CanaryPassed, ModelVersionApproved
from ..registry import Status
from ._once import once

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_model_approved(event: ModelVersionApproved, adapters: "Adapters") -> dict[str, Any]:
    """The idempotency key is the *request* (the event's id), not the version: a redelivered
    approval has one effect, while a new request (``skyloop deploy``, going back to an older
    APPROVED version, redeploying production) runs the rollout again. The version's status is
    checked before the key, so a REJECTED version is refused even if it was deployed before."""
    version = adapters.registry.get(event.model_group, event.version)
    if version.status != Status.APPROVED:
        raise DeploymentFailed(f"{event.model_group} v{event.version} is {version.status.value}, not APPROVED")

    def run() -> dict[str, Any]:
        return rollout(
            version, deployer=adapters.deployer, registry=adapters.registry, kv=adapters.kv,
            clock=adapters.clock, settings=adapters.settings,
        ).to_dict()

    return once(adapters.idempotency, f"deploy:{event.model_group}:{event.version}:{event.event_id}", run)


def on_canary_passed(event: CanaryPassed, adapters: "Adapters") -> dict[str, Any]:
    """The detector saw the canary's whole bake within production's normal: promote it."""
    def run() -> dict[str, Any]:
        a = adapters
        detail = complete_canary(event.model_group, event.version, deployer=a.deployer, registry=a.registry,
                                 kv=a.kv, clock=a.clock)
        return {"model_group": event.model_group, "version": event.version, "detail": detail,
                "observed_minutes": event.observed_minutes}

    return once(adapters.idempotency, f"canary-passed:{event.model_group}:{event.version}", run)
