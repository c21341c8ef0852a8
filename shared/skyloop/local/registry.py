"""SQLite ModelRegistry: groups, versions, approval history; aliases in the shared AliasBook."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Mapping

from ..errors import NotFound
from ..ports.registry import AliasBook, AliasedRegistry, ModelVersion, Status, check_transition
from .db import Database
from .kv import SqliteKeyValueStore


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _row_to_version(r: Any) -> ModelVersion:
    return ModelVersion(
        group=r["model_group"],
        version=r["version"],
        status=Status(r["status"]),
        artifact_uri=r["artifact_uri"],
        artifact_sha256=r["artifact_sha256"],
        metrics=json.loads(r["metrics"]),
        params=json.loads(r["params"]),
        lineage=json.loads(r["lineage"]),
        created_at=datetime.fromisoformat(r["created_at"]),
    )


class SqliteModelRegistry(AliasedRegistry):
    def __init__(self, db: Database) -> None:
        self.db = db
        self.aliases = AliasBook(SqliteKeyValueStore(db))
        self._adopt_alias_tables()

    def _adopt_alias_tables(self) -> None:
        """Homes made before aliases moved to the shared AliasBook keep them: the old tables'
        rows become the book's documents once, then the tables go."""
        c = self.db.conn()
        if c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='model_alias_history'").fetchone() is None:
            return
        rows = c.execute("SELECT model_group, alias, version FROM model_alias_history ORDER BY id").fetchall()
        docs: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            doc = docs.setdefault((r["model_group"], r["alias"]), {"version": None, "history": []})
            doc["version"] = r["version"]
            doc["history"].append(r["version"])
        with self.db.tx() as tx:
            for (group, alias), doc in docs.items():
                tx.execute("INSERT OR IGNORE INTO kv(key, value, updated_at, version) VALUES (?,?,?,1)",
                           (f"registry:alias:{group}:{alias}", json.dumps(doc).encode(), time.time()))
            tx.execute("DROP TABLE IF EXISTS model_aliases")
            tx.execute("DROP TABLE IF EXISTS model_alias_history")

    def register(
        self,
        group: str,
        *,
        artifact_uri: str,
        artifact_sha256: str,
        metrics: Mapping[str, float],
        params: Mapping[str, Any],
        lineage: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> ModelVersion:
        """New version in PENDING. The same ``idempotency_key`` returns the existing version."""
        with self.db.tx() as c:
            if idempotency_key is not None:
                row = c.execute("SELECT * FROM model_versions WHERE idempotency_key=?", (idempotency_key,)).fetchone()
                if row is not None:
                    return _row_to_version(row)
            nxt = c.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model_group=?", (group,)
            ).fetchone()[0]
            now = _now()
            c.execute(
                "INSERT INTO model_versions(model_group, version, status, artifact_uri, artifact_sha256,"
                " metrics, params, lineage, idempotency_key, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    group, nxt, Status.PENDING.value, artifact_uri, artifact_sha256,
                    json.dumps(dict(metrics)), json.dumps(dict(params), default=str),
                    json.dumps(dict(lineage), default=str), idempotency_key, now,
                ),
            )
            c.execute(
                "INSERT INTO model_status_history(model_group, version, old_status, new_status, actor, note, at)"
                " VALUES (?,?,NULL,?,?,?,?)",
                (group, nxt, Status.PENDING.value, "skyloop", "registered", now),
            )
            row = c.execute("SELECT * FROM model_versions WHERE model_group=? AND version=?", (group, nxt)).fetchone()
        return _row_to_version(row)

    def get(self, group: str, version: int) -> ModelVersion:
        row = self.db.conn().execute(
            "SELECT * FROM model_versions WHERE model_group=? AND version=?", (group, version)
        ).fetchone()
        if row is None:
            raise NotFound(f"model {group} v{version} is not registered")
        return _row_to_version(row)

    def versions(self, group: str | None = None) -> list[ModelVersion]:
        if group is None:
            rows = self.db.conn().execute("SELECT * FROM model_versions ORDER BY model_group, version").fetchall()
        else:
            rows = self.db.conn().execute(
                "SELECT * FROM model_versions WHERE model_group=? ORDER BY version", (group,)
            ).fetchall()
        return [_row_to_version(r) for r in rows]

    def set_status(self, group: str, version: int, status: Status, *, actor: str, note: str = "") -> ModelVersion:
        with self.db.tx() as c:
            row = c.execute(
                "SELECT status FROM model_versions WHERE model_group=? AND version=?", (group, version)
            ).fetchone()
            if row is None:
                raise NotFound(f"model {group} v{version} is not registered")
            current = Status(row["status"])
            check_transition(current, status)
            if current != status:
                c.execute(
                    "UPDATE model_versions SET status=? WHERE model_group=? AND version=?",
                    (status.value, group, version),
                )
                c.execute(
                    "INSERT INTO model_status_history(model_group, version, old_status, new_status, actor, note, at)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (group, version, current.value, status.value, actor, note, _now()),
                )
        return self.get(group, version)

    def status_history(self, group: str, version: int) -> list[dict[str, Any]]:
        rows = self.db.conn().execute(
            "SELECT old_status, new_status, actor, note, at FROM model_status_history"
            " WHERE model_group=? AND version=? ORDER BY id",
            (group, version),
        ).fetchall()
        return [dict(r) for r in rows]

    def _check_version(self, group: str, version: int) -> None:
        if self.db.conn().execute(
                "SELECT 1 FROM model_versions WHERE model_group=? AND version=?", (group, version)).fetchone() is None:
            raise NotFound(f"model {group} v{version} is not registered")

    def groups(self) -> list[str]:
        return [r[0] for r in self.db.conn().execute("SELECT DISTINCT model_group FROM model_versions ORDER BY 1")]
