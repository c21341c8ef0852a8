"""The serving policy's pieces: smoke rows and checks, the canary's bake state, and the
actions remediation takes on a live model (abort a canary, roll production back).

Pure policy over the ``Deployer`` and ``ModelRegistry`` ports. The rollout itself (staging ->
smoke test -> canary -> production, or abort) is a sequence of steps in ``rollout.py``. Every
change is logged in the deployment history, which RCA reads to answer "did production change
just before this incident?".
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Mapping, Sequence

from ..errors import DeploymentFailed, SkyloopError
from ..ports import Clock, Deployer, KeyValueStore, ModelRegistry
from ..versions import ModelVersion, Status
from .history import record_deployment

log = logging.getLogger("skyloop.deployment")


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


CanaryCheck = Callable[[str, int], str | None]


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


def canary_probe(version: ModelVersion, deployer: Deployer, n: int, max_error_rate: float) -> str | None:
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
