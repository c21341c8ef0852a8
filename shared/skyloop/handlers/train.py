"""Trigger: a training CSV landed in storage."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, NotSupported, SkyloopError
from ..events import TrainingCheckDue, TrainingDataArrived, TrainingJobCompleted
from ..once import once
from ..ports import ManagedTrainingBackend

if TYPE_CHECKING:
    from ..adapters import Adapters


# Model families a cloud service trains and serves itself, and where: a runtime whose training
# backend lists the family in its ``families`` hands it over; every other one refuses it in one line.
MANAGED_FAMILIES = {"automl": "Vertex AI AutoML tabular (Google Cloud)"}


def sidecar_uri(uri: str) -> str:
    """'data/churn.csv' (or 'data/churn.csv.gz') -> 'data/churn.skyloop.json'."""
    low = uri.lower()
    base = uri[:-7] if low.endswith(".csv.gz") else uri[:-4] if low.endswith(".csv") else uri
    return base + ".skyloop.json"


def _mirror(adapters: "Adapters", group: str) -> None:
    """After the gate has decided, so the new run carries the decision (status changes
    later on are mirrored by the registry wrapper)."""
    if adapters.mirror is not None:
        adapters.mirror.try_sync(adapters.registry, group)


def on_training_data(event: TrainingDataArrived, adapters: "Adapters") -> dict[str, Any]:
    from ..training.dataset import read_sidecar
    from ..modelgroup import check as check_group
    from ..training.usecase import TooLargeForFunction, group_from_uri, train_and_register

    try:
        sidecar_bytes = adapters.store.get(sidecar_uri(event.uri))
    except NotFound:
        sidecar_bytes = b""
    sidecar = read_sidecar(sidecar_bytes)
    target = event.target or sidecar.get("target")
    # resolved here, not later: the same bytes uploaded as alpha.csv and beta.csv are two groups' data
    group = event.model_group or sidecar.get("model_group") or group_from_uri(event.uri)
    check_group(group)  # a sidecar's name too: one rule on every cloud (modelgroup.py)
    params = dict(sidecar.get("params") or {})
    family = event.model or sidecar.get("model")  # the model family: the event's, else the sidecar's
    service = MANAGED_FAMILIES.get(str(family))
    backend = adapters.training if isinstance(adapters.training, ManagedTrainingBackend) else None
    if service is not None and (backend is None or family not in backend.families):
        raise NotSupported(f"model family {family!r} is {service}: it trains there only; "
                           "this runtime trains hist_gradient_boosting and random_forest")
    managed = service is not None
    if family and not managed:
        from ..training.model import family_of

        family_of({**params, "model": family})  # an unknown family is refused here, before any job starts
    if family:
        params["model"] = family
    spec = b"\0" + sidecar_bytes + b"\0" + f"{target}|{group}|{family}".encode()

    def submit(reason: str) -> dict[str, Any]:
        if adapters.training is None:
            raise TooLargeForFunction(f"{reason}; no managed training backend is configured")
        request: dict[str, Any] = {"target": target, "model_group": group, "params": params,
                                   "manual": sidecar.get("approval") == "manual", "data_version": event.version}
        if backend is not None and managed:  # what the registry keeps of data the service reads whole: its first rows
            from ..training.managed import sample_profile

            request["profile"] = sample_profile(backend.sample(event.uri), target)
        job = adapters.training.submit(event.uri, request)
        return {"status": "submitted", "backend": job.backend, "job_id": job.job_id, "job_status": job.status,
                "reason": reason}

    limit = adapters.settings.training.max_inline_bytes
    if event.size is None and hasattr(adapters.store, "size"):  # a local file: its size is a stat away
        event = event.model_copy(update={"size": adapters.store.size(event.uri)})
    if managed:  # the service reads the file itself, whatever its size: keyed like a large upload
        key = "train:" + hashlib.sha256(f"{event.uri}|{event.version}|{event.size}".encode() + spec).hexdigest()
        return once(adapters.idempotency, key, lambda: submit(f"the {family} family trains on {service}"))
    if event.size is not None and event.size > limit:
        # the notification's size decides before a byte is read: a function that downloaded a
        # 5 GB object to find it too large would run out of memory first. The object's identity
        # (its URI, etag and size) stands in for the content hash the small path keys on.
        key = "train:" + hashlib.sha256(f"{event.uri}|{event.version}|{event.size}".encode() + spec).hexdigest()
        return once(adapters.idempotency, key, lambda: submit(
            f"{event.uri} is {event.size} bytes, above the in-function limit of {limit}"))

    data = adapters.store.get(event.uri)
    key = "train:" + hashlib.sha256(data + spec).hexdigest()

    def run() -> dict[str, Any]:
        try:
            outcome = train_and_register(
                data, source_uri=event.uri, settings=adapters.settings, store=adapters.store,
                registry=adapters.registry, events=adapters.events, target=target, group=group,
                params=params, kv=adapters.kv, manual=sidecar.get("approval") == "manual",
            )
        except TooLargeForFunction as exc:
            return submit(exc.reason)
        _mirror(adapters, outcome.model.group)
        return outcome.to_dict()

    return once(adapters.idempotency, key, run)


def on_training_job_completed(event: TrainingJobCompleted, adapters: "Adapters") -> dict[str, Any]:
    """Register what a managed training job produced (once per job, however often the
    completion event arrives). A failed job is reported, not retried: its inputs were
    already validated, so a retry would fail the same way."""
    from ..errors import TrainingFailed
    from ..training.usecase import group_from_uri, read_job_output, register_fitted

    def run() -> dict[str, Any]:
        if event.status != "succeeded" or not event.output_uri:
            raise TrainingFailed(f"training job {event.job_id} ended {event.status}: {event.reason or 'no output'}")
        fitted = read_job_output(adapters.store.get(event.output_uri))
        group = event.model_group or group_from_uri(event.source_uri or fitted.lineage.get("data_uri", event.job_id))
        outcome = register_fitted(fitted, group=group, settings=adapters.settings, store=adapters.store,
                                  registry=adapters.registry, events=adapters.events, kv=adapters.kv)
        _mirror(adapters, outcome.model.group)
        return {**outcome.to_dict(), "job_id": event.job_id}

    return once(adapters.idempotency, f"train-job:{event.backend}:{event.job_id}", run)


def on_training_check(event: TrainingCheckDue, adapters: "Adapters") -> dict[str, Any]:
    """The scheduled look at managed trainings that announce no end (Vertex AutoML pipelines): the
    backend reports the runs that ended; each is registered PENDING and gated, or its failure is
    recorded for the watch, once per run however many ticks see it. One run's transient error
    leaves it for the next tick and does not hold up the others."""
    from dataclasses import replace

    from ..training.managed import record_failure, register_managed

    backend = adapters.training
    if not isinstance(backend, ManagedTrainingBackend):
        return {"status": "ignored", "reason": "this runtime's training jobs announce their own end"}
    results: list[dict[str, Any]] = []
    for run in backend.ended():
        def one(run: Any = run) -> dict[str, Any]:
            if run.status != "succeeded":
                record_failure(adapters.kv, run)
                return {"status": "failed", "job_id": run.job_id, "model_group": run.group, "reason": run.reason}
            outcome = register_managed(run, settings=adapters.settings, store=adapters.store,
                                       registry=adapters.registry, events=adapters.events, kv=adapters.kv,
                                       manual=run.manual)
            _mirror(adapters, outcome.model.group)
            return {**outcome.to_dict(), "job_id": run.job_id}

        try:
            results.append(once(adapters.idempotency, f"train-job:{run.backend}:{run.job_id}", one))
        except SkyloopError as exc:
            if exc.retryable:
                results.append({"status": "retry", "job_id": run.job_id, "reason": exc.reason})
                continue  # the next tick reports it again
            failed = replace(run, status="failed", reason=f"{exc.code}: {exc.reason}")
            record_failure(adapters.kv, failed)
            results.append({"status": "failed", "job_id": run.job_id, "model_group": run.group, "reason": failed.reason})
        backend.settle(run)
    return {"status": "ok", "checked": len(results), "results": results}
