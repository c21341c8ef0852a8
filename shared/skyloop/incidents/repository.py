"""The one owner of an incident's key-value state (cosmicpython's repository, over the KV port).

An incident lives in five key families, and only this module builds their keys:

- ``anomaly:<id>``: the incident itself (``AnomalyFound``), extended while it goes on;
- ``incident:<service>``: the incident still open on a service, that the next batch may continue;
- ``baseline:<id>``: the pre-incident normal per metric (median, robust scale), that verification
  judges a recovery against;
- ``verify:<service>``: the actions executed on a service that wait for their verdict;
- ``resolution:<id>``: what verification concluded, attempt by attempt.

The repository is handed whatever key-value view its caller works in: detection passes its unit
of work's staged view (``outbox.py``), so every write here is carried out after the detector's
commit, never before it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

from ..events import AnomalyFound

if TYPE_CHECKING:
    from ..ports import KeyValueStore

ANOMALY, OPEN, BASELINE, PENDING, RESOLUTION = "anomaly:", "incident:", "baseline:", "verify:", "resolution:"
FAMILIES = (ANOMALY, OPEN, BASELINE, PENDING, RESOLUTION)


class Incidents:
    def __init__(self, kv: "KeyValueStore") -> None:
        self.kv = kv

    # ---- the incident ----------------------------------------------------------------
    def get(self, anomaly_id: str) -> AnomalyFound | None:
        raw = self.kv.get(ANOMALY + anomaly_id)
        return AnomalyFound.model_validate_json(raw) if raw else None

    def save(self, anomaly: AnomalyFound) -> None:
        self.kv.put(ANOMALY + anomaly.anomaly_id, anomaly.model_dump_json().encode())

    def all(self) -> list[AnomalyFound]:
        """Every incident recorded (the report's read side)."""
        return [AnomalyFound.model_validate_json(v) for _, v in self.kv.items(ANOMALY)]

    # ---- the incident still open on a service ------------------------------------------
    def open_on(self, service: str) -> dict[str, Any] | None:
        """``{"anomaly_id", "last_ts"}`` of the incident the service's next batch may continue."""
        raw = self.kv.get(OPEN + service)
        found: dict[str, Any] | None = json.loads(raw) if raw else None
        return found

    def set_open(self, service: str, still_open: dict[str, Any] | None) -> None:
        self.kv.put(OPEN + service, json.dumps(still_open).encode() if still_open else b"null")

    # ---- the pre-incident normal --------------------------------------------------------
    def baseline(self, anomaly_id: str) -> dict[str, list[float]]:
        raw = self.kv.get(BASELINE + anomaly_id)
        found: dict[str, list[float]] = json.loads(raw) if raw else {}
        return found

    def save_baseline(self, anomaly_id: str, per_metric: dict[str, list[float]]) -> None:
        self.kv.put(BASELINE + anomaly_id, json.dumps(per_metric).encode())

    # ---- actions waiting for their verdict -----------------------------------------------
    def pending(self, service: str) -> list[dict[str, Any]]:
        raw = self.kv.get(PENDING + service)
        found: list[dict[str, Any]] = json.loads(raw) if raw else []
        return found

    def save_pending(self, service: str, rows: Sequence[dict[str, Any]]) -> None:
        self.kv.put(PENDING + service, json.dumps(list(rows)).encode())

    # ---- what verification concluded ---------------------------------------------------
    def resolution(self, anomaly_id: str) -> dict[str, Any] | None:
        raw = self.kv.get(RESOLUTION + anomaly_id)
        found: dict[str, Any] | None = json.loads(raw) if raw else None
        return found

    def save_resolution(self, anomaly_id: str, doc: dict[str, Any]) -> None:
        self.kv.put(RESOLUTION + anomaly_id, json.dumps(doc).encode())


__all__ = ["FAMILIES", "Incidents"]
