"""The auto-approval gate: policy, so training's, not the registry's (which only keeps versions
and their states). Its knobs are ``config.ApprovalGate``; disabled by default, a person approves.
Enabled, a candidate is approved only if every check passes:

- with no production model: its CV score (and held-back score) reach ``min_score``;
- against production: CV beats production's CV by ``margin``, *and* on the held-back slice of the
  candidate's own data, scored for both models, the candidate beats production by
  ``holdout_margin`` (CV scores of different datasets are not comparable on their own: the slice is
  the like-for-like test), *and* no segment (level of a categorical feature) loses more than
  ``max_segment_drop``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..config import ApprovalGate
from ..versions import ModelVersion


class GateDecision(BaseModel):
    approve: bool
    reason: str
    checks: list[str] = Field(default_factory=list)  # every check made, passed or not, for the record


def decide(gate: ApprovalGate, candidate: ModelVersion, production: ModelVersion | None) -> GateDecision:
    """The gate's verdict on ``candidate`` against what serves production, with every check made."""
    if not gate.enabled:
        return GateDecision(approve=False, reason="gate disabled: manual approval required")
    cand, metric = candidate.score, candidate.primary_metric
    if cand is None:
        return GateDecision(approve=False, reason="candidate has no primary CV metric")
    held = candidate.lineage.get("holdout") or None
    checks: list[str] = []
    if production is None or production.score is None:
        if gate.min_score is None:
            return GateDecision(approve=False, reason="no production baseline and no min_score set")
        scores = {candidate.score_source: cand}
        if held and metric in held.get("candidate", {}):
            scores["held-back"] = held["candidate"][metric]
        for name, value in scores.items():
            ok = value >= gate.min_score
            checks.append(f"{name} {metric}={value:.4f} {'>=' if ok else '<'} min_score {gate.min_score:.4f}")
        return _verdict(checks, all(v >= gate.min_score for v in scores.values()))
    if metric != production.primary_metric:
        return GateDecision(approve=False, reason="candidate and production use different primary metrics")
    bar = production.score + gate.margin
    versus = "" if production.score_source == candidate.score_source else f" ({production.score_source})"
    checks.append(f"{candidate.score_source} {metric}={cand:.4f} {'>=' if cand >= bar else '<'} production "
                  f"v{production.version}{versus} {production.score:.4f} + margin {gate.margin:.4f}")
    ok = cand >= bar
    base = (held or {}).get("baseline") or {}
    if held and base.get("version") == production.version and metric in base.get("metrics", {}):
        hc, hp = held["candidate"][metric], base["metrics"][metric]
        h_ok = hc >= hp + gate.holdout_margin
        checks.append(f"held-back {metric} on {held['rows']} rows: {hc:.4f} {'>=' if h_ok else '<'} production "
                      f"{hp:.4f} + margin {gate.holdout_margin:.4f}")
        ok = ok and h_ok
        for feature, levels in (held.get("segments") or {}).items():
            for level, seg in levels.items():
                if seg["candidate"] is None or seg["baseline"] is None:
                    continue
                drop = seg["baseline"] - seg["candidate"]
                if drop > gate.max_segment_drop:
                    checks.append(f"segment {feature}={level} ({seg['rows']} rows): {metric} drops {drop:.4f} "
                                  f"> {gate.max_segment_drop:.4f}")
                    ok = False
        if ok:
            checks.append(f"no segment drops more than {gate.max_segment_drop:.4f}")
    elif gate.require_holdout:
        why = (held or {}).get("baseline_skipped") or "no held-back slice was kept"
        if base and base.get("version") != production.version:
            why = f"the slice was scored against v{base.get('version')}, production is now v{production.version}"
        checks.append(f"held-back comparison unavailable ({why}): manual approval")
        ok = False
    return _verdict(checks, ok)

def _verdict(checks: list[str], ok: bool) -> GateDecision:
    return GateDecision(approve=ok, reason=("approved: " if ok else "refused: ") + "; ".join(checks), checks=checks)


__all__ = ["GateDecision", "decide"]
