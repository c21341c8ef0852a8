"""Scoring throughput: 1,000,000 rows x 7 metrics, one IsolationForest (100 trees).

Rows: the seed's seven metrics. The model: StandardScaler + sklearn IsolationForest
(contamination 0.1) fitted on 100,000 normal rows. Compared, on the same scaled rows:
- sklearn ``score_samples`` (single thread, its default);
- Skyloop's numpy scorer (``CompiledForest``), one thread and two threads;
- the seed's approach, re-implemented faithfully: ``decision_function`` + ``predict``,
  then a per-row Python loop building one result dict per row.
The numpy scores must equal sklearn's (max abs difference < 1e-9).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402

METRICS = ["cpu_usage", "memory_usage", "disk_io", "network_in", "network_out", "error_rate", "latency_ms"]


def rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean = np.array([40, 55, 120, 200, 180, 0.5, 120])
    sd = np.array([8, 6, 20, 40, 35, 0.2, 25])
    X = rng.normal(mean, sd, size=(n, 7))
    spikes = rng.random(n) < 0.01
    X[spikes] += rng.normal(0, 6, size=(int(spikes.sum()), 7)) * sd
    return X


def seed_loop(model, scaler, X: np.ndarray) -> list[dict]:  # type: ignore[no-untyped-def]
    """The seed: decision_function + predict, then a per-row loop building dicts."""
    Z = scaler.transform(X)
    scores = model.decision_function(Z)
    preds = model.predict(Z)
    out = []
    for i in range(len(X)):
        out.append({
            "index": i,
            "is_anomaly": bool(preds[i] == -1),
            "anomaly_score": float(scores[i]),
            "metrics": {name: float(X[i, j]) for j, name in enumerate(METRICS)},
        })
    return out


def timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import StandardScaler

    from skyloop.detection.forest import from_sklearn

    train = rows(100_000, 1)
    scaler = StandardScaler().fit(train)
    model = IsolationForest(n_estimators=100, contamination=0.1, random_state=0).fit(scaler.transform(train))
    forest = from_sklearn(model)
    X = rows(args.rows, 2)
    Z = scaler.transform(X)
    ref = model.score_samples(Z)
    diff = float(np.max(np.abs(forest.score_samples(Z) - ref)))
    t_sk = timed(lambda: model.score_samples(Z), args.repeat)
    t_np1 = timed(lambda: forest.score_samples(Z, n_jobs=1), args.repeat)
    t_np2 = timed(lambda: forest.score_samples(Z, n_jobs=2), args.repeat)
    seed_n = min(args.rows, 200_000)  # the loop is linear; time a fifth and scale, to keep the bench short
    t_seed = timed(lambda: seed_loop(model, scaler, X[:seed_n]), 1) * (args.rows / seed_n)
    n = args.rows
    write("throughput", {
        "rows": n, "metrics": 7, "trees": 100,
        "max_abs_diff_vs_sklearn": diff,
        "rows_per_s": {
            "sklearn_score_samples": round(n / t_sk), "numpy_1_thread": round(n / t_np1),
            "numpy_2_threads": round(n / t_np2), "seed_loop": round(n / t_seed),
        },
        "seconds": {"sklearn": round(t_sk, 3), "numpy_1": round(t_np1, 3), "numpy_2": round(t_np2, 3),
                    "seed_loop_estimated": round(t_seed, 3)},
        "ratios": {
            "numpy_1_vs_sklearn": round(t_sk / t_np1, 2), "numpy_2_vs_sklearn": round(t_sk / t_np2, 2),
            "numpy_1_vs_seed": round(t_seed / t_np1, 2), "sklearn_vs_seed": round(t_seed / t_sk, 2),
        },
        "budgets": {"parity_below_1e-9": diff < 1e-9, "numpy_vs_sklearn_at_least_1x": t_sk / t_np1 >= 1.0,
                    "numpy_vs_seed_at_least_3x": t_seed / t_np1 >= 3.0},
    })


if __name__ == "__main__":
    main()
