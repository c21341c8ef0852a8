"""The action catalogue: what Skyloop may do, with each action's parameters.

An action not in this catalogue is an ``UnknownAction`` (dead-lettered); an
action in it but not in the operator's allow-list is *refused* and audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import GuardrailViolation, UnknownAction


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScaleOutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: int | None = Field(default=None, ge=1, le=100)


class AbortCanaryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1)  # the canary judged bad: a later canary is left alone


@dataclass(frozen=True)
class ActionSpec:
    name: str
    destructive: bool
    params: type[BaseModel]
    description: str


CATALOGUE: dict[str, ActionSpec] = {
    a.name: a
    for a in (
        ActionSpec("scale_out", False, ScaleOutParams, "add replicas, within max bounds"),
        ActionSpec("clear_cache", False, _NoParams, "drop the service's cache"),
        ActionSpec("restart_service", True, _NoParams, "rolling restart of the service"),
        ActionSpec("rollback_deployment", True, _NoParams, "restore the previous production model version"),
        # not destructive: production keeps serving as it was; only the unproven candidate goes
        ActionSpec("abort_canary", False, AbortCanaryParams, "send the canary's traffic back to production, reject it"),
        ActionSpec("notify", False, _NoParams, "record for the on-call engineer; changes nothing"),
    )
}


def spec_for(action: str) -> ActionSpec:
    try:
        return CATALOGUE[action]
    except KeyError:
        raise UnknownAction(f"unknown remediation action {action!r}; known: {', '.join(sorted(CATALOGUE))}") from None


def validate_params(spec: ActionSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return spec.params.model_validate(dict(params)).model_dump(exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise GuardrailViolation(f"{spec.name}: bad parameter {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
