"""Trigger: a model version was approved, or a baking canary passed.

Both start the rollout's steps (``serving/rollout.py``): on the cloud's workflow engine when the
adapters have one (``adapters.rollouts``), else here, to their end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DeploymentFailed, ForeignModel
from ..events import CanaryPassed, ModelVersionApproved
from ..ports.registry import Status
from ..serving.rollout import RolloutContext, complete_canary, execution_name, promotion_state, rollout, start_state
from ..once import once

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_model_approved(event: ModelVersionApproved, adapters: "Adapters") -> dict[str, Any]:
    """The idempotency key is the *request* (the event's id), not the version: a redelivered
    approval has one effect, while a new request (``skyloop deploy``, going back to an older
    APPROVED version, redeploying production) runs the rollout again. The version's status is
    checked before the key, so a REJECTED version is refused even if it was deployed before."""
    try:
        version = adapters.registry.get(event.model_group, event.version)
    except ForeignModel as exc:  # another team's model in a shared registry: not ours, not an error
        return {"status": "ignored", "model_group": event.model_group, "version": event.version, "reason": exc.reason}
    if version.status != Status.APPROVED:
        raise DeploymentFailed(f"{event.model_group} v{event.version} is {version.status.value}, not APPROVED")

    def run() -> dict[str, Any]:
        if adapters.rollouts is not None:
            state = start_state(version, event.event_id)
            return adapters.rollouts.start(execution_name(state), state)
        return rollout(version, RolloutContext.of(adapters), request=event.event_id)

    return once(adapters.idempotency, f"deploy:{event.model_group}:{event.version}:{event.event_id}", run)


def on_canary_passed(event: CanaryPassed, adapters: "Adapters") -> dict[str, Any]:
    """The canary was no worse than production over its whole bake: promote it."""
    def run() -> dict[str, Any]:
        if adapters.rollouts is not None:
            state = promotion_state(event.model_group, event.version, event.event_id, after_bake=True)
            return adapters.rollouts.start(execution_name(state), state)
        detail = complete_canary(event.model_group, event.version, RolloutContext.of(adapters))
        return {"model_group": event.model_group, "version": event.version, "detail": detail,
                "observed_minutes": event.observed_minutes}

    return once(adapters.idempotency, f"canary-passed:{event.model_group}:{event.version}", run)
