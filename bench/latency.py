"""``score_one`` latency per record (p50 / p99) for each streaming detector, 7 metrics.

Each detector streams 5,000 records from a cold start (the first 500 are not
timed: warm-up); reports microseconds per call.
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
    p.add_argument("--detectors", default="default,adaptive,likelihood,robust_z,iforest,ensemble")
    args = p.parse_args(argv)
    from skyloop.detection import make_detector

    X = rows(args.records, 3)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stamps = [t0 + timedelta(minutes=i) for i in range(args.records)]
    records = [dict(zip(METRICS, map(float, r))) for r in X]
    out = {}
    for name in args.detectors.split(","):
        det = make_detector(name)
        lat = np.empty(args.records)
        for i in range(args.records):
            a = time.perf_counter()
            det.score_one(stamps[i], records[i])
            lat[i] = time.perf_counter() - a
        steady = lat[500:] * 1e6
        out[name] = {"p50_us": round(float(np.percentile(steady, 50)), 1), "p99_us": round(float(np.percentile(steady, 99)), 1),
                     "max_us": round(float(steady.max()), 1), "records_per_s": round(float(1e6 / steady.mean()))}
        print(name, out[name], flush=True)
    write("latency", {"records": args.records, "metrics": len(METRICS), "detectors": out})


if __name__ == "__main__":
    main()
