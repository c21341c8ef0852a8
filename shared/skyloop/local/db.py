"""One SQLite database shared by the local adapters.

WAL mode plus ``BEGIN IMMEDIATE`` gives the behaviour the adapters rely on:
many readers, one writer at a time, and a claim (a compare-and-set, a queue receive)
that two processes cannot both win.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    model_group TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    metrics TEXT NOT NULL,
    params TEXT NOT NULL,
    lineage TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model_group, version)
);
CREATE TABLE IF NOT EXISTS model_status_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_group TEXT NOT NULL, version INTEGER NOT NULL,
    old_status TEXT, new_status TEXT NOT NULL, actor TEXT NOT NULL, note TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_messages (
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    visible_at REAL NOT NULL,
    receipt TEXT,
    sent_at REAL NOT NULL,
    PRIMARY KEY (queue, message_id)
);
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS queue_dead_letters (
    queue TEXT NOT NULL, message_id TEXT NOT NULL, body TEXT NOT NULL,
    reason TEXT NOT NULL, receive_count INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (queue, message_id)
);
CREATE TABLE IF NOT EXISTS serving_stats (
    model_group TEXT NOT NULL, slot TEXT NOT NULL, version INTEGER NOT NULL, minute INTEGER NOT NULL,
    calls INTEGER NOT NULL, errors INTEGER NOT NULL, latency_ms REAL NOT NULL,
    predictions INTEGER NOT NULL, prediction_sum REAL NOT NULL,
    PRIMARY KEY (model_group, slot, version, minute)
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS fleet_services (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    replicas INTEGER NOT NULL,
    min_replicas INTEGER NOT NULL,
    max_replicas INTEGER NOT NULL,
    cache_entries INTEGER NOT NULL DEFAULT 0,
    restarts INTEGER NOT NULL DEFAULT 0,
    model_group TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    model_group TEXT NOT NULL, slot TEXT NOT NULL, version INTEGER NOT NULL,
    artifact_uri TEXT NOT NULL, artifact_sha256 TEXT NOT NULL, deployed_at TEXT NOT NULL,
    PRIMARY KEY (model_group, slot)
);
CREATE TABLE IF NOT EXISTS traffic (
    model_group TEXT NOT NULL, slot TEXT NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (model_group, slot)
);
CREATE TABLE IF NOT EXISTS deployment_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_group TEXT NOT NULL, version INTEGER, kind TEXT NOT NULL, detail TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remediation_state (
    target TEXT NOT NULL, action TEXT NOT NULL, last_executed REAL NOT NULL,
    PRIMARY KEY (target, action)
);
CREATE TABLE IF NOT EXISTS remediation_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, action TEXT NOT NULL, at REAL NOT NULL,
    request_id TEXT
);
-- the rate limit counts a window and redelivery looks a request up on every message:
-- without these, each message scans the whole log (the soak bench found it)
CREATE INDEX IF NOT EXISTS remediation_log_at ON remediation_log (at);
CREATE UNIQUE INDEX IF NOT EXISTS remediation_log_request ON remediation_log (request_id);
CREATE TABLE IF NOT EXISTS pending_approvals (
    request_id TEXT PRIMARY KEY, body TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL,
    decided TEXT
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY, value BLOB NOT NULL, updated_at REAL NOT NULL, version INTEGER NOT NULL DEFAULT 1
);
"""


class Database:
    """A path plus per-thread connections; ``tx()`` is a write transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # executescript manages its own transaction, so it runs outside tx().
        self.conn().executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Homes made before the kv table had versions gain the column (every row at version 1);
        tables nothing reads any more go (idempotency records now live in kv, applied actions
        under ``applied:`` keys)."""
        cols = {r["name"] for r in self.conn().execute("PRAGMA table_info(kv)").fetchall()}
        if "version" not in cols:
            with self.tx() as c:
                c.execute("ALTER TABLE kv ADD COLUMN version INTEGER NOT NULL DEFAULT 1")
        with self.tx() as c:
            c.execute("DROP TABLE IF EXISTS idempotency")
            c.execute("DROP TABLE IF EXISTS applied_actions")

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA busy_timeout=30000")
            self._local.conn = c
        return c

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None
