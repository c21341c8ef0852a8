"""What the remediation use-case knows of a target: the executor's own description (its
primitives' view: kind, replicas, the actions it supports, the model group it serves) completed
with what is the core's to say, the guardrails' replica ceiling and the version production serves.
An executor stays the set of primitives ``ActionExecutor`` promises; it never reads the registry
or the policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..ports.registry import production_version

if TYPE_CHECKING:
    from ..config import GuardrailSettings
    from ..ports import ActionExecutor, ModelRegistry


def target_state(executor: "ActionExecutor", target: str, *, registry: "ModelRegistry",
                 policy: "GuardrailSettings") -> dict[str, Any]:
    out = dict(executor.describe(target))  # NotFound -> the caller's dead letter
    if "replicas" in out:  # a target Skyloop scales: the ceiling the plans keep (a simulated one has its own)
        out.setdefault("max_replicas", policy.max_replicas)
    group = out.get("model_group")
    if group:
        out["model_version"] = production_version(registry, group)
    return out


__all__ = ["target_state"]
