"""Judging a baking canary with the service's own detector.

The detector of a model-serving service has learned what production normally looks like
(requests, error rate, latency, the predictions' mean). A canary's records are scored
against that normal *without being learned*: a canary must not teach the baseline its
own faults. An incident in the canary's records is attributed to the new version only
when production's records over the same minutes are normal; when both deviate, the
cause is shared (load, a dependency) and the ordinary incident path handles it.

Attributed: one ``abort_canary`` request through the remediation queue (guardrails and
audit as for any action). Clean for the whole bake, with enough minutes of canary
traffic seen: a ``CanaryPassed`` event on the event channel, and the deploy handler
promotes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..serving.deployment import canary_state, save_canary_state
from ..errors import NotFound
from ..events import AnomalyFound, CanaryPassed, MetricRecord, RemediationRequested, RootCause
from .rca import rank_causes
from .base import lower_bound
from .incidents import find_runs, is_incident

if TYPE_CHECKING:
    from ..config import Settings
    from ..ports import ActionExecutor, EventPublisher, KeyValueStore, Queue

log = logging.getLogger("skyloop.canary")
# A canary gets a share of the traffic, so its volume is lower by design: volume metrics
# are not evidence against it (SageMaker's Invocations, Skyloop's requests).
VOLUME_HINTS = ("request", "invocation", "calls")


@dataclass
class CanaryVerdict:
    status: str  # "no_canary" | "baking" | "aborting" | "passed" | "no_baseline"
    version: int | None = None
    anomaly: AnomalyFound | None = None
    request: RemediationRequested | None = None
    observed_minutes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "version": self.version, "observed_minutes": self.observed_minutes,
                "request": None if self.request is None else self.request.request_id}


def _matrix(records: Sequence[MetricRecord], columns: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[r.values.get(c, np.nan) if c else np.nan for c in columns] for r in records], dtype=float)
    return X.reshape(len(records), len(columns)), np.array([r.timestamp.timestamp() for r in records])


def _scores(det: Any, X: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if det.tags.streaming:  # time-aware detectors take the timestamps for their daily profile
        return np.asarray(det.score(X, ts), float), np.asarray(det.zscores(X, ts), float)
    return np.asarray(det.score(X), float), np.asarray(det.zscores(X), float)


def judge_canary(
    service: str,
    canary: Sequence[MetricRecord],
    production: Sequence[MetricRecord],
    det: Any,
    *,
    settings: "Settings",
    kv: "KeyValueStore",
    topology: "ActionExecutor",
    remediation: "Queue",
    events: "EventPublisher | None",
) -> CanaryVerdict:
    cfg = settings.detection
    try:
        group = topology.describe(service).get("model_group")
    except NotFound:
        group = None
    state = canary_state(kv, group) if group else None
    if state is None or not group:
        log.info("canary records but no canary is baking", extra={"service": service, "rows": len(canary)})
        return CanaryVerdict("no_canary")
    version = int(state["version"])
    records = sorted(canary, key=lambda r: r.timestamp)
    minutes = sorted({int(r.timestamp.timestamp() // 60) for r in records} | set(state.get("observed", [])))
    state["observed"] = minutes[-10000:]
    verdict = CanaryVerdict("baking", version, observed_minutes=len(minutes))
    shared = False  # a deviation seen on both variants: this batch cannot vouch for the canary
    columns = list(getattr(det, "columns_", []) or [])
    if columns and getattr(det, "fitted_", False):
        judged = [c if not any(h in c.lower() for h in VOLUME_HINTS) else None for c in columns]
        X, ts = _matrix(records, judged)
        scores, z = _scores(det, X, ts)
        # production over the same minutes, judged on the same metrics (its volume drops by the split)
        PX, pts = _matrix(production, judged)
        prod_scores = _scores(det, PX, pts)[0] if len(production) else np.zeros(0)
        prod_hot = [float(t) for t, sc in zip(pts, prod_scores) if sc >= lower_bound(cfg.min_severity)]
        for run in find_runs(scores, cfg.merge_gap_rows):
            if not is_incident(run, cfg.min_incident_rows, cfg.min_severity):
                continue
            a, b = float(ts[run.start]), float(ts[run.end])
            if any(a - 60.0 <= t <= b + 60.0 for t in prod_hot):
                log.info("canary and production deviate together: not the new version's doing",
                         extra={"service": service, "version": version})
                shared = True
                continue
            verdict.status = "aborting"
            verdict.anomaly, verdict.request = _attribute(service, group, state, records, run, z, columns, settings)
            remediation.send(verdict.request.model_dump_json(), message_id=verdict.request.request_id)
            kv.put(f"anomaly:{verdict.anomaly.anomaly_id}", verdict.anomaly.model_dump_json().encode())
            log.warning("canary deviates from production's normal", extra={
                "service": service, "model_group": group, "version": version,
                "metrics": verdict.anomaly.deviating_metrics})
            break
    else:
        verdict.status = "no_baseline"
    latest = max(r.timestamp.timestamp() for r in records)
    if verdict.status in ("baking", "no_baseline") and not shared and latest >= state["until"] \
            and len(minutes) >= int(state.get("min_minutes", 1)):
        passed = CanaryPassed(event_id=f"canary-passed:{group}:{version}", model_group=str(group), version=version,
                              observed_minutes=len(minutes),
                              detail="no anomaly against production's normal" if verdict.status == "baking"
                              else "no warm baseline: judged by its probes only")
        if events is not None:
            events.publish(passed)
        verdict.status = "passed"
    save_canary_state(kv, str(group), state)
    return verdict


def _attribute(service: str, group: str, state: dict[str, Any], records: list[MetricRecord], run: Any, z: np.ndarray,
               columns: list[str], settings: "Settings") -> tuple[AnomalyFound, RemediationRequested]:
    cfg = settings.detection
    version, previous = int(state["version"]), state.get("previous")
    seg = z[run.start : run.end + 1]
    ranked = rank_causes(seg, columns, threshold=cfg.z_threshold)
    absmax = np.nanmax(np.abs(seg), axis=0)
    deviating = [columns[j] for j in np.argsort(-absmax) if absmax[j] > cfg.z_threshold]
    why = (f"canary v{version} deviates from production v{previous}'s normal on {', '.join(deviating) or 'its metrics'} "
           f"while production does not: abort the canary")
    causes = [RootCause(metric=c.metric, confidence=c.confidence, evidence=c.evidence, recommendation=why,
                        action="abort_canary") for c in ranked[:5]]
    anomaly_id = f"{service}-canary-v{version}-{records[run.start].timestamp.strftime('%Y%m%dT%H%M%SZ')}"
    anomaly = AnomalyFound(
        event_id=f"anomaly:{anomaly_id}:{run.end}", anomaly_id=anomaly_id, service=service,
        start=records[run.start].timestamp, end=records[run.end].timestamp,
        peak_score=round(min(max(run.peak, 0.0), 1.0), 6), severity=run.severity, deviating_metrics=deviating,
        causes=causes, rows=run.end - run.start + 1,
    )
    request = RemediationRequested(
        event_id=f"request:{anomaly_id}:abort_canary", request_id=f"{group}:canary-v{version}:abort_canary",
        action="abort_canary", target=service, severity=run.severity, reason=why, anomaly_id=anomaly_id,
        params={"version": version},
    )
    return anomaly, request
