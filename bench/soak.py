"""Soak: 1,000,000 metric records and 100,000 remediation messages through the local
runtime's queues, with 1% poison and 5% duplicates. Not run in CI (minutes, not seconds).

Everything goes through the same path as production traffic: messages on the SQLite
queues, drained by ``LocalRuntime.drain`` (the twin of an SQS event source mapping with
partial batch responses), handlers keyed in the idempotency store. Counted:
processed, dead-lettered, duplicates suppressed, duplicates *applied* (audited twice),
and lost (a valid message whose effect never happened). Both of the last must be 0.

    python -m bench.soak                # the full run
    python -m bench.soak --records 20000 --messages 2000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402

METRICS = ["cpu_usage", "memory_usage", "disk_io", "network_in", "network_out", "error_rate", "latency_ms"]
POISON_METRICS = ['{"type": "MetricBatch", "records": []}', "{truncated", '{"type": "MetricBatch", "service": "api", '
                  '"records": [{"timestamp": "yesterday", "values": {"cpu_usage": 1}}]}', "null"]
POISON_REQUESTS = ['{"type": "RemediationRequested", "request_id": "p", "action": "format_disk", "target": "api"}',
                   "{not json", '{"type": "RemediationRequested", "action": "scale_out"}',
                   '{"type": "RemediationRequested", "request_id": "q", "action": "clear_cache", "target": "ghost"}']


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _mix(valid: list[str], poison: list[str], rng: random.Random, n_poison: int, n_dup: int) -> list[str]:
    msgs = valid + [rng.choice(poison) for _ in range(n_poison)] + [rng.choice(valid) for _ in range(n_dup)]
    rng.shuffle(msgs)
    return msgs


def metric_batches(n_records: int, batch: int, rng: np.random.Generator) -> list[str]:
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    mean = np.array([40, 55, 120, 200, 180, 0.5, 120.0])
    sd = np.array([4, 3, 10, 20, 17, 0.1, 12.0])
    out = []
    for b in range(n_records // batch):
        X = rng.normal(mean, sd, size=(batch, 7)).round(3)
        if rng.random() < 0.05:  # an incident now and then, so detection does real work
            X[batch // 2: batch // 2 + 20, 0] += 50
        service = f"svc-{b % 20}"  # 20 services, each a stream of consecutive minutes
        t0 = start + timedelta(minutes=(b // 20) * batch)
        records = [{"timestamp": (t0 + timedelta(minutes=i)).isoformat(), "values": dict(zip(METRICS, map(float, row)))}
                   for i, row in enumerate(X)]
        out.append(json.dumps({"type": "MetricBatch", "event_id": f"b{b}", "service": service, "records": records}))
    return out


def run(n_records: int, n_messages: int, batch: int, seed: int) -> dict:
    from skyloop.config import Settings
    from skyloop.handlers import on_metrics, on_remediation
    from skyloop.local.runtime import LocalRuntime

    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    home = tempfile.mkdtemp(prefix="skyloop-soak-")
    rt = LocalRuntime(Settings(home=home, dry_run=False, fleet=[{"name": "api"}] + [{"name": f"svc-{i}"} for i in range(20)],
                               guardrails={"cooldown_seconds": 0, "max_actions_per_window": 10**9}))
    a = rt.adapters
    from skyloop.local.queue import SqliteQueue

    metrics_q = SqliteQueue(rt.db, "metrics")
    out: dict = {"records": n_records, "messages": n_messages, "poison_rate": 0.01, "duplicate_rate": 0.05}

    # ---- metrics ------------------------------------------------------------------
    valid = metric_batches(n_records, batch, nrng)
    mixed = _mix(valid, POISON_METRICS, rng, max(1, len(valid) // 100), max(1, len(valid) * 5 // 100))
    for body in mixed:
        metrics_q.send(body)
    t0 = time.perf_counter()
    report = rt.drain(metrics_q, lambda ev: on_metrics(ev, a), batch_size=10)
    secs = time.perf_counter() - t0
    dups = sum(1 for r in report.results if r.get("duplicate"))
    fresh = sum(1 for r in report.results if not r.get("duplicate"))  # first deliveries that took effect
    out["metrics"] = {
        "messages": len(mixed), "seconds": round(secs, 1), "records_per_s": round(n_records / secs),
        "processed": report.processed, "dead_lettered": report.dead_lettered, "duplicates_suppressed": dups,
        "lost": len(valid) - fresh, "queue_left": metrics_q.depth(), "peak_rss_mib": _peak_mib(),
        "anomalies": sum(len(r.get("anomalies", [])) for r in report.results if not r.get("duplicate")),
    }
    print(out["metrics"], flush=True)
    # the detect step queued its own remediation requests; drain them away from the count below
    rt.drain(a.remediation, lambda ev: on_remediation(ev, a, dry_run=True))

    # ---- remediation messages -------------------------------------------------------------
    executed_before = sum(1 for e in a.audit.entries() if e["kind"] == "executed")
    valid_req = [json.dumps({"type": "RemediationRequested", "request_id": f"soak-{i}", "action": "clear_cache",
                             "target": f"svc-{i % 20}", "severity": "medium"}) for i in range(n_messages)]
    mixed = _mix(valid_req, POISON_REQUESTS, rng, n_messages // 100, n_messages * 5 // 100)
    t0 = time.perf_counter()
    for body in mixed:
        a.remediation.send(body)
    enqueue = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = rt.drain(a.remediation, lambda ev: on_remediation(ev, a, dry_run=False), batch_size=10)
    secs = time.perf_counter() - t0
    executed = [e for e in a.audit.entries() if e["kind"] == "executed"][executed_before:]
    applied_ids = [e["request_id"] for e in executed]
    out["remediation"] = {
        "messages": len(mixed), "enqueue_seconds": round(enqueue, 1), "seconds": round(secs, 1),
        "messages_per_s": round(len(mixed) / secs), "processed": report.processed,
        "dead_lettered": report.dead_lettered,
        "duplicates_suppressed": sum(1 for r in report.results if r.get("duplicate")),
        "duplicates_applied": len(applied_ids) - len(set(applied_ids)),
        "lost": len({f"soak-{i}" for i in range(n_messages)} - set(applied_ids)),
        "queue_left": a.remediation.depth(), "audit_chain": a.audit.verify()[1], "peak_rss_mib": _peak_mib(),
    }
    print(out["remediation"], flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args(argv)
    result = run(args.records, args.messages, args.batch, args.seed)
    if args.records == 1_000_000 and args.messages == 100_000:
        write("soak", result)


if __name__ == "__main__":
    main()
