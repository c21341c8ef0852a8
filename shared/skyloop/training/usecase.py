"""Train use-case: CSV bytes in, a PENDING model version (or a typed error) out."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .. import __version__
from ..config import Settings
from ..errors import InvalidDataset
from ..ports import BlobStore, ModelRegistry, Queue
from ..registry import ModelVersion, approve
from .artifacts import dump_model, write_artifact
from .dataset import DatasetLimits, load_dataset
from .model import resolve_params, train

log = logging.getLogger("skyloop.training")

_GROUP_RE = re.compile(r"[^a-zA-Z0-9-]+")


def group_from_uri(uri: str) -> str:
    """'s3://b/data/churn-2026-01.csv' -> 'churn-2026-01'."""
    stem = uri.rstrip("/").rsplit("/", 1)[-1]
    stem = stem[:-4] if stem.lower().endswith(".csv") else stem
    return _GROUP_RE.sub("-", stem).strip("-").lower()[:63] or "default"


@dataclass(frozen=True)
class TrainOutcome:
    model: ModelVersion
    auto_approved: bool
    gate_reason: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_group": self.model.group,
            "version": self.model.version,
            "status": self.model.status.value,
            "metrics": self.model.metrics,
            "auto_approved": self.auto_approved,
            "gate": self.gate_reason,
            "seconds": round(self.seconds, 3),
        }


def in_function_rule(n_bytes: int, n_rows: int | None, settings: Settings, n_cols: int | None = None) -> bool:
    """The size rule: small enough to train inside the function (see TrainingSettings)?"""
    t = settings.training
    if n_bytes > t.max_inline_bytes:
        return False
    if n_rows is not None and n_rows > t.max_inline_rows:
        return False
    return n_rows is None or n_cols is None or n_rows * n_cols <= t.max_inline_cells


def train_and_register(
    data: bytes,
    *,
    source_uri: str,
    settings: Settings,
    store: BlobStore,
    registry: ModelRegistry,
    events: Queue,
    target: str | None = None,
    group: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> TrainOutcome:
    group = group or group_from_uri(source_uri)
    if not in_function_rule(len(data), None, settings):
        raise InvalidDataset(
            f"{source_uri} is {len(data)} bytes, above the in-function limit of "
            f"{settings.training.max_inline_bytes}; no managed training backend is configured"
        )
    limits = DatasetLimits(folds=settings.training.folds, min_rows=settings.training.min_rows)
    ds = load_dataset(data, target, limits)
    if not in_function_rule(len(data), len(ds.frame), settings, ds.frame.shape[1]):
        t = settings.training
        raise InvalidDataset(
            f"{source_uri} has {len(ds.frame)} rows x {ds.frame.shape[1]} columns, above the in-function limit "
            f"({t.max_inline_rows} rows, {t.max_inline_cells} cells); no managed training backend is configured"
        )
    resolved = resolve_params(params)
    trained = train(ds, resolved, folds=settings.training.folds)
    bundle = {
        "pipeline": trained.pipeline,
        "features": ds.features,
        "target": ds.target,
        "task": ds.task,
        "classes": ds.classes,
    }
    art = write_artifact(store, group, dump_model(bundle))
    lineage = {
        "data_sha256": ds.sha256,
        "data_uri": source_uri,
        "rows": int(len(ds.frame)),
        "columns": int(ds.frame.shape[1]),
        "features": ds.features,
        "target": ds.target,
        "task": ds.task,
        "classes": [str(c) for c in ds.classes],
        "primary_metric": trained.primary_metric,
        "schema": ds.profile(),
        "code_version": __version__,
        "artifact_bytes": art.size,
        "train_seconds": round(trained.seconds, 3),
    }
    key = f"{group}:{ds.sha256}:{ds.target}:{sorted(resolved.items())}"
    version = registry.register(
        group,
        artifact_uri=art.uri,
        artifact_sha256=art.sha256,
        metrics=trained.metrics,
        params=resolved,
        lineage=lineage,
        idempotency_key=key,
    )
    log.info("registered model", extra={"model_group": group, "version": version.version, "metrics": trained.metrics})
    auto, reason = False, "manual approval required"
    if version.status.value == "PENDING":
        decision = settings.gate.decide(version, registry.alias(group, "production"))
        reason = decision.reason
        if decision.approve:
            approve(registry, events, group, version.version, actor="policy-gate", note=reason)
            version = registry.get(group, version.version)
            auto = True
    return TrainOutcome(version, auto, reason, trained.seconds)
