"""kill -9 mid-train: the file is free again a lease later (60 s locally, renewed while the work
runs), not after a whole function timeout, and the refusal says when the claim expires. It once
blocked the file for 16 minutes with a bare "being processed by another worker"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_a_killed_trainer_frees_its_file_a_lease_later(tmp_path: Path, monkeypatch) -> None:
    from skyloop.app.demo_data import churn_csv
    from skyloop.config import Settings
    from skyloop.errors import InProgress
    from skyloop import once as _once
    from skyloop.local import runtime as local_runtime
    from skyloop.local import table as local_table

    monkeypatch.setattr(local_table, "LEASE_SECONDS", 3.0)
    data = tmp_path / "churn.csv"
    data.write_bytes(churn_csv(5_000, label_noise=0.1, seed=1))
    # a forest this size takes minutes on 2 cores: the kill comes long before it ends
    (tmp_path / "churn.skyloop.json").write_text('{"model": "random_forest", "params": {"n_estimators": 5000}}')
    home = tmp_path / "home"
    code = ("import sys; from skyloop.local import table as t; t.LEASE_SECONDS = 3.0\n"
            "from skyloop.app.cli import main; sys.argv = ['skyloop', 'train', sys.argv[1], '--home', sys.argv[2]]; main()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(data), str(home)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    rt = local_runtime.LocalRuntime(Settings(home=home))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(rt.adapters.kv.items("idempotency:")):
            time.sleep(0.05)  # the trainer has claimed the file
        time.sleep(4.0)  # past one lease: the trainer is still alive, so its heartbeat renewed the claim
        assert proc.poll() is None, "training ended before the kill: make the file bigger"
        key = next(k for k, v in rt.adapters.kv.items("idempotency:") if b"INPROGRESS" in v)[len("idempotency:"):]
        try:
            rt.adapters.idempotency.begin(key, expires_after=3.0)
            raise AssertionError("a live trainer's claim was taken")
        except InProgress as exc:
            assert "expires in" in str(exc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(3.5)  # one lease after the kill
        assert rt.adapters.idempotency.begin(key, expires_after=3.0) is None  # free again
    finally:
        if proc.poll() is None:
            proc.kill()
        rt.close()
    assert _once.CLAIM_SECONDS == 960.0  # the clouds keep claims past their functions' timeouts
