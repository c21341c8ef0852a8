"""Trigger: metric records (a batch, a stream window), or an alarm whose window is then read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..detection.usecase import detect
from ..errors import InvalidRequest
from ..events import MetricAlarm, MetricBatch
from ..once import once

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
    from ..remediation.approvals import expire
    from ..remediation.verification import sweep_overdue

    now = adapters.clock.now()
    expire(adapters.kv, adapters.state, adapters.audit, now, adapters.settings.guardrails.approval_ttl_minutes)
    return sweep_overdue(adapters.kv, now, settings=adapters.settings.verification, queue=adapters.remediation,
                         audit=adapters.audit)


def on_metric_alarm(event: MetricAlarm, adapters: "Adapters") -> dict[str, Any]:
    """Read the alarmed service's recent window and score it as a batch (the batch's content is
    its idempotency key: a redelivered alarm over the same minutes has one effect)."""
    if adapters.metrics is None:
        raise InvalidRequest("an alarm needs a metric source to read its window; this runtime has none")
    where = {"namespace": event.namespace, "dimensions": event.dimensions} if event.namespace else None
    records = adapters.metrics.fetch(event.service, scope=event.scope, where=where)
    if not records:
        import logging

        logging.getLogger("skyloop.detect").warning(
            "alarm window is empty: nothing to score", extra={"service": event.service, "alarm": event.alarm, **(where or {})})
        return {"status": "ignored", "reason": f"no datapoints for {event.service}"
                + (f" in {event.namespace} {event.dimensions}" if where else "")}
    batch = MetricBatch(service=event.service, source=f"alarm:{event.alarm}", records=records)
    return {"status": "ok", **on_metrics(batch, adapters)}
