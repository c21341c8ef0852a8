"""Local Deployer: slots and traffic weights in SQLite, models loaded only when verified.

The endpoint process (``skyloop serve``) and the deploy handler share the
SQLite state, so a rollout or rollback done by one is served by the other on
its next request. Loaded models are cached by sha256: a new artifact is a new
cache entry, a tampered file never gets in.
"""

from __future__ import annotations

import math
import random
import threading
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from ..errors import ArtifactIntegrityError, InvalidRequest, NotFound
from ..ports import BlobStore
from ..registry import ModelVersion
from ..training.artifacts import load_verified
from .db import Database



class LocalDeployer:
    def __init__(self, db: Database, store: BlobStore, rng: random.Random | None = None) -> None:
        self.db = db
        self.store = store
        self.rng = rng or random.Random()
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _load(self, uri: str, sha256: str) -> dict[str, Any]:
        with self._lock:
            bundle = self._cache.get(sha256)
        if bundle is None:
            bundle = load_verified(self.store, uri, sha256)
            with self._lock:
                self._cache[sha256] = bundle
        return bundle

    def deploy(self, group: str, slot: str, version: ModelVersion) -> None:
        self._load(version.artifact_uri, version.artifact_sha256)  # refuse before it serves
        with self.db.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO deployments(model_group, slot, version, artifact_uri, artifact_sha256, deployed_at)"
                " VALUES (?,?,?,?,?,?)",
                (group, slot, version.version, version.artifact_uri, version.artifact_sha256,
                 datetime.now(timezone.utc).isoformat()),
            )

    def undeploy(self, group: str, slot: str) -> None:
        with self.db.tx() as c:
            c.execute("DELETE FROM deployments WHERE model_group=? AND slot=?", (group, slot))
            c.execute("DELETE FROM traffic WHERE model_group=? AND slot=?", (group, slot))

    def set_traffic(self, group: str, weights: Mapping[str, float]) -> None:
        total = sum(weights.values())
        if weights and (any(w < 0 for w in weights.values()) or not math.isclose(total, 1.0, abs_tol=1e-9)):
            raise ValueError(f"traffic weights must be >= 0 and sum to 1, got {dict(weights)}")
        with self.db.tx() as c:
            c.execute("DELETE FROM traffic WHERE model_group=?", (group,))
            for slot, w in weights.items():
                c.execute("INSERT INTO traffic(model_group, slot, weight) VALUES (?,?,?)", (group, slot, float(w)))

    def traffic(self, group: str) -> dict[str, float]:
        rows = self.db.conn().execute("SELECT slot, weight FROM traffic WHERE model_group=?", (group,)).fetchall()
        return {r["slot"]: r["weight"] for r in rows}

    def slots(self, group: str) -> dict[str, int]:
        rows = self.db.conn().execute("SELECT slot, version FROM deployments WHERE model_group=?", (group,)).fetchall()
        return {r["slot"]: r["version"] for r in rows}

    def groups(self) -> list[str]:
        return [r[0] for r in self.db.conn().execute("SELECT DISTINCT model_group FROM deployments ORDER BY 1")]

    def route(self, group: str) -> str:
        weights = {s: w for s, w in self.traffic(group).items() if w > 0}
        if not weights:
            raise NotFound(f"model {group} has no live traffic")
        slots = sorted(weights)
        return self.rng.choices(slots, weights=[weights[s] for s in slots], k=1)[0]

    def predict(self, group: str, rows: Sequence[Mapping[str, Any]], slot: str | None = None) -> list[Any]:
        return self.predict_detailed(group, rows, slot)["predictions"]

    def predict_detailed(self, group: str, rows: Sequence[Mapping[str, Any]], slot: str | None = None) -> dict[str, Any]:
        slot = slot or self.route(group)
        row = self.db.conn().execute(
            "SELECT version, artifact_uri, artifact_sha256 FROM deployments WHERE model_group=? AND slot=?", (group, slot)
        ).fetchone()
        if row is None:
            raise NotFound(f"nothing is deployed in {group}/{slot}")
        bundle = self._load(row["artifact_uri"], row["artifact_sha256"])
        frame = _frame(bundle, rows)
        preds = bundle["pipeline"].predict(frame)
        return {"predictions": [_plain(p) for p in preds], "version": row["version"], "slot": slot}


def _plain(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x


def _frame(bundle: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Any:
    """The serving module's request validation, with Skyloop's typed error."""
    from ..inference import RequestError, frame

    try:
        return frame(bundle, rows)
    except RequestError as exc:
        raise InvalidRequest(str(exc)) from None


__all__ = ["ArtifactIntegrityError", "LocalDeployer"]
