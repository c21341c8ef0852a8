"""SQLite KeyValueStore and the system clock."""

from __future__ import annotations

import time

from .db import Database


class SqliteKeyValueStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> bytes | None:
        row = self.db.conn().execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row["value"])

    def put(self, key: str, value: bytes) -> None:
        with self.db.tx() as c:
            c.execute("INSERT OR REPLACE INTO kv(key, value, updated_at) VALUES (?,?,?)", (key, value, time.time()))

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        rows = self.db.conn().execute(
            "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY updated_at, key", (prefix, prefix + "\uffff")
        ).fetchall()
        return [(r["key"], bytes(r["value"])) for r in rows]


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock the caller moves: the demo replays a day of metrics in seconds with it."""

    def __init__(self, start: float) -> None:
        self._t = float(start)

    def now(self) -> float:
        return self._t

    def set(self, t: float) -> None:
        self._t = max(self._t, float(t))

    def advance(self, seconds: float) -> None:
        self._t += seconds
