"""What an action does to a target, decided in the core: executors only carry out primitives.

A plan is the absolute end state an action aims at (``replicas 2 -> 4`` is "set 4", not "add
2"), so re-applying it after a crash changes nothing. The replica bound lives here, once, for
every cloud; so do the model actions (rollback, abort a canary), which go through the registry
and the deployer rather than through any executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import GuardrailViolation, UnknownAction

if TYPE_CHECKING:
    from ..config import GuardrailSettings

INFRASTRUCTURE = ("scale_out", "restart_service", "clear_cache")
MODEL = ("rollback_deployment", "abort_canary")


@dataclass(frozen=True)
class Plan:
    action: str
    detail: str
    primitive: str | None  # set_replicas | restart | clear_cache | rollback | abort_canary | None (notify)
    args: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)  # the fields of describe() it sets

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "detail": self.detail, "primitive": self.primitive, "args": self.args,
                "after": self.after}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Plan":
        return cls(str(doc["action"]), str(doc["detail"]), doc.get("primitive"), dict(doc.get("args") or {}),
                   dict(doc.get("after") or {}))


def plan(action: str, target: str, before: Mapping[str, Any], params: Mapping[str, Any],
         policy: "GuardrailSettings") -> Plan:
    """The plan for ``action`` on a target whose current state is ``before`` (the executor's
    ``describe``, whose ``actions`` lists the infrastructure primitives the target supports)."""
    if action == "notify":
        return Plan(action, f"on-call notified about {target}", None)
    if action in MODEL:
        group = before.get("model_group")
        if not group:
            raise GuardrailViolation(f"{target} serves no model")
        if action == "rollback_deployment":
            return Plan(action, f"roll back {group} from v{before.get('model_version')}", "rollback",
                        {"group": group, "from": before.get("model_version")})
        return Plan(action, f"abort the canary of {group}", "abort_canary",
                    {"group": group, "version": params.get("version")})
    if action not in INFRASTRUCTURE:
        raise UnknownAction(f"no plan for {action!r}")
    supported = before.get("actions", INFRASTRUCTURE)
    if action not in supported:
        raise UnknownAction(f"{target} ({before.get('kind', 'target')}) supports {', '.join(supported) or 'no infrastructure action'}"
                            f"; {action} is for its own autoscaling or an operator")
    replicas = int(before.get("replicas", 0))
    if action == "scale_out":
        new = min(replicas + int(params.get("step") or policy.scale_step), policy.max_replicas)
        if new <= replicas:
            raise GuardrailViolation(f"{target} is at max replicas ({replicas})")
        return Plan(action, f"replicas {replicas} -> {new}", "set_replicas", {"replicas": new}, {"replicas": new})
    if action == "restart_service":
        return Plan(action, f"rolling restart of {replicas} replicas", "restart")
    return Plan(action, "cache cleared", "clear_cache")


__all__ = ["INFRASTRUCTURE", "MODEL", "Plan", "plan"]
