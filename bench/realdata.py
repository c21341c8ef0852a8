"""Detection quality on real cloud metrics: 17 labelled AWS CloudWatch series, NAB's scorer.

The data lives beside the repository (``../shared/data/cloud-metrics``, from the Numenta
Anomaly Benchmark, MIT licence) and is not copied in. Scoring follows that folder's README,
which is NAB's standard profile:

- a detection is a record whose score is at or above the threshold;
- in each labelled window only the first detection counts, worth ``scaled_sigmoid`` of its
  position (early ~ +1, at the window's end ~ 0); a window with no detection costs 1;
- every detection outside all windows costs 0.11, scaled by the sigmoid of its distance after
  the preceding window (right after a window less, far from any window the full 0.11);
- the first 15% of each file (at most 750 records) is probation: not scored;
- totals are summed over the set and normalised (nothing flagged = 0, perfect = 100) at the one
  threshold that maximises the set's total.

Every detector is run through ``score_one`` from a cold start, one record at a time, fresh per
series (the team's held-out protocol). Also reported: the alert rate, incidents per metric per
day at MEDIUM (score >= 0.6) outside the labelled windows, consecutive flags counting as one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

DATA = Path(os.environ.get("SKYLOOP_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "cloud-metrics"))
FP_WEIGHT, FN_WEIGHT, TP_WEIGHT = 0.11, 1.0, 1.0
PROBATION, PROBATION_MAX = 0.15, 750
MEDIUM = 0.6


@dataclass
class RealSeries:
    name: str
    t: np.ndarray  # epoch seconds
    x: np.ndarray
    windows: list[tuple[int, int]]  # inclusive record indices


def available(path: Path = DATA) -> bool:
    return (path / "anomaly-windows.json").is_file()


def load(path: Path = DATA) -> list[RealSeries]:
    wins = json.loads((path / "anomaly-windows.json").read_text())
    return [read_series(f, wins.get(f.name, [])) for f in sorted(path.glob("*.csv"))]


def read_series(f: Path, windows: Sequence[Sequence[str]]) -> RealSeries:
    """One NAB data file (``timestamp,value``) and its labelled windows, as timestamps, turned
    into inclusive record indices."""
    ts, xs = [], []
    with f.open() as fh:
        for row in csv.DictReader(fh):
            ts.append(_epoch(row["timestamp"]))
            xs.append(float(row["value"]))
    t = np.array(ts)
    idx = []
    for a, b in windows:
        lo, hi = int(np.searchsorted(t, _epoch(a), "left")), int(np.searchsorted(t, _epoch(b), "right")) - 1
        idx.append((lo, min(hi, len(t) - 1)))
    return RealSeries(f.stem, t, np.array(xs), idx)


def _epoch(text: str) -> float:
    text = text.strip().replace("T", " ").split(".")[0]
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


def scaled_sigmoid(position: float) -> float:
    """NAB's weight: +~1 early in a window (position -1), 0 at its end, down to -1 far after it."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def file_score(flags: np.ndarray, s: RealSeries) -> tuple[float, float, float, dict[str, int]]:
    """(raw, null, perfect, counts) of one file at one threshold."""
    n = len(flags)
    probation = min(int(PROBATION * n), PROBATION_MAX)
    window_of = np.full(n, -1)
    for k, (a, b) in enumerate(s.windows):
        window_of[a:b + 1] = k
    raw, tp, fp = 0.0, 0, 0
    hit = [False] * len(s.windows)
    prev_end: int | None = None
    prev_width = 1
    for i in range(n):
        k = window_of[i]
        if k >= 0:
            a, b = s.windows[k]
            prev_end, prev_width = b, b - a + 1
            if flags[i] and i >= probation and not hit[k]:
                hit[k] = True
                tp += 1
                raw += TP_WEIGHT * scaled_sigmoid(-(b - i + 1) / (b - a + 1))
            continue
        if not flags[i] or i < probation:
            continue
        fp += 1
        if prev_end is None:
            raw -= FP_WEIGHT  # before the first window: far from any window
        else:
            raw += FP_WEIGHT * scaled_sigmoid(abs(i - prev_end) / max(prev_width - 1, 1))
    fn = hit.count(False)
    raw -= FN_WEIGHT * fn
    null = -FN_WEIGHT * len(s.windows)
    perfect = TP_WEIGHT * sum(scaled_sigmoid(-1.0) for _ in s.windows)
    return raw, null, perfect, {"tp": tp, "fn": fn, "fp": fp}


def set_score(scores: Sequence[np.ndarray], data: Sequence[RealSeries], threshold: float) -> tuple[float, dict[str, int]]:
    raw = null = perfect = 0.0
    counts = {"tp": 0, "fn": 0, "fp": 0}
    for sc, s in zip(scores, data):
        r, nl, p, c = file_score(sc >= threshold, s)
        raw, null, perfect = raw + r, null + nl, perfect + p
        for k in counts:
            counts[k] += c[k]
    return 100.0 * (raw - null) / (perfect - null), counts


