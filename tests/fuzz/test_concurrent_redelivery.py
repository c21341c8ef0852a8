"""The same event delivered to two worker *processes* at once, for every handler:
exactly one effect, and the loser sees the winner's result as a duplicate.

Each worker is a fresh process on the same SQLite home (as two Lambda containers
share DynamoDB). A worker that finds the other's live claim gets ``InProgress``
(transient) and is redelivered after a pause, as a queue would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..faults import at_once

ROOT = Path(__file__).resolve().parents[2]


def _worker(home: str, handler: str, event: dict[str, Any], live: bool, barrier: Any, out: Any) -> None:
    from skyloop.config import Settings
    from skyloop.errors import InProgress
    from skyloop.events import parse_event
    from skyloop.handlers import handler_for
    from skyloop.local.runtime import LocalRuntime

    rt = LocalRuntime(Settings(home=home, dry_run=not live, guardrails={"cooldown_seconds": 0}))
    _, fn = handler_for(handler)
    ev = parse_event(event)
    barrier.wait()
    for _ in range(600):
        try:
            out.put(fn(ev, rt.adapters))
            return
        except InProgress:
            time.sleep(0.05)  # the queue redelivers after the visibility timeout
    out.put({"error": "never completed"})


def _deliver_twice(home: Path, handler: str, event: dict[str, Any], live: bool = False) -> list[dict[str, Any]]:
    results = at_once(_worker, [(str(home), handler, event, live)] * 2, timeout=300)
    assert sorted(r.get("duplicate") for r in results) == [False, True], results
    return results


def test_every_handler_has_one_effect_under_concurrent_delivery(tmp_path: Path) -> None:
    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime
    from skyloop.ports.registry import Status

    home = tmp_path / "home"
    rt = LocalRuntime(Settings(home=home))
    data = (ROOT / "events" / "local" / "data" / "churn.csv").read_bytes()
    uri = rt.adapters.store.put("inbox/churn.csv", data)
    rt.adapters.store.put("inbox/churn.skyloop.json", json.dumps({"target": "churned", "params": {"n_estimators": 10}}).encode())

    _deliver_twice(home, "train", {"type": "TrainingDataArrived", "uri": uri})
    assert [v.version for v in rt.registry.versions("churn")] == [1]

    rt.registry.set_status("churn", 1, Status.APPROVED, actor="test")
    _deliver_twice(home, "deploy", {"type": "ModelVersionApproved", "event_id": "approval-1", "model_group": "churn", "version": 1})
    assert rt.registry.alias("churn", "production").version == 1
    assert rt.registry.alias_history("churn", "production") == [1]

    batch = json.loads((ROOT / "events" / "local" / "detect.json").read_text())
    results = _deliver_twice(home, "detect", batch)
    winner = next(r for r in results if not r["duplicate"])
    assert winner["requests"] and rt.adapters.remediation.depth() == len(winner["requests"])

    request = json.loads((ROOT / "events" / "local" / "remediate.json").read_text())
    before = rt.fleet.describe("api")["replicas"]
    _deliver_twice(home, "remediate", request, live=True)
    assert rt.fleet.describe("api")["replicas"] == before + 2
    assert [e["kind"] for e in rt.adapters.audit.entries()].count("executed") == 1
