"""Detection quality: labelled synthetic cloud-metric series (a NAB-style score), then the
labelled real CloudWatch series beside the repo scored with NAB's own rules (bench/realdata.py;
skipped with a message when that folder is absent).

Series: 5-minute samples over 7 days (2016 points), univariate and 7-metric,
with daily seasonality, heavy-tailed or Gaussian noise, count-valued metrics,
and unlabelled missing values (NaN) as nuisance. Each carries one to three
labelled anomalies of the kinds clouds produce: spikes, level shifts, slow
drifts (leaks), variance bursts, seasonal breaks, and dropouts (a metric
falling to zero).

Scoring, per series, NAB-like: each anomaly has a window of 10% of the series
divided by the number of anomalies, starting a quarter window before onset. The
first detection inside a window earns 2 / (1 + e^(5y)) - 1 with y in [-1, 0]
its position relative to the window's end (early ~ +0.99, at the end 0); a
window with no detection costs -1; each false-positive *alarm* (a rising edge of
flags outside every window) costs -0.22 (NAB's "reward low FP" weight). The sum
is normalised per series so that flagging nothing scores 0 and a perfect
detector 100, then averaged over series.

Every detector runs through ``score_one`` from a cold start, as the team's
held-out benchmark does; the seed's baseline (StandardScaler + IsolationForest,
contamination 0.1, fit on the whole series then ``predict``) is scored from its
predictions. Reported: the score at Skyloop's operating point (score >= 0.6,
MEDIUM, what it acts on) and at each detector's best threshold.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402

STEP = 300.0  # seconds between samples
N = 2016  # 7 days
DAY = int(86400 / STEP)
KINDS = ("spike", "level_shift", "drift", "variance_burst", "seasonal_break", "dropout")
FP_WEIGHT = 0.22
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


@dataclass
class Series:
    name: str
    values: np.ndarray  # (N, m)
    columns: list[str]
    timestamps: np.ndarray  # epoch seconds
    onsets: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def _base(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[bool]]:
    t = np.arange(N)
    levels = rng.uniform(5, 500, m)
    amp = levels * rng.uniform(0.0, 0.3, m)
    phase = rng.uniform(0, 2 * np.pi, m)
    sigma = levels * rng.uniform(0.01, 0.06, m)
    heavy = rng.random(m) < 0.4
    counts = list(rng.random(m) < 0.25)
    season = amp[None, :] * np.sin(2 * np.pi * t[:, None] / DAY + phase[None, :])
    noise = np.where(heavy[None, :], rng.standard_t(4, (N, m)) / math.sqrt(2.0), rng.standard_normal((N, m)))
    x = levels[None, :] + season + noise * sigma[None, :]
    if m > 1:  # a shared load factor: metrics move together, as cpu and latency do
        load = np.convolve(rng.standard_normal(N), np.ones(12) / 12, mode="same")
        x += load[:, None] * sigma[None, :] * rng.uniform(0, 2, m)[None, :]
    return x, sigma, amp, counts


def make_series(i: int, rng: np.random.Generator) -> Series:
    m = 7 if i % 3 == 2 else 1
    x, sigma, amp, counts = _base(rng, m)
    n_anom = int(rng.integers(1, 4))
    slots = np.sort(rng.choice(np.arange(int(0.25 * N), N - 150, 180), n_anom, replace=False))
    s = Series(f"s{i:02d}-{'multi' if m > 1 else 'uni'}", x, [f"m{j}" for j in range(m)],
               1_767_225_600 + STEP * np.arange(N))
    for onset in slots:
        kind = KINDS[int(rng.integers(0, len(KINDS)))]
        j = int(rng.integers(0, m))
        mag = rng.uniform(6, 12) * sigma[j] * rng.choice([-1, 1])
        if kind == "spike":
            w = int(rng.integers(1, 4))
            x[onset : onset + w, j] += mag
        elif kind == "level_shift":
            x[onset:, j] += abs(mag) * rng.choice([-1, 1]) * 0.8
        elif kind == "drift":
            dur = int(rng.integers(100, 250))
            ramp = np.minimum(np.arange(N - onset) / dur, 1.0) * abs(mag) * 1.2
            x[onset:, j] += ramp
        elif kind == "variance_burst":
            dur = int(rng.integers(30, 80))
            x[onset : onset + dur, j] += rng.standard_normal(min(dur, N - onset)) * sigma[j] * 6
        elif kind == "seasonal_break":
            # the daily shape breaks for a day: a 6-hour oscillation where the usual cycle was
            t = np.arange(onset, min(onset + DAY, N))
            bump = max(amp[j], 6 * sigma[j])
            x[t, j] += bump * np.sin(2 * np.pi * (t - onset) / (DAY / 4))
        elif kind == "dropout":
            dur = int(rng.integers(20, 50))
            x[onset : onset + dur, j] = 0.0
        s.onsets.append(int(onset))
        s.kinds.append(kind)
    nuisance(x, counts, rng)
    if rng.random() < 0.3:
        g = int(rng.integers(int(0.1 * N), N - 20))
        x[g : g + 12, :] = np.nan
    s.values = x
    return s


def nuisance(x: np.ndarray, counts: list[bool], rng: np.random.Generator) -> None:
    """What real metrics do that is no anomaly: count metrics report integers, and a few records
    are missing (NaN, unlabelled)."""
    for j, c in enumerate(counts):
        if c:
            x[:, j] = np.round(x[:, j])
    x[rng.random(x.shape) < 0.004] = np.nan


def dataset(n_series: int, seed: int, make: Callable[[int, np.random.Generator], Series] | None = None) -> list[Series]:
    """``n_series`` series from one seeded generator (``make``: this suite's ``make_series``)."""
    rng = np.random.default_rng(seed)
    return [(make or make_series)(i, rng) for i in range(n_series)]


def windows(s: Series) -> list[tuple[int, int]]:
    length = max(int(0.1 * N / max(len(s.onsets), 1)), 10)
    return [(max(0, o - length // 4), min(N, o - length // 4 + length)) for o in s.onsets]


def sigmoid(y: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def nab_score(flags: np.ndarray, s: Series) -> tuple[float, dict[str, int]]:
    wins = windows(s)
    inside = np.zeros(N, dtype=bool)
    raw, tp, fn = 0.0, 0, 0
    for a, b in wins:
        inside[a:b] = True
        hits = np.flatnonzero(flags[a:b])
        if hits.size:
            tp += 1
            raw += sigmoid((a + hits[0] - b) / (b - a))
        else:
            fn += 1
            raw -= 1.0
    rising = flags & ~np.r_[False, flags[:-1]]
    fp = int((rising & ~inside).sum())
    raw -= FP_WEIGHT * fp
    null, perfect = -len(wins), sum(sigmoid(-1.0) for _ in wins)
    return 100.0 * (raw - null) / (perfect - null), {"tp": tp, "fn": fn, "fp": fp}


def run_streaming(factory: Callable[[], object], s: Series) -> np.ndarray:
    from datetime import datetime, timezone

    det = factory()
    out = np.zeros(N)
    for i in range(N):
        row = {c: float(v) for c, v in zip(s.columns, s.values[i])}
        out[i] = det.score_one(datetime.fromtimestamp(s.timestamps[i], tz=timezone.utc), row)  # type: ignore[attr-defined]
    return out


def seed_baseline(s: Series) -> np.ndarray:
    """The seed: StandardScaler + IsolationForest(contamination=0.1) on everything, then predict."""
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import StandardScaler

    X = np.where(np.isnan(s.values), np.nanmedian(s.values, axis=0), s.values)
    Z = StandardScaler().fit_transform(X)
    pred = IsolationForest(contamination=0.1, random_state=42).fit(Z).predict(Z)
    return (pred == -1).astype(float)  # 1.0 = flagged: passes every threshold


def evaluate(detectors: dict[str, Callable[[Series], np.ndarray]], data: list[Series]) -> dict[str, dict[str, object]]:
    report: dict[str, dict[str, object]] = {}
    for name, run in detectors.items():
        t0 = time.perf_counter()
        scores = [run(s) for s in data]
        per_thr = {}
        for thr in THRESHOLDS:
            results = [nab_score(sc >= thr, s) for sc, s in zip(scores, data)]
            per_thr[thr] = (float(np.mean([r[0] for r in results])),
                            {k: int(sum(r[1][k] for r in results)) for k in ("tp", "fn", "fp")})
        best = max(per_thr, key=lambda t: per_thr[t][0])
        by_kind: dict[str, list[float]] = {}
        for sc, s in zip(scores, data):
            for (a, b), kind in zip(windows(s), s.kinds):
                by_kind.setdefault(kind, []).append(float(bool((sc[a:b] >= 0.6).any())))
        report[name] = {
            "score_at_0.6": round(per_thr[0.6][0], 1), "counts_at_0.6": per_thr[0.6][1],
            "best_threshold": best, "score_at_best": round(per_thr[best][0], 1), "counts_at_best": per_thr[best][1],
            "recall_by_kind_at_0.6": {k: round(float(np.mean(v)), 2) for k, v in sorted(by_kind.items())},
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{name:22s} @0.6 {report[name]['score_at_0.6']:6.1f} {per_thr[0.6][1]}  best {best} "
              f"{report[name]['score_at_best']:6.1f}  ({report[name]['seconds']} s)", flush=True)
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--series", type=int, default=36)
    p.add_argument("--seed", type=int, default=7)  # tuning used seed 2026; the recorded run is held out
    p.add_argument("--detectors", default="seed_iforest,iforest,robust_z,ensemble,adaptive,likelihood,default")
    args = p.parse_args(argv)
    from skyloop.detection import make_detector

    data = dataset(args.series, args.seed)
    available: dict[str, Callable[[Series], np.ndarray]] = {"seed_iforest": seed_baseline}
    for name in args.detectors.split(","):
        if name != "seed_iforest":
            available[name] = (lambda n: (lambda s: run_streaming(lambda: make_detector(n), s)))(name)
    chosen = {k: available[k] for k in args.detectors.split(",")}
    report = evaluate(chosen, data)
    kinds: dict[str, int] = {}
    for s in data:
        for k in s.kinds:
            kinds[k] = kinds.get(k, 0) + 1
    write("quality", {"series": args.series, "seed": args.seed, "points_per_series": N, "anomalies_by_kind": kinds,
                      "fp_weight": FP_WEIGHT, "detectors": report, "real": real_suite(args.detectors.split(",")),
                      "habits": habits_suite(args.detectors.split(",")),
                      "known_cause": known_cause_suite(args.detectors.split(",")),
                      "weekly": weekly_suite(args.detectors.split(","))})


def planted_suite(make: Callable[[int, np.random.Generator], Series], names: list[str], n_series: int,
                  seed: int) -> dict[str, object]:
    """A generated suite of planted incidents (``make``: its ``make_series``), for each named detector."""
    from skyloop.detection import make_detector

    data = dataset(n_series, seed, make)
    runs: dict[str, Callable[[Series], np.ndarray]] = {
        n: (lambda name: (lambda s: run_streaming(lambda: make_detector(name), s)))(n) for n in names}
    kinds: dict[str, int] = {}
    for s in data:
        for k in s.kinds:
            kinds[k] = kinds.get(k, 0) + 1
    return {"series": n_series, "seed": seed, "anomalies_by_kind": kinds, "detectors": evaluate(runs, data)}


def planted_main(doc: str, suite: Callable[[list[str], int, int], dict[str, object]], held_out: int,
                 argv: list[str] | None) -> None:
    """A planted suite's command line; the recorded run is ``python -m bench.quality``, beside the others."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--series", type=int, default=36)
    p.add_argument("--seed", type=int, default=held_out)
    p.add_argument("--detectors", default="adaptive,likelihood,default")
    args = p.parse_args(argv)
    out = suite(args.detectors.split(","), args.series, args.seed)
    print({k: v for k, v in out.items() if k != "detectors"})


def known_cause_suite(names: list[str]) -> dict[str, object]:
    """Incidents with a known operational cause (bench/knowncause.py), for each streaming detector."""
    from bench import knowncause

    return knowncause.suite([n for n in names if n != "seed_iforest"])


def weekly_suite(names: list[str]) -> dict[str, object]:
    """Demand with a weekly cycle (bench/weekly.py), for each streaming detector."""
    from bench import weekly

    return weekly.suite([n for n in names if n != "seed_iforest"])


def habits_suite(names: list[str]) -> dict[str, object]:
    """Real metrics' habits as generated cases (bench/habits.py), for each streaming detector."""
    from bench import habits
    from skyloop.detection import make_detector

    out = {}
    for name in names:
        if name != "seed_iforest":
            out[name] = habits.evaluate((lambda n: lambda: make_detector(n))(name))
            print(f"{name:14s} habits {out[name]}", flush=True)
    return out


def real_suite(names: list[str]) -> dict[str, object]:
    """The labelled real CloudWatch series beside the repo (bench/realdata.py), when present."""
    from bench import realdata
    from skyloop.detection import make_detector

    if not realdata.available():
        print(f"real-data suite skipped: no labelled series at {realdata.DATA} (the team's ../shared/data/cloud-metrics)")
        return {"skipped": f"no data at {realdata.DATA}"}
    data = realdata.load()
    runs: dict[str, Callable[[realdata.RealSeries], np.ndarray]] = {}
    for name in names:
        if name == "seed_iforest":
            runs[name] = lambda s: seed_baseline(Series(s.name, s.x.reshape(-1, 1), ["value"], s.t))
        else:
            runs[name] = (lambda n: (lambda s: realdata.run_streaming(lambda: make_detector(n), s)))(name)
    return {"files": len(data), "points": int(sum(len(s.x) for s in data)),
            "windows": int(sum(len(s.windows) for s in data)), "detectors": realdata.evaluate(runs, data)}


if __name__ == "__main__":
    main()
