"""Concurrent deliveries keep the cooldown: N processes each deliver a distinct restart of one
target at once, and exactly one restart runs (the guardrails' check and its record are one
compare-and-set: remediation/reservations.py). Locally as a user runs it, N
``skyloop invoke remediate --live`` processes on one SKYLOOP_HOME; on DynamoDB (moto):
tests/integration/aws/test_remediate_concurrency.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

N = 8


def restart(i: int) -> dict:
    return {"type": "RemediationRequested", "event_id": f"e-{i}", "request_id": f"r-{i}", "action": "restart_service",
            "target": "api", "severity": "medium", "reason": "concurrency test"}


def test_n_concurrent_cli_deliveries_restart_once(tmp_path: Path) -> None:
    env = {**os.environ, "SKYLOOP_HOME": str(tmp_path / "home")}
    env.pop("SKYLOOP_DEBUG", None)
    exe = [str(Path(sys.executable).with_name("skyloop"))]
    subprocess.run(exe + ["models"], env=env, check=True, capture_output=True)  # create the state once
    files = []
    for i in range(N):
        f = tmp_path / f"r{i}.json"
        f.write_text(json.dumps(restart(i)))
        files.append(f)
    procs = [subprocess.Popen(exe + ["invoke", "remediate", str(f), "--live"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in files]
    outs = [p.communicate(timeout=120) for p in procs]
    statuses = []
    for (out, err), p in zip(outs, procs):
        if p.returncode == 0:
            statuses.append(json.loads(out[out.index("{"):])["status"])
        else:  # a lost compare-and-set race past its retries is transient: the queue would redeliver it
            assert "stale_state" in err or "in_progress" in err, err
    assert statuses.count("executed") == 1, statuses
    assert all(s == "refused" for s in statuses if s != "executed"), statuses
    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime

    rt = LocalRuntime(Settings(home=tmp_path / "home"))
    try:
        assert rt.fleet.describe("api")["restarts"] == 1
        refused = [e for e in rt.adapters.audit.entries() if e["kind"] == "decision" and e["verdict"] == "refuse"]
        assert all("cooldown" in e["why"] for e in refused)
    finally:
        rt.close()


def test_n_processes_started_at_one_barrier_restart_once(tmp_path: Path) -> None:
    from ..faults import concurrent_restarts

    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime

    LocalRuntime(Settings(home=tmp_path / "home")).close()  # create the state once
    statuses = concurrent_restarts("local", str(tmp_path / "home"), N)
    assert statuses.count("executed") == 1, statuses
    assert set(statuses) <= {"executed", "refused", "stale_state"}, statuses
    rt = LocalRuntime(Settings(home=tmp_path / "home"))
    try:
        assert rt.fleet.describe("api")["restarts"] == 1
    finally:
        rt.close()
