"""SQLite IdempotencyStore: the local twin of Powertools' DynamoDB persistence layer.

Same states as Powertools (INPROGRESS with an expiry, COMPLETED with the saved
result), so a redelivered event returns the first result instead of acting again,
and a worker that crashed mid-claim does not block the key forever.
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping

from ..errors import InProgress
from .db import Database


class SqliteIdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self, key: str, *, expires_after: float = 300.0) -> dict[str, Any] | None:
        now = time.time()
        with self.db.tx() as c:
            row = c.execute("SELECT status, result, expires_at FROM idempotency WHERE key=?", (key,)).fetchone()
            if row is not None:
                if row["status"] == "COMPLETED":
                    return json.loads(row["result"])
                if row["expires_at"] > now:
                    raise InProgress(f"event {key} is being processed by another worker")
            c.execute(
                "INSERT OR REPLACE INTO idempotency(key, status, result, expires_at, updated_at)"
                " VALUES (?, 'INPROGRESS', NULL, ?, ?)",
                (key, now + expires_after, now),
            )
        return None

    def complete(self, key: str, result: Mapping[str, Any]) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE idempotency SET status='COMPLETED', result=?, updated_at=? WHERE key=?",
                (json.dumps(result, default=str), time.time(), key),
            )

    def release(self, key: str) -> None:
        with self.db.tx() as c:
            c.execute("DELETE FROM idempotency WHERE key=? AND status='INPROGRESS'", (key,))
