"""Root-cause ranking for one incident.

The seed ranked metrics by how often they were anomalous. That baseline is
kept as one factor; on top of it the ranking weighs *when* each metric started
to deviate (the first to move is likelier the cause than the ones that follow),
how far it deviated, and the context a human on call would check first: did
production change just before the incident? Each cause carries a confidence
(its share of the evidence) and the remediation action it recommends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..events import RootCause

# metric family -> (action, recommendation). Matching is by substring so
# "cpu_usage", "CPUUtilization" and "container_cpu" all land on "cpu".
PLAYBOOK: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("error", "5xx", "fault"), "restart_service", "errors rose with no recent deployment: restart the service and check dependencies"),
    (("latency", "duration", "response_time"), "clear_cache", "latency rose without CPU pressure: clear the cache (stale or cold entries) and check slow dependencies"),
    (("cpu",), "scale_out", "CPU saturation: scale out to spread the load"),
    (("mem",), "restart_service", "memory keeps growing: restart to reclaim it and check for a leak"),
    (("disk",), "clear_cache", "disk I/O is unusual: clear the cache to cut re-reads and check noisy jobs"),
    (("network_in", "networkin", "request", "ingress"), "scale_out", "inbound traffic surge: scale out"),
    (("network_out", "networkout", "egress"), "scale_out", "outbound traffic surge: scale out and check for runaway responses"),
)
FALLBACK = ("notify", "unusual metric with no playbook entry: notify the on-call engineer")


@dataclass(frozen=True)
class RcaContext:
    """What the detector alone cannot see."""

    deployed_version: int | None = None
    previous_version: int | None = None
    minutes_since_deploy: float | None = None
    recent_deploy_minutes: float = 30.0

    @property
    def recent_deploy(self) -> bool:
        return (
            self.minutes_since_deploy is not None
            and self.previous_version is not None
            and -1.0 <= self.minutes_since_deploy <= self.recent_deploy_minutes
        )


def _family(metric: str) -> tuple[str, str, str]:
    m = metric.lower()
    for keys, action, text in PLAYBOOK:
        if any(k in m for k in keys):
            return keys[0], action, text
    return "other", *FALLBACK


def rank_causes(
    z: np.ndarray,
    columns: Sequence[str],
    *,
    threshold: float = 2.0,
    context: RcaContext | None = None,
) -> list[RootCause]:
    """Rank the metrics of one incident (rows in time order) as likely causes."""
    context = context or RcaContext()
    absz = np.abs(np.nan_to_num(z, nan=0.0))
    dev = absz > threshold
    if not dev.any():
        # Multivariate anomaly with no single metric beyond |z| > threshold: rank by magnitude.
        dev = absz >= absz.max(axis=1, keepdims=True)
    # Onset: the first row at half the metric's own peak. A stray |z| > 2 in the
    # noise before an incident does not make a metric the "first mover".
    half = np.maximum(threshold, 0.5 * absz.max(axis=0))
    firsts = np.array([int(np.argmax(absz[:, j] >= half[j])) if dev[:, j].any() else -1 for j in range(absz.shape[1])])
    onset0 = firsts[firsts >= 0].min()
    raw: list[tuple[float, int]] = []
    for j in range(absz.shape[1]):
        if firsts[j] < 0:
            continue
        frequency = dev[:, j].mean()  # the seed's criterion
        magnitude = np.log1p(min(float(absz[dev[:, j], j].mean()), 50.0))
        lag = firsts[j] - onset0
        lead = 1.0 / (1.0 + 0.25 * lag)  # first mover gets full weight
        raw.append((frequency * magnitude * lead, j))
    # Cross-metric context: latency with CPU pressure is a capacity problem, not a cache one.
    cpu_hot = any(_family(columns[j])[0] == "cpu" and dev[:, j].mean() >= 0.25 for _, j in raw)
    total = sum(w for w, _ in raw) or 1.0
    causes: list[RootCause] = []
    for w, j in sorted(raw, key=lambda t: (-t[0], t[1])):
        metric = columns[j]
        family, action, text = _family(metric)
        peak = float(np.max(z[:, j][np.isfinite(z[:, j])], initial=0.0)) if np.isfinite(z[:, j]).any() else 0.0
        trough = float(np.min(z[:, j][np.isfinite(z[:, j])], initial=0.0)) if np.isfinite(z[:, j]).any() else 0.0
        extreme = peak if abs(peak) >= abs(trough) else trough
        evidence = f"{metric} deviated in {dev[:, j].mean():.0%} of incident rows, peak z={extreme:+.1f}, onset +{firsts[j] - onset0} rows"
        confidence = w / total
        if family == "error" and context.recent_deploy:
            action = "rollback_deployment"
            text = (
                f"errors started {context.minutes_since_deploy:.0f} min after v{context.deployed_version} went to "
                f"production: roll back to v{context.previous_version}"
            )
            confidence = min(1.0, confidence + 0.5 * (1.0 - confidence))
        elif family == "latency" and cpu_hot:
            action, text = "scale_out", "latency rose with CPU pressure: scale out"
        causes.append(RootCause(metric=metric, confidence=round(float(confidence), 4), evidence=evidence, recommendation=text, action=action))
    causes.sort(key=lambda c: -c.confidence)
    return causes
