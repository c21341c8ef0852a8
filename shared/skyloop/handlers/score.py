"""Trigger: rows to score landed under ``batch/<group>/`` (or a ``BatchPredictionRequested``).

The group's production version scores them (or the version the event names), and the predictions
land under ``predictions/<group>/`` with a manifest beside them: rows in and out, the version and its
artifact's sha256, the input's version, the time, and the rows left out with why. Idempotent per
input version: a redelivery returns the first manifest. A file the model cannot score at all gets a
manifest saying why, and is dead-lettered with that reason, and the on-call is told.

Below the size rule the function scores in chunks itself. Above it, the cloud's batch service does
(``ports/batch.BatchScorer``: SageMaker Batch Transform, a Vertex AI batch prediction job) on the
serving image built for the version: the job is recorded, started, and the function returns. The
job's end is a later event (``BatchJobCompleted``), which writes the manifest: nothing waits.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, NotSupported, SkyloopError, TransientError
from ..events import BatchJobCompleted, BatchPredictionRequested
from ..once import once
from ..ports.batch import FAILED, JOB, BatchJob, header, job_folder, job_key, outputs, tally

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_batch(event: BatchPredictionRequested, adapters: "Adapters") -> dict[str, Any]:
    a = adapters
    limit = a.settings.batch.max_in_function_bytes
    if event.size is not None and event.size > limit:
        if a.batch is None:  # refused before anything is read
            _fits(event.uri, event.size, limit)
        return once(a.idempotency, f"score:{event.uri}@{event.version}", lambda: _submit(event, a))
    data = None if event.version else a.store.get(event.uri)
    key = f"score:{event.uri}@{event.version}" if event.version else \
        "score:" + hashlib.sha256(event.uri.encode() + b"\0" + (data or b"")).hexdigest()
    return once(a.idempotency, key, lambda: _score(event, a, data))


def _fits(uri: str, size: int, limit: int) -> None:
    if size > limit:
        raise NotSupported(f"{uri} is {size:,} bytes, above the in-function limit of {limit:,}, and this runtime "
                           "has no batch service to score it; split the file, or upload it on a cloud")


def _version(event: BatchPredictionRequested, a: "Adapters") -> Any:
    group = str(event.model_group)
    mv = a.registry.get(group, event.model_version) if event.model_version else a.registry.alias(group, "production")
    if mv is None:
        raise NotFound(f"{group} has no production version to score with; name one (model_version)")
    if mv.managed is not None:  # neither the function nor Skyloop's serving image can run it
        from ..errors import NotSupported

        raise NotSupported(f"{group} v{mv.version} is a model {mv.managed['service']} serves itself; score the "
                           "rows with that service's own batch prediction, or name a Skyloop-trained version")
    return mv


def _base(event: BatchPredictionRequested) -> dict[str, Any]:
    return {"input": event.uri, "input_version": event.version, "model_group": str(event.model_group),
            "at": datetime.now(timezone.utc).isoformat()}


def _failed(a: "Adapters", doc: dict[str, Any], manifest_key: str, exc: SkyloopError) -> None:
    """Where the manifest would be: why there are no predictions; and the watch tells the on-call."""
    doc = {**doc, "status": "failed", "error": exc.code, "reason": exc.reason}
    doc["manifest"] = a.store.put(manifest_key, json.dumps(doc, indent=2).encode())
    a.kv.put(FAILED + hashlib.sha256(f"{doc['input']}@{doc['input_version']}".encode()).hexdigest()[:32],
             json.dumps(doc).encode())


def _submit(event: BatchPredictionRequested, a: "Adapters") -> dict[str, Any]:
    """Rows above the size rule: the cloud's batch service scores them. Recorded before it starts, so
    the job's end finds what it scored; the same input version again starts no second job."""
    assert a.batch is not None
    group = str(event.model_group)
    base = _base(event)
    try:
        mv = _version(event, a)
        key = job_key(event.uri, event.version, group, mv.version)
        compressed = event.uri.split("?", 1)[0].lower().endswith(".gz")
        job = BatchJob(key=key, input_uri=event.uri, columns=header(a.batch.head(event.uri), compressed), version=mv,
                       output_folder=job_folder(group, key), compressed=compressed)
    except SkyloopError as exc:
        if not exc.retryable:
            _failed(a, base, outputs(event.uri, group)[1], exc)
        raise
    record = {**base, "version": mv.version, "version_status": mv.status.value, "artifact_sha256": mv.artifact_sha256,
              "backend": a.batch.name, "columns": job.columns, "size": event.size}
    a.kv.put(JOB + key, json.dumps(record).encode())
    job_id = a.batch.submit(job)
    a.kv.put(JOB + key, json.dumps({**record, "job_id": job_id}).encode())
    return {"status": "submitted", "backend": a.batch.name, "job_id": job_id, "key": key, "version": mv.version}


