"""Synthetic but realistic inputs for ``skyloop demo``: a churn dataset and a fleet's metrics.

The metric simulator is closed-loop: an incident ends when the matching
remediation has actually been applied to the (simulated) fleet, so the demo
shows the loop closing rather than incidents that fade on a timer.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import numpy as np

from ..events import MetricRecord

METRICS = ("cpu_usage", "memory_usage", "disk_io", "network_in", "network_out", "error_rate", "latency_ms")


def churn_csv(n: int, *, label_noise: float, seed: int, price_rise: bool = False, region: bool = False) -> bytes:
    """Telecom-style churn: a few numeric drivers, one categorical contract, noisy labels.

    ``price_rise``: the world after a price change: charges are higher and customers are
    more sensitive to them (input drift *and* a changed relation, so a model trained
    before it is worse after it). ``region``: a new column whose south customers churn
    more: informative, and absent from what clients send until they are updated.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    charges = np.round(rng.normal(95 if price_rise else 70, 25, n).clip(18, 180), 2)
    calls = rng.poisson(1.5, n)
    usage = np.round(rng.gamma(2.0, 15.0, n), 2)
    late = rng.poisson(0.4, n)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.2])
    south = rng.random(n) < 0.5
    sensitivity = 0.06 if price_rise else 0.025
    logit = (
        -1.0 - 0.05 * tenure + sensitivity * (charges - 70) + 1.75 + 0.45 * calls + 0.6 * late - 0.01 * usage
        + np.select([contract == "month-to-month", contract == "one-year"], [1.2, -0.3], -1.5)
        + (np.where(south, 2.0, -2.0) if region else 0.0)
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-3.0 * logit))).astype(int)
    flip = rng.random(n) < label_noise
    y[flip] = 1 - y[flip]
    buf = io.StringIO()
    buf.write(("region," if region else "") + "tenure_months,monthly_charges,support_calls,usage_gb,late_payments,"
              "contract,churned\n")
    for i, row in enumerate(zip(tenure, charges, calls, usage, late, contract, y)):
        buf.write((("south," if south[i] else "north,") if region else "") + ",".join(str(v) for v in row) + "\n")
    return buf.getvalue().encode()


def client_rows(data: bytes) -> list[dict[str, Any]]:
    """What clients send for scoring: the customers of a churn CSV, without the label."""
    lines = data.decode().strip().splitlines()
    head = lines[0].split(",")[:-1]
    return [{k: (v if k in ("contract", "region") else float(v)) for k, v in zip(head, line.split(",")[:-1])}
            for line in lines[1:]]


# which actions remove each incident's cause in the simulated fleet
FIXED_BY: dict[str, tuple[str, ...]] = {
    "cpu": ("scale_out",),  # more replicas spread the load
    "memory": ("restart_service",),  # a restart reclaims what leaked
    "errors": ("rollback_deployment",),  # the bad version is gone
    "latency": ("clear_cache",),  # the spike is a poisoned cache
    "pool": ("restart_service",),  # leaked connections: only a restart frees them
}


@dataclass
class Incident:
    name: str
    kind: str  # cpu | memory | errors | latency
    start: int  # minute
    max_minutes: int
    expected_metric: str
    expected_action: str
    ended_at: int | None = None
    fixed_at: int | None = None

    def active(self, minute: int) -> bool:
        end = self.start + self.max_minutes
        if self.ended_at is not None:
            end = min(end, self.ended_at)
        return self.start <= minute < end


@dataclass
class FleetSim:
    """Generates one service's metrics minute by minute, reacting to remediation."""

    start: datetime
    seed: int = 7
    incidents: list[Incident] = field(default_factory=list)
    minute: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def at(self, minute: int) -> datetime:
        return self.start + timedelta(minutes=minute)

    def apply(self, action: str, target: str, service: str, minute: int) -> list[str]:
        """What an action really does to this service: it ends an active incident only if it
        addresses that incident's cause (a cache clear does not fix a CPU saturation, and an
        action on another service fixes nothing here). The metrics return to normal two
        minutes later; whether that counts as resolved is for verification to judge."""
        fixed: list[str] = []
        if target != service:
            return fixed
        for inc in self.incidents:
            if action in FIXED_BY.get(inc.kind, ()) and inc.active(minute) and inc.ended_at is None:
                inc.fixed_at = minute
                inc.ended_at = minute + 2
                fixed.append(inc.name)
        return fixed

    def next_batch(self, minutes: int, hook: Callable[[int], None] | None = None) -> list[MetricRecord]:
        out = []
        for _ in range(minutes):
            if hook is not None:
                hook(self.minute)
            out.append(MetricRecord(timestamp=self.at(self.minute), values=self._sample(self.minute)))
            self.minute += 1
        return out

    def _sample(self, m: int) -> dict[str, float]:
        r = self.rng
        daily = math.sin(2 * math.pi * m / 1440.0)
        cpu = 35 + 8 * daily + r.normal(0, 3)
        mem = 48 + r.normal(0, 1.5)
        disk = 120 + r.normal(0, 10)
        net_in = 200 + 30 * daily + r.normal(0, 12)
        net_out = 180 + 25 * daily + r.normal(0, 12)
        err = 0.5 + abs(r.normal(0, 0.15))
        lat = 0.0
        for inc in self.incidents:
            if not inc.active(m):
                continue
            k = m - inc.start
            if inc.kind == "cpu":
                cpu = min(97.0, cpu + min(k, 3) / 3 * 55)
                if k >= 4:
                    lat += 2.5 * (cpu - 35)
            elif inc.kind == "memory":
                mem = min(97.0, mem + 0.9 * k)
            elif inc.kind == "errors":
                err = 7.5 + r.normal(0, 1.0)
                lat += 25
            elif inc.kind == "latency":
                lat += 320 + r.normal(0, 30)
            elif inc.kind == "pool":  # requests queue for a connection: slow, with no CPU pressure
                lat += 200 + r.normal(0, 20)
        latency = 120 + 0.8 * (cpu - 35) + r.normal(0, 8) + lat
        vals = [cpu, mem, disk, net_in, net_out, err, latency]
        return {k: round(float(v), 3) for k, v in zip(METRICS, vals)}


def demo_incidents() -> list[Incident]:
    return [
        Incident("CPU saturation", "cpu", 200, 60, "cpu_usage", "scale_out"),
        Incident("Memory leak", "memory", 300, 120, "memory_usage", "restart_service"),
        Incident("Error burst after bad deployment", "errors", 455, 90, "error_rate", "rollback_deployment"),
        # latency with no CPU pressure looks like a cache problem, so the runbook starts with a cache
        # clear; only a restart frees the leaked connections: verification has to escalate twice
        Incident("Connection pool exhaustion", "pool", 520, 130, "latency_ms", "clear_cache"),
        Incident("Latency spike", "latency", 660, 45, "latency_ms", "clear_cache"),
    ]


def demo_start() -> datetime:
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=12)


def overlap(inc: Incident, start: datetime, end: datetime, sim: FleetSim) -> bool:
    a = sim.at(inc.start)
    b = sim.at(inc.ended_at if inc.ended_at is not None else inc.start + inc.max_minutes)
    return start <= b and end >= a


__all__: list[Any] = ["FleetSim", "Incident", "churn_csv", "demo_incidents", "demo_start", "METRICS"]
