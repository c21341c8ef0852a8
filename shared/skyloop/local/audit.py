"""Append-only, hash-chained audit log on SQLite, with its head sealed outside the log.

Each entry stores the sha256 of (previous hash + canonical JSON of this entry),
and triggers refuse UPDATE/DELETE, so ``verify()`` detects any edit made by
going around the triggers (e.g. rewriting the file). A chain alone cannot show
that its *last* entries were cut off, so after each append the head (count and
last hash) is sealed with an HMAC into a file beside the database
(:class:`~skyloop.ports.audit.HeadSeal`); ``verify()`` checks the log against it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from ..ports.audit import GENESIS, HeadSeal, canonical, digest, entry, verify_chain
from ..ports import Clock
from .db import Database



class SqliteAuditLog:
    def __init__(self, db: Database, *, seal: HeadSeal | None = None, clock: Clock | None = None) -> None:
        self.db = db
        self.seal = seal
        self.clock = clock

    def _now(self) -> str:
        ts = self.clock.now() if self.clock is not None else datetime.now(timezone.utc).timestamp()
        return datetime.fromtimestamp(ts, timezone.utc).isoformat()

    def append(self, kind: str, payload: Mapping[str, Any]) -> int:
        at = self._now()
        body = canonical(payload)
        with self.db.tx() as c:
            row = c.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            prev = row["hash"] if row else GENESIS
            h = digest(prev, at, kind, body)
            cur = c.execute(
                "INSERT INTO audit_log(at, kind, payload, prev_hash, hash) VALUES (?,?,?,?,?)",
                (at, kind, body, prev, h),
            )
            seq = int(cur.lastrowid or 0)
            if self.seal is not None:  # inside the write lock: two writers cannot seal out of order
                # the log is append-only and its sequence dense, so seq is the entry count: a
                # COUNT(*) here made every append O(log size) (the soak slowed 2.5x at 200k entries).
                # Pending until the commit: a kill -9 before it leaves a log one entry short of the
                # seal, which the pending seal accepts (it once read as TRUNCATED).
                self.seal.write(seq, h, prev=(seq - 1, prev))
        if self.seal is not None:
            self.seal.write(seq, h)  # committed
        return seq

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, at, kind, payload, hash FROM audit_log ORDER BY seq"
        rows = self.db.conn().execute(sql).fetchall()
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return [entry(r["seq"], r["at"], r["kind"], r["hash"], r["payload"]) for r in rows]

    def verify(self) -> tuple[bool, str]:
        rows = [dict(r) for r in self.db.conn().execute(
            "SELECT seq, at, kind, payload, prev_hash, hash FROM audit_log ORDER BY seq")]
        ok, detail = verify_chain(rows)
        if not ok or self.seal is None:
            return ok, detail
        return self.seal.check(len(rows), rows[-1]["hash"] if rows else GENESIS, detail)
