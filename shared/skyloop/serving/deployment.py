"""The rollout policy: staging -> smoke test -> canary -> production, or roll back.

Pure policy over the ``Deployer`` and ``ModelRegistry`` ports: the same steps
drive the local endpoint and (later) SageMaker variants. Every step is logged
in the deployment history, which RCA reads to answer "did production change
just before this incident?".
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from ..config import Settings
from ..errors import ArtifactIntegrityError, DeploymentFailed, SkyloopError
from .history import record_deployment
from ..ports import Clock, Deployer, KeyValueStore, ModelRegistry
from ..registry import ModelVersion, Status

log = logging.getLogger("skyloop.serving.deployment")


# ---- smoke rows ------------------------------------------------------------
def smoke_rows(lineage: Mapping[str, Any], n: int) -> list[dict[str, Any]]:
    """Rows that respect the training schema: medians, extremes and points between."""
    schema = lineage.get("schema") or {}
    numeric: dict[str, dict[str, Any]] = schema.get("numeric", {})
    categorical: dict[str, list[str]] = schema.get("categorical", {})
    rows = []
    for i in range(n):
        frac = [0.5, 0.0, 1.0, 0.25, 0.75][i % 5] if i < 5 else ((i * 0.618034) % 1.0)
        row: dict[str, Any] = {}
        for name in lineage.get("features", []):
            if name in categorical:
                levels = categorical[name]
                row[name] = levels[i % len(levels)]
            else:
                spec = numeric.get(name, {"min": 0.0, "max": 0.0, "median": 0.0})
                v = spec["median"] if frac == 0.5 else spec["min"] + frac * (spec["max"] - spec["min"])
                row[name] = int(round(v)) if spec.get("integer") else float(v)
        rows.append(row)
    return rows


def check_predictions(version: ModelVersion, preds: Sequence[Any], n: int) -> str | None:
    """None if the outputs look like this model's outputs; else why not."""
    if len(preds) != n:
        return f"expected {n} predictions, got {len(preds)}"
    if version.lineage.get("task") == "classification":
        classes = set(map(str, version.lineage.get("classes", [])))
        bad = [p for p in preds if str(p) not in classes]
        return f"predicted unknown class {bad[0]!r}" if bad else None
    bad = [p for p in preds if not isinstance(p, (int, float)) or not math.isfinite(p)]
    return f"non-finite prediction {bad[0]!r}" if bad else None


@dataclass
class RolloutOutcome:
    group: str
    version: int
    status: str  # "promoted" | "canary" (baking) | "rolled_back" | "redeployed"
    reason: str = ""
    steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model_group": self.group, "version": self.version, "status": self.status, "reason": self.reason, "steps": self.steps}


CanaryCheck = Callable[[str, int], str | None]


