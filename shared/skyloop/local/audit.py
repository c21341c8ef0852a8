"""Append-only, hash-chained audit log on SQLite.

Each entry stores the sha256 of (previous hash + canonical JSON of this entry),
and triggers refuse UPDATE/DELETE, so ``verify()`` detects any edit made by
going around the triggers (e.g. rewriting the file).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from ..auditchain import GENESIS, canonical, digest, verify_chain
from .db import Database


class SqliteAuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, kind: str, payload: Mapping[str, Any]) -> int:
        at = datetime.now(timezone.utc).isoformat()
        body = canonical(payload)
        with self.db.tx() as c:
            row = c.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            prev = row["hash"] if row else GENESIS
            h = digest(prev, at, kind, body)
            cur = c.execute(
                "INSERT INTO audit_log(at, kind, payload, prev_hash, hash) VALUES (?,?,?,?,?)",
                (at, kind, body, prev, h),
            )
            return int(cur.lastrowid or 0)

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, at, kind, payload, hash FROM audit_log ORDER BY seq"
        rows = self.db.conn().execute(sql).fetchall()
        if limit is not None:
            rows = rows[-limit:]
        return [
            {"seq": r["seq"], "at": r["at"], "kind": r["kind"], "hash": r["hash"], **json.loads(r["payload"])}
            for r in rows
        ]

    def verify(self) -> tuple[bool, str]:
        return verify_chain(
            self.db.conn().execute("SELECT seq, at, kind, payload, prev_hash, hash FROM audit_log ORDER BY seq")
        )
