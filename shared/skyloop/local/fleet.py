"""A simulated fleet on SQLite: services with replicas, a cache, and the model they serve.

It is the local ``ActionExecutor``: its primitives (set replicas, restart, clear the cache)
change rows here. What to do and within which bounds is decided in the core
(``remediation/plans.py``), which also carries out model actions itself.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from ..config import GuardrailSettings
from ..errors import NotFound
from .db import Database


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class LocalFleet:
    def __init__(
        self,
        db: Database,
        *,
        policy: GuardrailSettings,
    ) -> None:
        self.db, self.policy = db, policy  # policy: the bounds new services start with

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
        out["actions"] = ["scale_out", "restart_service", "clear_cache"]
        return out

    # ---- infrastructure primitives (the plan, bounds and model actions are the core's) ----
    def set_replicas(self, target: str, replicas: int) -> str:
        self._set(target, replicas=int(replicas))
        return ""

    def restart(self, target: str) -> str:
        with self.db.tx() as c:  # one statement: a concurrent restart is counted, not overwritten
            c.execute("UPDATE fleet_services SET restarts=restarts+1, cache_entries=0, updated_at=? WHERE name=?",
                      (_now(), target))
        return ""

    def clear_cache(self, target: str) -> str:
        with self.db.tx() as c:  # what was cleared, read in the transaction that clears it
            row = c.execute("SELECT cache_entries FROM fleet_services WHERE name=?", (target,)).fetchone()
            c.execute("UPDATE fleet_services SET cache_entries=0, updated_at=? WHERE name=?", (_now(), target))
        return f"{int(row['cache_entries']) if row else 0} entries"

    def warm_cache(self, name: str, entries: int) -> None:
        """The simulated service caches what it serves: its cache refills after a clear or a
        restart, so the next clear_cache has something to clear."""
        with self.db.tx() as c:
            c.execute("UPDATE fleet_services SET cache_entries=MAX(cache_entries, ?), updated_at=? WHERE name=?",
                      (entries, _now(), name))

    def _set(self, target: str, **changes: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in changes)
        with self.db.tx() as c:
            c.execute(f"UPDATE fleet_services SET {sets}, updated_at=? WHERE name=?", (*changes.values(), _now(), target))