def rollout(
    version: ModelVersion,
    *,
    deployer: Deployer,
    registry: ModelRegistry,
    kv: KeyValueStore,
    clock: Clock,
    settings: "Settings",
    canary_check: CanaryCheck | None = None,
) -> RolloutOutcome:
    """Run the rollout for an APPROVED version. Raises ``DeploymentFailed`` after rolling back."""
    group, v = version.group, version.version
    out = RolloutOutcome(group, v, "promoted")
    if version.status != Status.APPROVED:
        raise DeploymentFailed(f"{group} v{v} is {version.status.value}, not APPROVED")
    current = registry.alias(group, "production")
    if current is not None and current.version == v:
        # asked again for the version that serves: put its verified artifact back in place
        # (an endpoint lost or edited by hand), with no canary against itself
        deployer.deploy(group, "production", version)
        deployer.set_traffic(group, {"production": 1.0})
        record_deployment(kv, group, {"kind": "redeployed", "version": v, "previous": v, "at": clock.now()})
        out.status, out.reason = "redeployed", f"v{v} already served production: redeployed in place"
        out.steps.append("production: redeployed (artifact sha256 verified)")
        return out
    dcfg = settings.deployment
    live = canary_state(kv, group)
    if live is not None and live["version"] != v:
        out.steps.append(f"replaces the baking canary v{live['version']}")
        record_deployment(kv, group, {"kind": "canary_superseded", "version": live["version"], "by": v, "at": clock.now()})
        save_canary_state(kv, group, None)
    step = "staging"
    try:
        deployer.deploy(group, "staging", version)  # verifies the artifact's sha256
        registry.set_alias(group, "staging", v)
        out.steps.append("staging: deployed (artifact sha256 verified)")
        step = "smoke"
        rows = smoke_rows(version.lineage, dcfg.smoke_rows)
        problem = check_predictions(version, deployer.predict(group, rows, slot="staging"), len(rows))
        if problem:
            raise DeploymentFailed(f"smoke test failed: {problem}")
        out.steps.append(f"staging: smoke test passed on {len(rows)} schema rows")
        if current is not None:
            step = "canary"
            weight = dcfg.canary_percent / 100.0
            deployer.deploy(group, "canary", version)
            deployer.set_traffic(group, {"production": 1.0 - weight, "canary": weight})
            registry.set_alias(group, "canary", v)
            out.steps.append(f"canary: {dcfg.canary_percent:g}% of traffic")
            problem = _canary_probe(version, deployer, dcfg.canary_requests, dcfg.max_canary_error_rate)
            if problem is None and canary_check is not None:
                problem = canary_check(group, v)
            if problem:
                raise DeploymentFailed(f"canary failed: {problem}")
            out.steps.append(f"canary: {dcfg.canary_requests} probe requests healthy")
            if dcfg.canary_bake_minutes > 0:
                # staging has done its job; on SageMaker it would hold an instance through the bake
                deployer.undeploy(group, "staging")
                registry.set_alias(group, "staging", None)
                start_bake(group, v, kv=kv, clock=clock, minutes=dcfg.canary_bake_minutes,
                           previous=current.version, min_minutes=dcfg.canary_min_minutes)
                out.status = "canary"
                out.steps.append(f"canary: baking {dcfg.canary_bake_minutes:g} min on live traffic, "
                                 "judged by the detector against production")
                return out
        step = "promote"
        promote(version, deployer=deployer, registry=registry, kv=kv, clock=clock, previous=current)
        out.steps.append("production: 100% of traffic")
        return out
    except SkyloopError as exc:
        _abort(group, deployer, registry, current)
        registry.set_status(group, v, Status.REJECTED, actor="deployment", note=f"{step}: {exc.reason}")
        record_deployment(kv, group, {"kind": "aborted", "version": v, "step": step, "reason": exc.reason, "at": clock.now()})
        log.warning("rollout aborted", extra={"model_group": group, "version": v, "step": step, "reason": exc.reason})
        if isinstance(exc, ArtifactIntegrityError):
            raise
        raise DeploymentFailed(f"{group} v{v} rolled back at {step}: {exc.reason}", step=step) from exc


def promote(version: ModelVersion, *, deployer: Deployer, registry: ModelRegistry, kv: KeyValueStore, clock: Clock,
            previous: ModelVersion | None, how: str = "promoted") -> None:
    """Make ``version`` serve all traffic and clear the candidate slots (after a canary or an A/B win)."""
    group, v = version.group, version.version
    deployer.deploy(group, "production", version)
    deployer.set_traffic(group, {"production": 1.0})
    deployer.undeploy(group, "canary")
    deployer.undeploy(group, "staging")
    registry.set_alias(group, "canary", None)
    registry.set_alias(group, "staging", None)
    registry.set_alias(group, "production", v)
    save_canary_state(kv, group, None)
    record_deployment(kv, group, {"kind": how, "version": v, "previous": None if previous is None else previous.version,
                                  "at": clock.now()})
    log.info(how, extra={"model_group": group, "version": v})


# ---- the canary's bake: live traffic judged by the detector --------------------------
def _canary_key(group: str) -> str:
    return f"canary:{group}"


def canary_state(kv: KeyValueStore, group: str) -> dict[str, Any] | None:
    """The live canary of ``group`` ({version, previous, since, until, min_minutes, observed}), if any."""
    import json

    raw = kv.get(_canary_key(group))
    return json.loads(raw) if raw else None


def save_canary_state(kv: KeyValueStore, group: str, state: Mapping[str, Any] | None) -> None:
    import json

    kv.put(_canary_key(group), json.dumps(state).encode() if state else b"null")


def start_bake(group: str, version: int, *, kv: KeyValueStore, clock: Clock, minutes: float, previous: int,
               min_minutes: int) -> dict[str, Any]:
    now = clock.now()
    state = {"version": version, "previous": previous, "since": now, "until": now + minutes * 60.0,
             "min_minutes": min_minutes, "observed": []}
    save_canary_state(kv, group, state)
    record_deployment(kv, group, {"kind": "canary_started", "version": version, "previous": previous, "at": now})
    return state


