"""Models a cloud service trains, evaluates and serves itself (Vertex AI AutoML tabular), brought
into the same registry, PENDING approval flow and gate as the models Skyloop trains.

Such a model has no bytes Skyloop could hash, load or serve: its version's artifact is a small
JSON descriptor naming the service's own model (``ports/artifacts.managed_descriptor``), stored
and vouched for like any artifact, so every loader refuses it by name and the deployer deploys the
service's model. Its metrics are the service's own evaluation on its own test split, kept as
``test_<metric>`` beside the lineage's ``evaluation`` note, never dressed up as cross-validation;
the gate says which it compared (``ModelVersion.score_source``).

The service announces no end either, so the train function looks on a schedule
(``TrainingCheckDue``): the adapter reports the runs that ended as ``ports.ManagedTraining`` facts,
and this module, not the adapter, registers them and lets the gate decide, or records the failure
for the watch to tell. What the registry keeps of the data is profiled here too, from the first
rows the adapter reads (``sample_profile``), and handed to the adapter with the request.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from ..errors import InvalidDataset
from ..ports import ManagedTraining

if TYPE_CHECKING:
    from ..config import Settings
    from ..ports import BlobStore, EventPublisher, KeyValueStore, ModelRegistry
    from .usecase import TrainOutcome

FAILED = "train-failed:"  # key-value store: managed trainings that ended without a model, for the watch to tell
SAMPLE_ROWS_NOTE = "profiled from the first rows of the upload (the service read it whole)"
# A categorical target has at most 500 values in Vertex AI's published data requirements for tabular
# classification (2 to 500); Skyloop's own training stops at 50.
MIN_ROWS, MAX_CLASSES, SMOKE_LEVELS = 10, 500, 50


def sample_profile(head: bytes, target: str | None) -> dict[str, Any]:
    """What the registry keeps of a dataset a service reads whole (features, task, classes, schema
    for smoke rows), profiled from its first complete rows: the function never holds the file.

    Lenient where the service is: AutoML imputes missing values and takes text columns of any
    cardinality, so neither is refused here as Skyloop's own training refuses them (a smoke row
    draws from a text column's 50 commonest levels). The structure is still checked: a header with
    unique names, the target among them, at least 10 rows."""
    import io
    import warnings

    import pandas as pd

    from .dataset import DatasetLimits, _header, _task_of, numeric_profile

    cut = head.rfind(b"\n")
    rows = head[: cut + 1] if cut >= 0 else head
    header = _header(rows) if rows.strip() else []
    if not header or any(not h.strip() for h in header) or len(set(header)) != len(header):
        raise InvalidDataset("the upload's first line is no header of unique column names")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(rows), encoding="utf-8", skipinitialspace=True, index_col=False)
    except (pd.errors.ParserWarning, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidDataset(f"the upload's first rows do not parse as CSV ({type(exc).__name__})") from None
    target = target or str(frame.columns[-1])
    if target not in frame.columns:
        raise InvalidDataset(f"target column {target!r} is not in the CSV (columns: {', '.join(map(str, frame.columns))})")
    y = frame[target].dropna()
    if len(frame) < MIN_ROWS or len(y) < MIN_ROWS:
        raise InvalidDataset(f"the upload's first rows hold fewer than {MIN_ROWS} rows with a target")
    task, classes = _task_of(y, DatasetLimits(max_classes=MAX_CLASSES))
    numeric: dict[str, dict[str, Any]] = {}
    categorical: dict[str, list[str]] = {}
    features = [str(c) for c in frame.columns if c != target]
    for c in features:
        col = frame[c].dropna()
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if len(col):
                numeric[c] = numeric_profile(col)
        else:
            categorical[c] = [str(v) for v in col.astype(str).value_counts().index[:SMOKE_LEVELS]]
    return {"target": target, "task": task, "classes": [str(c) for c in classes], "features": features,
            "schema": {"numeric": numeric, "categorical": categorical}, "schema_rows": int(len(frame)),
            "schema_note": SAMPLE_ROWS_NOTE, "target_missing": int(frame[target].isna().sum())}


def register_managed(run: ManagedTraining, *, settings: "Settings", store: "BlobStore", registry: "ModelRegistry",
                     events: "EventPublisher", kv: "KeyValueStore | None" = None, manual: bool = False) -> "TrainOutcome":
    """Register what a managed service trained as a PENDING version of its group (once per run,
    however often it is reported), with its descriptor as the artifact, then let the gate decide."""
    from ..ports.artifacts import managed_descriptor
    from .usecase import gate_registered

    data = managed_descriptor(run.service, run.model, backend=run.backend, job=run.job_id)
    digest = hashlib.sha256(data).hexdigest()
    uri = store.put(f"models/{run.group}/{digest}.managed.json", data)
    lineage = {**run.lineage, "managed": {"service": run.service, "model": run.model, "backend": run.backend,
                                         "job": run.job_id}}
    version = registry.register(run.group, artifact_uri=uri, artifact_sha256=digest, metrics=dict(run.metrics),
                                params=dict(run.params), lineage=lineage,
                                idempotency_key=f"{run.group}:managed:{run.backend}:{run.job_id}")
    return gate_registered(version, settings=settings, registry=registry, events=events, kv=kv, manual=manual,
                           seconds=float(run.lineage.get("train_seconds") or 0.0))


def record_failure(kv: "KeyValueStore", run: ManagedTraining) -> None:
    """Keep why a run ended without a model, once per run, for the watch to tell people."""
    doc = {"model_group": run.group, "backend": run.backend, "job": run.job_id, "status": run.status,
           "service": run.service, "reason": run.reason or f"the run ended {run.status}",
           "input": run.lineage.get("data_uri", "")}
    kv.put(f"{FAILED}{run.backend}:{run.job_id}", json.dumps(doc, sort_keys=True).encode())


__all__ = ["FAILED", "ManagedTraining", "record_failure", "register_managed", "sample_profile"]
