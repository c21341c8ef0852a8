"""Judging a baking canary against production's records of the same minutes.

As Netflix's Kayenta does (twosample.py): every ``canary_window_minutes`` of the bake, the
canary's records are compared with production's records from the same minutes, metric by
metric. The comparison needs nothing learned, which is why it is the judge:

- a fault both variants share (load, a dependency) cancels out: the ordinary incident
  path handles it;
- a fault the detector has learned from an earlier incident still shows, because
  production does not have it now;
- a canary serving a tenth of the traffic has noisier minutes than production. A detector
  calibrated on production's minutes took that noise, and a model's small honest change
  in latency, for a fault (measured: a healthy SageMaker canary at +4% latency scored
  z = +6 against the likelihood detector's production normal).

A window is judged from five minutes on at every batch, so a broken canary is aborted
within minutes, and closed once it spans ``canary_window_minutes``. Production's records are
taken from the batches that carry the canary's (a metric stream, an alarm's read of the
endpoint and the local deployer deliver both variants together); a batch of production alone
does not look up whether a canary is baking, which would cost every detect call a read.

Worse: one ``abort_canary`` request through the remediation queue (guardrails and audit
as for any action). Clean for the whole bake, with enough minutes of canary traffic seen:
a ``CanaryPassed`` event on the event channel, and the deploy handler promotes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..serving.deployment import canary_state, save_canary_state
from ..errors import NotFound
from ..events import AnomalyFound, CanaryPassed, MetricRecord, RemediationRequested, RootCause, Severity
from ..incidents import Incidents
from .base import lower_bound
from .twosample import Comparison, compare

if TYPE_CHECKING:
    from ..config import Settings
    from ..ports import ActionExecutor, EventPublisher, KeyValueStore, Queue

log = logging.getLogger("skyloop.canary")
# A canary gets a share of the traffic, so its volume is lower by design: volume metrics
# are not evidence against it (SageMaker's Invocations, Skyloop's requests).
VOLUME_HINTS = ("request", "invocation", "calls")
LOOK_MINUTES = 5  # fewer canary minutes than this cannot bound a shift at 98%


@dataclass
class CanaryVerdict:
    status: str  # "no_canary" | "baking" | "aborting" | "passed" | "no_baseline" (no production records to compare)
    version: int | None = None
    anomaly: AnomalyFound | None = None
    request: RemediationRequested | None = None
    observed_minutes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "version": self.version, "observed_minutes": self.observed_minutes,
                "request": None if self.request is None else self.request.request_id}


def judge_canary(
    service: str,
    canary: Sequence[MetricRecord],
    production: Sequence[MetricRecord],
    *,
    settings: "Settings",
    kv: "KeyValueStore",
    topology: "ActionExecutor",
    remediation: "Queue",
    events: "EventPublisher | None",
) -> CanaryVerdict:
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
    baked = max(r.timestamp.timestamp() for r in records) >= state["until"]
    worse = _judge_window(state, records, production, settings, final=baked)
    if worse:
        verdict.status = "aborting"
        verdict.anomaly, verdict.request = _attribute(service, group, state, worse, settings)
        remediation.send(verdict.request.model_dump_json(), message_id=verdict.request.request_id)
        Incidents(kv).save(verdict.anomaly)
        log.warning("canary worse than production", extra={
            "service": service, "model_group": group, "version": version,
            "metrics": verdict.anomaly.deviating_metrics})
    elif baked and not state.get("compared"):
        verdict.status = "no_baseline"  # nothing was compared: no production records, or too few canary minutes
    if verdict.status in ("baking", "no_baseline") and baked and len(minutes) >= int(state.get("min_minutes", 1)):
        if verdict.status == "baking":
            detail = f"no worse than production over {state['compared']} minutes"
        elif state.get("window", {}).get("production"):
            detail = f"fewer than {LOOK_MINUTES} canary minutes to compare with production: judged by its probes only"
        else:
            detail = "no production records to compare with: judged by its probes only"
        passed = CanaryPassed(event_id=f"canary-passed:{group}:{version}", model_group=str(group), version=version,
                              observed_minutes=len(minutes), detail=detail)
        if events is not None:
            events.publish(passed)
        verdict.status = "passed"
    save_canary_state(kv, str(group), state)
    return verdict


def _is_volume(metric: str) -> bool:
    return any(h in metric.lower() for h in VOLUME_HINTS)


def _judge_window(state: dict[str, Any], canary: Sequence[MetricRecord], production: Sequence[MetricRecord],
                  settings: "Settings", *, final: bool) -> list[Comparison]:
    """The metrics on which the canary is worse than production over the open window.

    A window is looked at from ``LOOK_MINUTES`` on, and closed once it spans
    ``canary_window_minutes`` (or the bake is over). Closed minutes are not judged again, so
    a redelivered batch adds nothing. Repeated looks at a growing window raise the chance of
    a false abort a little; the tolerance keeps a look at noise from passing for a regression."""
    d = settings.deployment
    window = state.setdefault("window", {"canary": {}, "production": {}})
    closed = float(state.get("judged_until", 0.0))
    for side, recs in (("canary", canary), ("production", production)):
        for r in recs:
            t = r.timestamp.timestamp()
            if t >= closed:
                window[side][str(int(t))] = {k: v for k, v in r.values.items()
                                             if not _is_volume(k) and math.isfinite(v)}
    times = sorted(float(t) for t in window["canary"])
    span = len({int(t // 60) for t in times})
    if span < LOOK_MINUTES:
        return []
    a, b = times[0], times[-1]
    can = list(window["canary"].values())
    prod = [v for t, v in window["production"].items() if a - 60.0 <= float(t) <= b + 60.0]
    results = [compare(m, np.array([v.get(m, np.nan) for v in can], float),
                       np.array([v.get(m, np.nan) for v in prod], float),
                       confidence=d.canary_confidence, tolerance=d.canary_tolerance, min_samples=LOOK_MINUTES)
               for m in sorted({k for v in can for k in v})]
    worse = [c for c in results if c.verdict == "worse"]
    state["last_window"] = {"from": a, "to": b, "minutes": span}
    if not worse and (span >= d.canary_window_minutes or final):
        if any(c.verdict != "nodata" for c in results):
            state["compared"] = int(state.get("compared", 0)) + span
        state["window"] = {"canary": {}, "production": {t: v for t, v in window["production"].items()
                                                         if float(t) > b}}
        state["judged_until"] = b + 1.0
    return worse


def _attribute(service: str, group: str, state: dict[str, Any], worse: list[Comparison],
               settings: "Settings") -> tuple[AnomalyFound, RemediationRequested]:
    """A comparison is a decision at the acting level, not a rarity score: MEDIUM, scored at its bound."""
    conf = settings.deployment.canary_confidence
    worse = sorted(worse, key=lambda c: -abs(c.shift) / max(c.tolerance, 1e-12))
    window, version = state["last_window"], int(state["version"])
    why = (f"canary v{version} is worse than production v{state.get('previous')} over the same "
           f"{window['minutes']} minutes on {', '.join(c.metric for c in worse)}: abort the canary")
    causes = [RootCause(metric=c.metric, confidence=round(1.0 - c.p, 4), evidence=c.evidence(conf),
                        recommendation=why, action="abort_canary") for c in worse[:5]]
    start, end = (datetime.fromtimestamp(window[k], timezone.utc) for k in ("from", "to"))
    anomaly_id = f"{service}-canary-v{version}-{start.strftime('%Y%m%dT%H%M%SZ')}"
    anomaly = AnomalyFound(
        event_id=f"anomaly:{anomaly_id}:{int(window['to'])}", anomaly_id=anomaly_id, service=service,
        start=start, end=end, peak_score=lower_bound(Severity.MEDIUM), severity=Severity.MEDIUM,
        deviating_metrics=[c.metric for c in worse], causes=causes, rows=max(1, int(window["minutes"])),
    )
    request = RemediationRequested(
        event_id=f"request:{anomaly_id}:abort_canary", request_id=f"{group}:canary-v{version}:abort_canary",
        action="abort_canary", target=service, severity=Severity.MEDIUM, reason=why, anomaly_id=anomaly_id,
        params={"version": version},
    )
    return anomaly, request
