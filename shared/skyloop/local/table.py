"""The local runtime's adapters, for ``skyloop.bootstrap``: files under ``$SKYLOOP_HOME`` and one
SQLite database for everything else (registry, queues, key-value state, audit, the simulated fleet)."""

from __future__ import annotations

import random
from typing import Any

from ..bootstrap import Parts, Table, ai_provider
from ..composed.idempotency import KvIdempotencyStore
from ..ports.audit import HeadSeal
from .ai import LocalAI
from .audit import SqliteAuditLog
from .blobstore import FolderBlobStore
from .db import Database
from .deployer import LocalDeployer
from .fleet import LocalFleet
from .kv import SqliteKeyValueStore
from .queue import QueuePublisher, SqliteQueue
from .registry import SqliteModelRegistry
from .remediation_state import SqliteRemediationState

# Local claims are short and renewed while the work runs: a `skyloop` killed mid-train frees its
# file a minute later (on a cloud the claim outlives the function's own timeout instead).
LEASE_SECONDS = 60.0


def _db(p: Parts) -> Database:
    """The one database every local adapter shares: the caller's (``db=``), or one at the settings' path."""
    if "db" not in p.held:
        p.held["db"] = p.options.get("db") or Database(p.settings.db_path)
    db: Database = p.held["db"]
    return db


def _fleet(p: Parts) -> LocalFleet:
    fleet = LocalFleet(_db(p), policy=p.settings.guardrails)
    for svc in p.settings.fleet:
        fleet.add_service(svc.name, kind=svc.kind, replicas=svc.replicas, model_group=svc.model_group,
                          cache_entries=svc.cache_entries)
    return fleet


class _OnFirstUse:
    """A cloud's AI services named by ``ai.provider`` for a local run, made when an upload first needs
    them: a missing SDK is then that upload's typed refusal, not a local runtime that cannot start."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._ai: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._ai is None:
            self._ai = ai_provider(self.name)
        return getattr(self._ai, attr)


def _configured_ai(p: Parts) -> Any:
    name = p.settings.ai.provider
    return LocalAI() if name == "local" else _OnFirstUse(name)


TABLE = Table(
    settings=lambda: None,
    store=lambda p: FolderBlobStore(p.settings.blob_root),
    kv=lambda p: SqliteKeyValueStore(_db(p)),
    registry=lambda p: SqliteModelRegistry(_db(p)),
    deployer=lambda p: LocalDeployer(_db(p), p.store, rng=random.Random(p.options.get("seed")), clock=p.clock),
    events=lambda p: QueuePublisher(SqliteQueue(_db(p), "events")),  # drained by the runtime's pump: the local bus
    remediation=lambda p: SqliteQueue(_db(p), "remediation"),
    idempotency=lambda p: KvIdempotencyStore(p.kv, lease_seconds=LEASE_SECONDS),
    audit=lambda p: SqliteAuditLog(_db(p), seal=HeadSeal(p.settings.home / "audit.head"), clock=p.clock),
    executor=_fleet,
    state=lambda p: SqliteRemediationState(_db(p)),
    own_ai=lambda p: LocalAI(),
    ai=_configured_ai,
    mirror_artifacts=lambda s: s.home / "mlflow-artifacts",
    notifications=lambda p: SqliteQueue(_db(p), "notifications"),
)
