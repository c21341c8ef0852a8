"""Trigger: metric records (a batch, a stream window), or an alarm whose window is then read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..detection.usecase import detect
from ..errors import InvalidRequest
from ..events import MetricAlarm, MetricBatch
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

    out = once(adapters.idempotency, f"metrics:{event.content_key()}", run)
    overdue = sweep(adapters)
    return {**out, "overdue_verifications": [v.to_dict() for v in overdue]} if overdue else out


def sweep(adapters: "Adapters") -> list[Any]:
    """Any service's actions whose target went silent past their window: to a human (at most
    every few minutes across workers; verification.sweep_overdue)."""
    from ..remediation.verification import sweep_overdue

    return sweep_overdue(adapters.kv, adapters.clock.now(), settings=adapters.settings.verification,
                         queue=adapters.remediation, audit=adapters.audit)


def on_metric_alarm(event: MetricAlarm, adapters: "Adapters") -> dict[str, Any]:
    """Read the alarmed service's recent window and score it as a batch (the batch's content is
    its idempotency key: a redelivered alarm over the same minutes has one effect)."""
    if adapters.metrics is None:
        raise InvalidRequest("an alarm needs a metric source to read its window; this runtime has none")
    records = adapters.metrics.fetch(event.service, scope=event.scope)
    if not records:
        return {"status": "ignored", "reason": f"no datapoints for {event.service}"}
    batch = MetricBatch(service=event.service, source=f"alarm:{event.alarm}", records=records)
    return {"status": "ok", **on_metrics(batch, adapters)}
