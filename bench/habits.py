"""Real metrics' habits, one generated case each (issue 13): does a detector stay quiet on the
habit, and does it still catch a plain anomaly planted in it?

Each case is ten days of 5-minute records with one anomaly on day 8 (none for the unit and level
changes, which *are* the event: there the first records after the change must be flagged and the
rest must go quiet). Reported per detector: MEDIUM incidents per day on days 2-7 and 9-10 (runs of
flagged records count once; day 1 is warm-up) and whether the planted event scored MEDIUM.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

DAY = 288
N = 10 * DAY
T0 = 1_767_225_600.0
ONSET = 7 * DAY + 100


def _times(rng: np.random.Generator, irregular: bool) -> np.ndarray:
    if not irregular:
        return T0 + 300.0 * np.arange(N)
    steps = rng.uniform(60, 540, N)
    steps[4 * DAY] = 6 * 3600.0  # a six-hour gap
    return T0 + np.cumsum(steps)


def cases(seed: int = 11) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (timestamps, values)."""
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    x = rng.normal(50, 3, N)
    x[ONSET] += 30
    out["irregular intervals and a 6 h gap"] = (_times(rng, True), x)
    x = np.zeros(N)
    x[ONSET] = 1.0
    out["flat metric"] = (_times(rng, False), x)
    x = rng.poisson(3, N).astype(float)
    x[ONSET] = 30
    out["quantised counts"] = (_times(rng, False), x)
    t = np.arange(N)
    x = 50 + 20 * np.sin(2 * np.pi * t / DAY)
    x[ONSET] += 10
    out["zero-noise daily cycle"] = (_times(rng, False), x)
    x = np.abs(rng.normal(0, 50, N))
    for s in rng.choice(np.arange(100, ONSET - 20), 20, replace=False):
        x[s : s + rng.integers(2, 8)] = rng.uniform(4e6, 6e6)
    x[ONSET : ONSET + 3] = 2.5e7
    out["counter with bursts"] = (_times(rng, False), x)
    x = 100 + 5 * rng.standard_t(2, N)
    x[ONSET] += 400
    out["heavy tails (t, 2 dof)"] = (_times(rng, False), x)
    x = rng.normal(2.0, 0.1, N)
    x[ONSET:] *= 1000
    out["unit change (x1000)"] = (_times(rng, False), x)
    x = rng.normal(30, 1, N)
    x[ONSET:] += 12
    out["level change, the new normal"] = (_times(rng, False), x)
    return out


def evaluate(factory: Callable[[], object], seed: int = 11) -> dict[str, dict[str, float | bool]]:
    from bench.realdata import MEDIUM, RealSeries, incidents, run_streaming

    result: dict[str, dict[str, float | bool]] = {}
    for name, (ts, x) in cases(seed).items():
        flags = run_streaming(factory, RealSeries(name, ts, x, [])) >= MEDIUM
        quiet = np.ones(N, dtype=bool)
        quiet[:DAY] = False
        quiet[ONSET : ONSET + (DAY if "change" in name else 10)] = False
        alarms = incidents(flags & quiet)
        days = float(quiet.sum()) / DAY
        result[name] = {"incidents_per_day": round(alarms / days, 2), "event_found": bool(flags[ONSET : ONSET + 3].any())}
    return result


__all__ = ["cases", "evaluate"]