def best_threshold(scores: Sequence[np.ndarray], data: Sequence[RealSeries]) -> tuple[float, float, dict[str, int]]:
    """NAB's optimiser, on a grid fine enough for scores that keep separating up to 1.0."""
    grid = np.unique(np.concatenate([np.round(np.linspace(0.3, 1.0, 701), 4),
                                     np.quantile(np.concatenate(scores), np.linspace(0.98, 0.99999, 200))]))
    best = (-math.inf, 1.01, {})
    for thr in grid:
        sc, counts = set_score(scores, data, float(thr))
        if sc > best[0]:
            best = (sc, float(thr), counts)
    if best[0] < 0.0:  # flagging nothing scores 0
        return 0.0, 1.01, {"tp": 0, "fn": sum(len(s.windows) for s in data), "fp": 0}
    return best


def incidents(flags: np.ndarray) -> int:
    """Runs of consecutive flagged records, each counted once (an alert, not a record)."""
    return int((flags & ~np.r_[False, flags[:-1]]).sum())


def alert_rate(scores: Sequence[np.ndarray], data: Sequence[RealSeries], threshold: float = MEDIUM) -> float:
    """Incidents per metric per day outside the labelled windows (and after probation)."""
    alerts, days = 0, 0.0
    for sc, s in zip(scores, data):
        n = len(sc)
        probation = min(int(PROBATION * n), PROBATION_MAX)
        outside = np.ones(n, dtype=bool)
        for a, b in s.windows:
            outside[a:b + 1] = False
        outside[:probation] = False
        flags = (sc >= threshold) & outside
        alerts += incidents(flags)
        days += float(outside.sum()) * float(np.median(np.diff(s.t))) / 86400.0
    return alerts / days if days else 0.0


BANDS = {"low": 0.5, "medium": MEDIUM, "high": 0.75, "critical": 0.9}  # skyloop.detection.base.BANDS


def band_shares(scores: Sequence[np.ndarray], data: Sequence[RealSeries]) -> dict[str, object]:
    """How rare each severity is on the metrics' own records outside the labelled windows (after
    probation): MEDIUM is meant to be rarer than 1 in 1,000 records, HIGH 1 in 10,000, CRITICAL 1 in
    100,000 (``likelihood``'s bands). Pooled over the set, and MEDIUM per metric."""
    pooled: list[np.ndarray] = []
    per_metric: list[float] = []
    for sc, s in zip(scores, data):
        n = len(sc)
        outside = np.ones(n, dtype=bool)
        for a, b in s.windows:
            outside[a:b + 1] = False
        outside[:min(int(PROBATION * n), PROBATION_MAX)] = False
        pooled.append(sc[outside])
        per_metric.append(float(np.mean(sc[outside] >= MEDIUM)))
    every = np.concatenate(pooled)
    return {**{band: float(np.mean(every >= bound)) for band, bound in BANDS.items()}, "records": int(every.size),
            "medium_per_metric_median": float(np.median(per_metric)), "medium_per_metric_max": float(max(per_metric)),
            "metrics_above_1_in_1000": int(sum(v > 1e-3 for v in per_metric)), "metrics": len(per_metric)}


def run_streaming(factory: Callable[[], object], s: RealSeries) -> np.ndarray:
    det = factory()
    out = np.zeros(len(s.x))
    for i in range(len(s.x)):
        out[i] = det.score_one(datetime.fromtimestamp(s.t[i], tz=timezone.utc), {"value": float(s.x[i])})  # type: ignore[attr-defined]
    return out


def evaluate(detectors: dict[str, Callable[[RealSeries], np.ndarray]], data: list[RealSeries]) -> dict[str, dict[str, object]]:
    import time

    report: dict[str, dict[str, object]] = {}
    for name, run in detectors.items():
        t0 = time.perf_counter()
        scores = [run(s) for s in data]
        score, thr, counts = best_threshold(scores, data)
        at_medium, counts_medium = set_score(scores, data, MEDIUM)
        report[name] = {"score": round(score, 1), "threshold": round(thr, 4), "counts": counts,
                        "score_at_medium": round(at_medium, 1), "counts_at_medium": counts_medium,
                        "alerts_per_metric_day_at_medium": round(alert_rate(scores, data), 3),
                        "share_at_medium_or_above": round(float(np.mean(np.concatenate(scores) >= MEDIUM)), 4),
                        "bands_outside_windows": band_shares(scores, data),
                        "seconds": round(time.perf_counter() - t0, 1)}
        r = report[name]
        print(f"{name:14s} real {r['score']:6.1f} @{r['threshold']}  medium {r['score_at_medium']:6.1f} "
              f"{r['counts_at_medium']}  alerts/metric/day {r['alerts_per_metric_day_at_medium']}  ({r['seconds']} s)",
              flush=True)
    return report


__all__ = ["DATA", "RealSeries", "alert_rate", "band_shares", "available", "incidents", "best_threshold", "evaluate", "file_score", "load",
           "read_series", "run_streaming", "scaled_sigmoid", "set_score"]