def complete_canary(group: str, version: int, *, deployer: Deployer, registry: ModelRegistry, kv: KeyValueStore,
                    clock: Clock) -> str:
    """Promote a canary that passed its bake; a no-op (with why) if it is no longer the live canary."""
    state = canary_state(kv, group)
    if state is None or state["version"] != version:
        return f"v{version} is not the live canary of {group}: nothing to promote"
    mv = registry.get(group, version)
    if mv.status != Status.APPROVED:
        save_canary_state(kv, group, None)
        return f"v{version} is {mv.status.value}: not promoted"
    promote(mv, deployer=deployer, registry=registry, kv=kv, clock=clock, previous=registry.alias(group, "production"))
    save_canary_state(kv, group, None)
    return f"v{version} promoted after its bake"


def abort_canary(group: str, version: int | None, *, deployer: Deployer, registry: ModelRegistry,
                 kv: KeyValueStore, clock: Clock, reason: str) -> tuple[bool, str]:
    """Traffic back on production, the canary version REJECTED. (changed, detail); a request
    for a canary that is no longer live (already aborted, promoted, replaced) changes nothing."""
    state = canary_state(kv, group)
    if state is None or (version is not None and state["version"] != version):
        return False, f"no live canary{'' if version is None else f' v{version}'} in {group}: nothing to abort"
    v = int(state["version"])
    _abort(group, deployer, registry, registry.alias(group, "production"))
    if registry.get(group, v).status != Status.REJECTED:
        registry.set_status(group, v, Status.REJECTED, actor="remediation", note=f"canary aborted: {reason}")
    save_canary_state(kv, group, None)
    record_deployment(kv, group, {"kind": "canary_aborted", "version": v, "previous": state.get("previous"),
                                  "reason": reason, "at": clock.now()})
    log.warning("canary aborted", extra={"model_group": group, "version": v, "reason": reason})
    return True, f"{group} canary v{v} aborted, all traffic on v{state.get('previous')}"


def abort_candidate(group: str, *, deployer: Deployer, registry: ModelRegistry) -> None:
    """Traffic back on production; the candidate's slots cleared."""
    _abort(group, deployer, registry, registry.alias(group, "production"))


def _canary_probe(version: ModelVersion, deployer: Deployer, n: int, max_error_rate: float) -> str | None:
    rows = smoke_rows(version.lineage, n)
    errors = 0
    try:
        preds = deployer.predict(version.group, rows, slot="canary")
        errors = 1 if check_predictions(version, preds, len(rows)) else 0
    except SkyloopError:
        errors = n
    rate = errors / n
    return f"error rate {rate:.1%} above {max_error_rate:.1%}" if rate > max_error_rate else None


def _abort(group: str, deployer: Deployer, registry: ModelRegistry, current: ModelVersion | None) -> None:
    """Put traffic back on production and clear the candidate's slots."""
    deployer.set_traffic(group, {"production": 1.0} if current is not None else {})
    for slot in ("canary", "staging"):
        deployer.undeploy(group, slot)
        registry.set_alias(group, slot, None)


def rollback_production(
    group: str,
    *,
    deployer: Deployer,
    registry: ModelRegistry,
    kv: KeyValueStore,
    clock: Clock,
    reason: str,
) -> tuple[int, int]:
    """Restore the previous production version; the bad one is REJECTED. Returns (from, to)."""
    current = registry.alias(group, "production")
    if current is None:
        raise DeploymentFailed(f"{group} has no production version to roll back")
    target: ModelVersion | None = None
    for v in reversed(registry.alias_history(group, "production")):
        if v == current.version:
            continue
        cand = registry.get(group, v)
        if cand.status == Status.APPROVED:
            target = cand
            break
    if target is None:
        raise DeploymentFailed(f"{group} has no earlier approved production version to roll back to")
    deployer.deploy(group, "production", target)
    deployer.set_traffic(group, {"production": 1.0})
    for slot in ("canary", "staging"):
        deployer.undeploy(group, slot)
        registry.set_alias(group, slot, None)
    registry.set_alias(group, "production", target.version)
    save_canary_state(kv, group, None)
    registry.set_status(group, current.version, Status.REJECTED, actor="remediation", note=reason)
    record_deployment(kv, group, {"kind": "rolled_back_to", "version": target.version, "previous": current.version, "at": clock.now()})
    return current.version, target.version
