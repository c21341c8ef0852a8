"""``score_one`` latency per record (p50 / p99) for each streaming detector, 7 metrics.

Each detector streams 5,000 records from a cold start (the first 500 are not
timed: warm-up); reports microseconds per call. The runs are repeated (5 by default, the
detectors interleaved) and the median run's figures reported with the p99's range: on this
shared VM one run's p99 moved between 460 and 660 us with no code change.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402
from bench.throughput import METRICS, rows  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--detectors", default="default,adaptive,likelihood,robust_z,iforest,ensemble")
    args = p.parse_args(argv)
    from skyloop.detection import make_detector

    X = rows(args.records, 3)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stamps = [t0 + timedelta(minutes=i) for i in range(args.records)]
    records = [dict(zip(METRICS, map(float, r))) for r in X]
    names = args.detectors.split(",")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            runs[name].append(timed(make_detector(name), stamps, records, 500))
    for _ in range(args.repeats):  # one stream of three weeks, timed in its second and its third
        lat = latencies(make_detector("default"), *three_weeks())
        runs.setdefault(WEEK2, []).append(summary(lat[WEEK2_FROM:WEEK3_FROM - 100]))
        runs.setdefault(WEEK3, []).append(summary(lat[WEEK3_FROM:]))
    out = {}
    for name in runs:
        p99s = sorted(r["p99_us"] for r in runs[name])
        med = sorted(runs[name], key=lambda r: r["p99_us"])[len(p99s) // 2]  # the median run by p99
        out[name] = {"p50_us": round(med["p50_us"], 1), "p99_us": round(med["p99_us"], 1),
                     "p99_range_us": [round(p99s[0], 1), round(p99s[-1], 1)], "max_us": round(med["max_us"], 1),
                     "records_per_s": round(med["records_per_s"]), "runs": len(p99s)}
        print(name, out[name], flush=True)
    write("latency", {"records": args.records, "metrics": len(METRICS), "detectors": out, "state": state_sizes()})


# The runs above last 3.5 days of 1-minute records, so the time-of-week table never has a week
# behind it. This one streams 21 days of 5-minute records, four of the seven metrics halved at
# weekends (so the week's table is their reference from the second week), and times the second week
# and the third, where the week's point test is asked too (likelihood.WEEK_POINT_FROM).
WEEK2, WEEK3, WEEK_RECORDS = "default, second week", "default, third week", 6048
WEEK2_FROM, WEEK3_FROM = 2016 + 100, 4032 + 100


def three_weeks() -> tuple[list[datetime], list[dict[str, float]]]:
    X = rows(WEEK_RECORDS, 4)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a Thursday
    stamps = [t0 + timedelta(minutes=5 * i) for i in range(WEEK_RECORDS)]
    weekend = np.array([s.weekday() >= 5 for s in stamps])
    X[:, :4] *= np.where(weekend, 0.5, 1.0)[:, None]
    return stamps, [dict(zip(METRICS, map(float, r))) for r in X]


def latencies(det: object, stamps: list[datetime], records: list[dict[str, float]]) -> np.ndarray:
    """Microseconds per ``score_one`` call, record by record."""
    lat = np.empty(len(records))
    for i, (t, r) in enumerate(zip(stamps, records)):
        a = time.perf_counter()
        det.score_one(t, r)  # type: ignore[attr-defined]
        lat[i] = time.perf_counter() - a
    return lat * 1e6


def summary(steady: np.ndarray) -> dict[str, float]:
    return {"p50_us": float(np.percentile(steady, 50)), "p99_us": float(np.percentile(steady, 99)),
            "max_us": float(steady.max()), "records_per_s": 1e6 / float(steady.mean())}


def timed(det: object, stamps: list[datetime], records: list[dict[str, float]], start: int) -> dict[str, float]:
    return summary(latencies(det, stamps, records)[start:])


def state_sizes(widths: tuple[int, ...] = (1, 7, 20, 100), records: int = 2016) -> dict[str, object]:
    """The default detector's saved state (what detect keeps per service) after a week of 5-minute
    records, by the number of metrics: O(metrics) means a constant size per metric; a 7-metric
    service should fit one DynamoDB item (380,000 bytes, the AWS store's limit before it spills)."""
    from skyloop.detection import make_detector

    rng = np.random.default_rng(3)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    sizes = {}
    for m in widths:
        det = make_detector("default")
        cols = [f"m{j}" for j in range(m)]
        data = 100.0 + 10.0 * rng.standard_normal((records, m))
        for i in range(records):
            det.score_one(t0 + timedelta(minutes=5 * i), dict(zip(cols, map(float, data[i]))))
        sizes[str(m)] = len(det.to_bytes())
        print(f"state, {m} metrics: {sizes[str(m)]:,} bytes", flush=True)
    per_metric = (sizes[str(widths[-1])] - sizes[str(widths[1])]) / (widths[-1] - widths[1])
    return {"records": records, "bytes": sizes, "bytes_per_added_metric": round(per_metric), "dynamodb_item_bytes": 380_000}


if __name__ == "__main__":
    main()
