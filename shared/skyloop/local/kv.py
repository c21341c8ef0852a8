"""SQLite KeyValueStore and the system clock."""

from __future__ import annotations

import time

from ..errors import StaleState
from ..ports.kv import check_size
from .db import Database


class SqliteKeyValueStore:
    """The kv table; each row carries a version counter for compare-and-set (``BEGIN IMMEDIATE``
    makes the check and the write one step against other processes on the same file)."""

    max_value_bytes = 64 * 1024 * 1024

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> bytes | None:
        row = self.db.conn().execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row["value"])

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        row = self.db.conn().execute("SELECT value, version FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else (bytes(row["value"]), str(row["version"]))

    def put(self, key: str, value: bytes) -> None:
        check_size(self, key, value)
        with self.db.tx() as c:
            c.execute("INSERT INTO kv(key, value, updated_at, version) VALUES (?,?,?,1) ON CONFLICT(key) DO UPDATE SET "
                      "value=excluded.value, updated_at=excluded.updated_at, version=kv.version + 1", (key, value, time.time()))

    def put_if(self, key: str, value: bytes, expected: str | None) -> str:
        check_size(self, key, value)
        with self.db.tx() as c:
            row = c.execute("SELECT version FROM kv WHERE key=?", (key,)).fetchone()
            current = None if row is None else str(row["version"])
            if current != expected:
                raise StaleState(f"{key}: changed since it was read")
            version = 1 if row is None else int(row["version"]) + 1
            c.execute("INSERT OR REPLACE INTO kv(key, value, updated_at, version) VALUES (?,?,?,?)",
                      (key, value, time.time(), version))
        return str(version)

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        rows = self.db.conn().execute(
            "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY updated_at, key", (prefix, prefix + "\uffff")
        ).fetchall()
        return [(r["key"], bytes(r["value"])) for r in rows]
