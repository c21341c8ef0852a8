"""A burst of garbage, then a real incident: how long until it is reported.

A broken exporter sends 110 minutes of cpu, latency and error rate flipping between 0 and a huge
value (below the ±1e150 guard, so it is learned). After a quiet gap, a CPU saturation (cpu 95,
latency +100 ms) starts. Everything goes through the detect use-case on the local adapters, in
batches of 10 records, as a metric stream delivers it. Reported: whether the saturation is found,
its delay from its first record and its severity, per amplitude and gap; and, as the reference, the
same saturation on a state that never saw garbage.

    python -m bench.garbage
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402

T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)
WARM, BURST, INCIDENT = 200, 110, 20


def scenario(amplitude: float | None, gap: int) -> dict[str, Any]:
    from skyloop.config import Settings
    from skyloop.events import MetricBatch, MetricRecord
    from skyloop.handlers import on_metrics
    from skyloop.local.runtime import LocalRuntime

    rng = np.random.default_rng(0)
    rt = LocalRuntime(Settings(home=Path(tempfile.mkdtemp()) / "home"))
    plan = ([("normal", WARM)] + ([("garbage", BURST)] if amplitude else []) + [("normal", gap), ("cpu", INCIDENT)])
    i, found = 0, None
    try:
        for kind, n in plan:
            start = i
            for a in range(0, n, 10):
                recs = []
                for k in range(i, i + min(10, n - a)):
                    v = {"cpu_usage": 40 + rng.normal(0, 3), "latency_ms": 120 + rng.normal(0, 8),
                         "error_rate": 0.5 + abs(rng.normal(0, 0.1))}
                    if kind == "garbage":
                        v = {m: (amplitude if k % 2 else 0.0) for m in v}
                    elif kind == "cpu":
                        v["cpu_usage"], v["latency_ms"] = 95.0, v["latency_ms"] + 100
                    recs.append(MetricRecord(timestamp=T0 + timedelta(minutes=k), values=v))
                i += len(recs)
                res = on_metrics(MetricBatch(service="api", records=recs), rt.adapters)
                if kind == "cpu" and found is None and res["anomalies"]:
                    an = res["anomalies"][0]
                    at = datetime.fromisoformat(an["start"].replace("Z", "+00:00"))
                    found = {"delay_minutes": (at - (T0 + timedelta(minutes=start))).total_seconds() / 60,
                             "severity": an["severity"], "top_cause": an["causes"][0]["metric"] if an["causes"] else None}
    finally:
        rt.close()
    return {"amplitude": amplitude, "gap_minutes": gap, "found": found is not None, **(found or {})}


def main(argv: list[str] | None = None) -> None:
    t = time.perf_counter()
    runs = [scenario(None, 60)] + [scenario(a, g) for a in (1e3, 1e9) for g in (20, 60, 240)]
    for r in runs:
        print(r, flush=True)
    write("garbage", {"burst_minutes": BURST, "incident_minutes": INCIDENT, "runs": runs,
                      "all_found": all(r["found"] for r in runs), "seconds": round(time.perf_counter() - t, 1)})


if __name__ == "__main__":
    main(sys.argv[1:])
