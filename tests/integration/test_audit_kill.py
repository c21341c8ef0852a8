"""kill -9 while the audit log is being written: the log verifies after every kill. The head was
sealed before the SQLite commit, so a kill between the two read as 'TAMPERED TRUNCATED'."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

WRITER = """
import sys
from skyloop.local.audit import SqliteAuditLog
from skyloop.local.db import Database
from skyloop.ports.audit import HeadSeal
home = sys.argv[1]
log = SqliteAuditLog(Database(home + "/state.db"), seal=HeadSeal(home + "/audit.head"))
print("ready", flush=True)
i = 0
while True:
    log.append("decision", {"request_id": f"r{i}", "why": "x" * 200})
    i += 1
"""


def test_the_audit_log_verifies_after_every_kill_9(tmp_path: Path) -> None:
    from skyloop.local.audit import SqliteAuditLog
    from skyloop.local.db import Database
    from skyloop.ports.audit import HeadSeal

    env = {**os.environ, "SKYLOOP_AUDIT_KEY": "test-key"}
    results = []
    for i in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.037 * i)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        os.environ["SKYLOOP_AUDIT_KEY"] = "test-key"
        try:
            db = Database(tmp_path / "state.db")
            results.append(SqliteAuditLog(db, seal=HeadSeal(tmp_path / "audit.head")).verify())
            db.close()
        finally:
            del os.environ["SKYLOOP_AUDIT_KEY"]
    bad = [r for r in results if not r[0]]
    assert bad == [], bad
