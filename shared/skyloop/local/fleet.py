"""A simulated fleet on SQLite: services with replicas, a cache, and the model they serve.

It is the local ``ActionExecutor``: scale_out / restart_service / clear_cache
change rows here, and rollback_deployment goes through the registry and the
deployer exactly as the cloud executors will.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Mapping

from ..config import GuardrailSettings
from ..deployment import abort_canary, rollback_production
from ..errors import GuardrailViolation, NotFound, UnknownAction
from ..ports import ActionResult, Clock, Deployer, KeyValueStore, ModelRegistry
from .db import Database


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class LocalFleet:
    def __init__(
        self,
        db: Database,
        *,
        registry: ModelRegistry,
        deployer: Deployer,
        kv: KeyValueStore,
        clock: Clock,
        policy: GuardrailSettings,
    ) -> None:
        self.db, self.registry, self.deployer, self.kv, self.clock, self.policy = db, registry, deployer, kv, clock, policy

    def add_service(self, name: str, *, kind: str = "web", replicas: int = 2, model_group: str | None = None,
                    cache_entries: int = 0) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO fleet_services(name, kind, replicas, min_replicas, max_replicas, cache_entries,"
                " restarts, model_group, updated_at) VALUES (?,?,?,?,?,?,0,?,?)",
                (name, kind, replicas, self.policy.min_replicas, self.policy.max_replicas, cache_entries, model_group, _now()),
            )

    def services(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.conn().execute("SELECT * FROM fleet_services ORDER BY name")]

    def describe(self, target: str) -> Mapping[str, Any]:
        row = self.db.conn().execute("SELECT * FROM fleet_services WHERE name=?", (target,)).fetchone()
        if row is None:
            raise NotFound(f"no service named {target!r} in the fleet")
        out = {k: row[k] for k in ("kind", "replicas", "max_replicas", "cache_entries", "restarts", "model_group")}
        if row["model_group"]:
            prod = self.registry.alias(row["model_group"], "production")
            out["model_version"] = None if prod is None else prod.version
        return out

    def execute(self, action: str, target: str, params: Mapping[str, Any], *, dry_run: bool,
                request_id: str | None = None) -> ActionResult:
        if request_id is not None and not dry_run:
            prior = self.applied(request_id)
            if prior is not None:  # redelivered after a crash between acting and auditing
                return prior
        return self._execute(action, target, params, dry_run=dry_run, request_id=request_id)

    def applied(self, request_id: str) -> ActionResult | None:
        """The recorded result if this request was already applied."""
        done = self.db.conn().execute("SELECT * FROM applied_actions WHERE request_id=?", (request_id,)).fetchone()
        if done is None:
            return None
        return ActionResult(True, done["detail"], json.loads(done["before"]), json.loads(done["after"]), replayed=True)

    def _execute(self, action: str, target: str, params: Mapping[str, Any], *, dry_run: bool,
                 request_id: str | None) -> ActionResult:
        before = dict(self.describe(target))
        if action == "notify":
            return ActionResult(False, f"on-call notified about {target}", before, before)
        if action == "scale_out":
            step = int(params.get("step") or self.policy.scale_step)
            new = min(before["replicas"] + step, self.policy.max_replicas)
            if new <= before["replicas"]:
                raise GuardrailViolation(f"{target} is at max replicas ({before['replicas']})")
            return self._update(target, dry_run, before, f"replicas {before['replicas']} -> {new}", request_id,
                                action, replicas=new)
        if action == "clear_cache":
            return self._update(target, dry_run, before, f"cache cleared ({before['cache_entries']} entries)", request_id,
                                action, cache_entries=0)
        if action == "restart_service":
            return self._update(target, dry_run, before, f"rolling restart of {before['replicas']} replicas", request_id,
                                action, restarts=before["restarts"] + 1, cache_entries=0)
        if action in ("rollback_deployment", "abort_canary"):
            return self._model_action(action, target, params, before, dry_run, request_id)
        raise UnknownAction(f"the local fleet cannot {action!r}")

    def _model_action(self, action: str, target: str, params: Mapping[str, Any], before: dict[str, Any],
                      dry_run: bool, request_id: str | None) -> ActionResult:
        """Actions on the model a service serves: through the registry and the deployer."""
        group = before.get("model_group")
        if not group:
            raise GuardrailViolation(f"{target} serves no model")
        if action == "rollback_deployment":
            if dry_run:
                return ActionResult(False, f"would roll back {group} from v{before.get('model_version')}", before, before)
            frm, to = rollback_production(group, deployer=self.deployer, registry=self.registry, kv=self.kv,
                                          clock=self.clock, reason=f"rolled back by remediation on {target}")
            changed, detail = True, f"{group} rolled back v{frm} -> v{to}"
        else:
            if dry_run:
                return ActionResult(False, f"would abort the canary of {group}", before, before)
            changed, detail = abort_canary(group, params.get("version"), deployer=self.deployer, registry=self.registry,
                                           kv=self.kv, clock=self.clock, reason=f"abort_canary on {target}")
        result = ActionResult(changed, detail, before, dict(self.describe(target)))
        if request_id is not None:
            with self.db.tx() as c:
                self._mark(c, request_id, action, target, result)
        return result

    def warm_cache(self, name: str, entries: int) -> None:
        """The simulated service caches what it serves: its cache refills after a clear or a
        restart, so the next clear_cache has something to clear."""
        with self.db.tx() as c:
            c.execute("UPDATE fleet_services SET cache_entries=MAX(cache_entries, ?), updated_at=? WHERE name=?",
                      (entries, _now(), name))

    def _update(self, target: str, dry_run: bool, before: dict[str, Any], detail: str, request_id: str | None,
                action: str, **changes: Any) -> ActionResult:
        after = {**before, **changes}
        if dry_run:
            return ActionResult(False, "would: " + detail, before, after)
        sets = ", ".join(f"{k}=?" for k in changes)
        result = ActionResult(True, detail, before, after)
        with self.db.tx() as c:  # the change and its request id commit together: exactly once
            c.execute(f"UPDATE fleet_services SET {sets}, updated_at=? WHERE name=?", (*changes.values(), _now(), target))
            if request_id is not None:
                self._mark(c, request_id, action, target, result)
        return result

    @staticmethod
    def _mark(c: Any, request_id: str, action: str, target: str, result: ActionResult) -> None:
        c.execute(
            "INSERT INTO applied_actions(request_id, action, target, detail, before, after, at) VALUES (?,?,?,?,?,?,?)",
            (request_id, action, target, result.detail, json.dumps(dict(result.before), default=str),
             json.dumps(dict(result.after), default=str), _now()),
        )


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
