"""Trigger: metric records (a batch, a stream window, an alarm's data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..detection.usecase import detect
from ..events import MetricBatch
from ._once import once

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_metrics(event: MetricBatch, adapters: "Adapters") -> dict[str, Any]:
    def run() -> dict[str, Any]:
        return detect(
            event, settings=adapters.settings, kv=adapters.kv, queue=adapters.remediation,
            registry=adapters.registry, topology=adapters.executor, events=adapters.events,
            audit=adapters.audit,
        ).to_dict()

    return once(adapters.idempotency, f"metrics:{event.content_key()}", run)
