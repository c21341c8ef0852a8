"""The remediation state on SQLite (the ``RemediationState`` port): when each action last ran on a
target, the log the guardrails count, and the requests held for a person's approval."""

from __future__ import annotations

import json
import time
from typing import Any

from .db import Database


class SqliteRemediationState:
    def __init__(self, db: Database) -> None:
        self.db = db

    def last_executed(self, target: str, action: str) -> float | None:
        row = self.db.conn().execute(
            "SELECT last_executed FROM remediation_state WHERE target=? AND action=?", (target, action)
        ).fetchone()
        return None if row is None else float(row[0])

    def count_since(self, since: float) -> int:
        return int(self.db.conn().execute("SELECT COUNT(*) FROM remediation_log WHERE at>=?", (since,)).fetchone()[0])

    def record(self, target: str, action: str, at: float, request_id: str | None = None) -> None:
        with self.db.tx() as c:
            if request_id is not None and c.execute(
                "SELECT 1 FROM remediation_log WHERE request_id=?", (request_id,)
            ).fetchone() is not None:
                return
            c.execute("INSERT OR REPLACE INTO remediation_state(target, action, last_executed) VALUES (?,?,?)", (target, action, at))
            c.execute("INSERT INTO remediation_log(target, action, at, request_id) VALUES (?,?,?,?)",
                      (target, action, at, request_id))

    def hold(self, request_id: str, body: str, reason: str, at: float) -> None:
        with self.db.tx() as c:
            c.execute("INSERT OR IGNORE INTO pending_approvals(request_id, body, reason, at) VALUES (?,?,?,?)",
                      (request_id, body, reason, at))

    def held(self) -> list[dict[str, Any]]:
        rows = self.db.conn().execute(
            "SELECT request_id, body, reason, at FROM pending_approvals WHERE decided IS NULL ORDER BY at"
        ).fetchall()
        return [{"request_id": r["request_id"], "reason": r["reason"], "at": r["at"], **json.loads(r["body"])} for r in rows]

    def release_hold(self, request_id: str, decision: str) -> str | None:
        with self.db.tx() as c:
            row = c.execute("SELECT body FROM pending_approvals WHERE request_id=? AND decided IS NULL", (request_id,)).fetchone()
            if row is None:
                return None
            c.execute("UPDATE pending_approvals SET decided=? WHERE request_id=?", (f"{decision}@{time.time():.0f}", request_id))
            return str(row["body"])
