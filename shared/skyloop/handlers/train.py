"""Trigger: a training CSV landed in storage."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ..events import TrainingDataArrived, TrainingJobCompleted
from ..once import once

if TYPE_CHECKING:
    from ..adapters import Adapters


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
    if family:
        from ..training.model import family_of

        params["model"] = family
        family_of(params)  # an unknown family (automl is not built) is refused here, before any job starts
    spec = b"\0" + sidecar_bytes + b"\0" + f"{target}|{group}|{family}".encode()

    def submit(reason: str) -> dict[str, Any]:
        if adapters.training is None:
            raise TooLargeForFunction(f"{reason}; no managed training backend is configured")
        job = adapters.training.submit(event.uri, {"target": target, "model_group": group, "params": params})
        return {"status": "submitted", "backend": job.backend, "job_id": job.job_id, "job_status": job.status,
                "reason": reason}

    limit = adapters.settings.training.max_inline_bytes
    if event.size is None and hasattr(adapters.store, "size"):  # a local file: its size is a stat away
        event = event.model_copy(update={"size": adapters.store.size(event.uri)})
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