def on_batch_job(event: BatchJobCompleted, adapters: "Adapters") -> dict[str, Any]:
    """A batch job's end: its manifest, once, however often the end is reported. A job still running
    (Vertex AI's first output lands before the job ends) is a transient error: the delivery's retry
    asks again later, and nothing waits here."""
    a = adapters
    raw = a.kv.get(JOB + event.key)
    if raw is None or a.batch is None:
        return {"status": "ignored", "reason": f"no batch job {event.key} of this deployment's"}
    rec = json.loads(raw)
    if "job_id" not in rec:
        raise TransientError(f"batch job {event.key} is being started")
    outcome = a.batch.outcome(rec["job_id"])
    if event.status != "unknown":  # the service's own word on how its job ended (SageMaker's state change)
        outcome = replace(outcome, state=event.status, reason=event.reason or outcome.reason)
    if outcome.state == "running":
        raise TransientError(f"batch job {rec['job_id']} is still running")
    return once(a.idempotency, f"batch-job:{event.key}", lambda: _finish(a, rec, outcome))


def _finish(a: "Adapters", rec: dict[str, Any], outcome: Any) -> dict[str, Any]:
    assert a.batch is not None
    manifest_key = outputs(rec["input"], rec["model_group"])[1]
    base = {k: rec[k] for k in ("input", "input_version", "model_group", "version", "version_status", "artifact_sha256",
                                "backend", "job_id")}
    base["at"] = datetime.now(timezone.utc).isoformat()
    if outcome.state != "succeeded":
        from ..errors import InvalidRequest

        exc = InvalidRequest(f"batch job {rec['job_id']} failed: {outcome.reason or 'no reason given'}")
        _failed(a, base, manifest_key, exc)
        raise exc
    counts = tally(a.batch.answers(outcome), a.settings.batch.max_refusals_listed)
    manifest = {**base, "status": "scored", "predictions": outcome.outputs, "columns": [*rec["columns"], "prediction", "refused"],
                **counts, **({"service_counts": outcome.rows} if outcome.rows else {})}
    written = a.store.put(manifest_key, json.dumps(manifest, indent=2).encode())
    return {"status": "scored", "predictions": outcome.outputs, "manifest": written, "version": rec["version"],
            "rows_in": counts["rows_in"], "rows_out": counts["rows_out"], "refused": counts["refused"]}


def _score(event: BatchPredictionRequested, a: "Adapters", data: bytes | None) -> dict[str, Any]:
    from ..ports.artifacts import load_verified
    from ..serving.batch import score_bytes

    s, group = a.settings.batch, str(event.model_group)
    pred_key, manifest_key = outputs(event.uri, group)
    base = _base(event)
    try:
        data = data if data is not None else a.store.get(event.uri)
        _fits(event.uri, len(data), s.max_in_function_bytes)  # an event that did not say its size
        mv = _version(event, a)
        bundle = load_verified(a.store, mv.artifact_uri, mv.artifact_sha256)
        t0 = time.perf_counter()
        scored = score_bytes(data, bundle, chunk_rows=s.chunk_rows)
    except SkyloopError as exc:
        if not exc.retryable:
            _failed(a, base, manifest_key, exc)
        raise
    predictions = a.store.put(pred_key, scored.data)
    refused = sorted(scored.refused.items())
    manifest = {**base, "status": "scored", "version": mv.version, "version_status": mv.status.value,
                "artifact_sha256": mv.artifact_sha256, "predictions": predictions, "rows_in": scored.rows_in,
                "rows_out": scored.rows_out, "refused": len(refused),
                "refused_rows": [{"line": line, "reason": why} for line, why in refused[: s.max_refusals_listed]],
                "seconds": round(time.perf_counter() - t0, 3)}
    written = a.store.put(manifest_key, json.dumps(manifest, indent=2).encode())
    return {"status": "scored", "predictions": predictions, "manifest": written, "version": mv.version,
            "rows_in": scored.rows_in, "rows_out": scored.rows_out, "refused": len(refused)}
