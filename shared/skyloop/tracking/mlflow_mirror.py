"""Skyloop's runs mirrored into MLflow, for teams who already look there.

The registry stays the record. Each model version becomes one MLflow run in the
experiment ``<prefix><group>``: its params, its CV and held-back metrics, the data
hash, code version and duration as tags, its gate decision, and its lineage as an
artifact. Its status and aliases are tags that change as the version moves
through the lifecycle. A sync compares what MLflow holds with the registry and
writes only the difference. Running it twice is harmless, which is what
at-least-once delivery needs, and a sync that failed (MLflow down) is repaired by
the next one.

``mlflow`` (the ``[mlflow]`` extra: mlflow-skinny plus SQLAlchemy for a SQLite
store) is imported only when a mirror is configured and used.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import TrackingUnavailable

if TYPE_CHECKING:
    from ..ports import KeyValueStore, ModelRegistry
    from ..ports.registry import ModelVersion

log = logging.getLogger(__name__)

ALIASES = ("production", "staging", "canary")
TAG = "skyloop."
LINEAGE_FILE = "skyloop/lineage.json"
# MLflow's own limits (mlflow.utils.validation): longer values are refused, not cut
MAX_PARAM_CHARS = 6000
MAX_TAG_CHARS = 8000
_USERINFO = re.compile(r"//[^/@\s]+@")  # http://user:token@host in an error message


@dataclass
class SyncReport:
    group: str
    experiment: str = ""
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    duplicates_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "experiment": self.experiment, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "duplicates_removed": self.duplicates_removed}


def _clip(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(version: "ModelVersion") -> int:
    return int(version.created_at.timestamp() * 1000)


def run_metrics(version: "ModelVersion") -> dict[str, float]:
    """The version's metrics, plus production's score on the same held-back rows
    (``production_holdout_*``), so the MLflow compare view shows the gate's evidence."""
    out = {k: float(v) for k, v in version.metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    base = ((version.lineage.get("holdout") or {}).get("baseline") or {}).get("metrics") or {}
    out.update({f"production_holdout_{k}": float(v) for k, v in base.items()
                if isinstance(v, (int, float)) and math.isfinite(v)})
    secs = version.lineage.get("train_seconds")
    if isinstance(secs, (int, float)):
        out["train_seconds"] = float(secs)
    return out


def run_tags(version: "ModelVersion", aliases: Iterable[str], gate: dict[str, Any] | None) -> dict[str, str]:
    """Tags that describe the version now: the ones a sync keeps current."""
    lin = version.lineage
    shift = (lin.get("data_vs_previous") or {}).get("shifted_features") or []
    tags = {
        f"{TAG}group": version.group,
        f"{TAG}version": str(version.version),
        f"{TAG}status": version.status.value,
        f"{TAG}aliases": ",".join(sorted(aliases)),
        f"{TAG}data_sha256": str(lin.get("data_sha256", "")),
        f"{TAG}data_uri": str(lin.get("data_uri", "")),
        f"{TAG}rows": str(lin.get("rows", "")),
        f"{TAG}target": str(lin.get("target", "")),
        f"{TAG}primary_metric": str(lin.get("primary_metric", "")),
        f"{TAG}artifact_sha256": version.artifact_sha256,
        f"{TAG}code_version": str(lin.get("code_version", "")),
        f"{TAG}sklearn_version": str(lin.get("sklearn_version", "")),
        f"{TAG}shifted_vs_previous": ",".join(shift),
        "mlflow.source.name": "skyloop",
        "mlflow.source.type": "JOB",
    }
    if gate is not None:
        tags[f"{TAG}gate.approve"] = str(bool(gate.get("approve"))).lower()
        tags[f"{TAG}gate.against"] = "" if gate.get("against") is None else str(gate["against"])
        tags[f"{TAG}gate.reason"] = str(gate.get("reason", ""))
        tags["mlflow.note.content"] = f"Skyloop gate: {gate.get('reason', '')}"
    return {k: _clip(v, MAX_TAG_CHARS) for k, v in tags.items()}


def run_params(version: "ModelVersion") -> dict[str, str]:
    return {str(k)[:250]: _clip(v, MAX_PARAM_CHARS) for k, v in version.params.items()}


class MlflowMirror:
    """One MLflow tracking URI, written through ``MlflowClient`` (never the fluent API's
    process-global active run, which concurrent handlers would share)."""

    def __init__(self, uri: str, *, experiment_prefix: str = "skyloop/", artifact_root: str | None = None,
                 kv: "KeyValueStore | None" = None) -> None:
        import importlib.util

        if importlib.util.find_spec("mlflow") is None:
            raise TrackingUnavailable("tracking.mlflow_uri is set but mlflow is not installed: "
                                      "pip install 'skyloop[mlflow]'")
        self.uri = uri
        self.prefix = experiment_prefix
        self.artifact_root = artifact_root.rstrip("/") if artifact_root else None
        self.kv = kv
        self._client: Any = None
        self._experiments: dict[str, str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def experiment_name(self, group: str) -> str:
        return f"{self.prefix}{group}"

    def _experiment_id(self, group: str) -> str:
        name = self.experiment_name(group)
        if name in self._experiments:
            return self._experiments[name]
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            from mlflow.exceptions import MlflowException

            location = f"{self.artifact_root}/{group}" if self.artifact_root else None
            try:
                exp_id = self.client.create_experiment(name, artifact_location=location,
                                                       tags={f"{TAG}group": group})
            except MlflowException:  # created meanwhile by a concurrent sync
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            exp_id = exp.experiment_id
        self._experiments[name] = exp_id
        return exp_id

    def _runs_by_version(self, exp_id: str) -> dict[int, list[Any]]:
        by_version: dict[int, list[Any]] = {}
        token = None
        while True:
            page = self.client.search_runs([exp_id], max_results=1000, page_token=token,
                                           order_by=["attributes.start_time ASC"])
            for run in page:
                v = run.data.tags.get(f"{TAG}version")
                if v is not None and v.isdigit():
                    by_version.setdefault(int(v), []).append(run)
            token = page.token
            if not token:
                return by_version

    def _gates(self, group: str) -> dict[int, dict[str, Any]]:
        if self.kv is None:
            return {}
        from ..serving.history import gate_decisions

        return {int(d["version"]): d for d in gate_decisions(self.kv, group) if "version" in d}

    def sync(self, registry: "ModelRegistry", group: str) -> SyncReport:
        """Bring the group's MLflow experiment up to the registry. Raises
        ``TrackingUnavailable`` with MLflow's reason if it cannot."""
        try:
            return self._sync(registry, group)
        except TrackingUnavailable:
            raise
        except Exception as exc:  # MLflow, SQLAlchemy and HTTP errors alike: the mirror is best effort
            reason = _USERINFO.sub("//***@", f"{type(exc).__name__}: {exc}")
            raise TrackingUnavailable(f"MLflow mirror of {group} failed: {reason}", group=group) from exc

    def _sync(self, registry: "ModelRegistry", group: str) -> SyncReport:
        from mlflow.entities import Metric, Param, RunTag

        report = SyncReport(group, self.experiment_name(group))
        exp_id = self._experiment_id(group)
        existing = self._runs_by_version(exp_id)
        aliases: dict[int, list[str]] = {}
        for name in ALIASES:
            holder = registry.alias(group, name)
            if holder is not None:
                aliases.setdefault(holder.version, []).append(name)
        gates = self._gates(group)
        for version in registry.versions(group):
            tags = run_tags(version, aliases.get(version.version, []), gates.get(version.version))
            runs = existing.get(version.version, [])
            for extra in runs[1:]:  # two syncs raced to create it: keep the first
                self.client.delete_run(extra.info.run_id)
                report.duplicates_removed += 1
            if runs:
                changed = [RunTag(k, v) for k, v in tags.items() if runs[0].data.tags.get(k) != v]
                if changed:
                    self.client.log_batch(runs[0].info.run_id, tags=changed)
                    report.updated.append(version.version)
                else:
                    report.unchanged += 1
                continue
            start = _ms(version)
            run = self.client.create_run(exp_id, start_time=start, tags=tags, run_name=f"v{version.version}")
            run_id = run.info.run_id
            params = [Param(k, v) for k, v in run_params(version).items()]
            metrics = [Metric(k, v, start, 0) for k, v in run_metrics(version).items()]
            self.client.log_batch(run_id, metrics=metrics, params=params)
            self.client.log_dict(run_id, version.lineage, LINEAGE_FILE)
            secs = version.lineage.get("train_seconds")
            end = start + int(float(secs) * 1000) if isinstance(secs, (int, float)) else start
            self.client.set_terminated(run_id, "FINISHED", end_time=end)
            report.created.append(version.version)
        log.info("mlflow mirror synced", extra={"model_group": group, **report.to_dict()})
        return report

    def try_sync(self, registry: "ModelRegistry", group: str) -> SyncReport | None:
        """For handlers: a failed mirror is logged and never fails the handler, whose
        real work (the registry) is done; the next sync repairs it."""
        try:
            return self.sync(registry, group)
        except TrackingUnavailable as exc:
            log.warning("mlflow mirror not updated; the next sync will repair it",
                        extra={"model_group": group, "reason": exc.reason})
            return None
