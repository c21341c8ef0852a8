"""Trigger: a training CSV landed in storage."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ..events import TrainingDataArrived
from ._once import once

if TYPE_CHECKING:
    from ..adapters import Adapters


def sidecar_uri(uri: str) -> str:
    """'data/churn.csv' -> 'data/churn.skyloop.json'."""
    base = uri[:-4] if uri.lower().endswith(".csv") else uri
    return base + ".skyloop.json"


def on_training_data(event: TrainingDataArrived, adapters: "Adapters") -> dict[str, Any]:
    from ..training.dataset import read_sidecar
    from ..training.usecase import train_and_register

    data = adapters.store.get(event.uri)
    try:
        sidecar_bytes = adapters.store.get(sidecar_uri(event.uri))
    except NotFound:
        sidecar_bytes = b""
    sidecar = read_sidecar(sidecar_bytes)
    target = event.target or sidecar.get("target")
    group = event.model_group or sidecar.get("model_group")
    key = "train:" + hashlib.sha256(data + b"\0" + sidecar_bytes + b"\0" + f"{target}|{group}".encode()).hexdigest()

    def run() -> dict[str, Any]:
        outcome = train_and_register(
            data, source_uri=event.uri, settings=adapters.settings, store=adapters.store,
            registry=adapters.registry, events=adapters.events, target=target, group=group,
            params=sidecar.get("params"),
        )
        return outcome.to_dict()

    return once(adapters.idempotency, key, run)
