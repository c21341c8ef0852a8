"""One plain function per trigger; every runtime (local, Lambda, Cloud Functions,
Azure Functions, ``skyloop invoke``) translates its event and calls these.

Each handler keys its work in the idempotency store, so at-least-once delivery
has exactly one effect: a duplicate returns the first result with
``"duplicate": true``.
"""

from __future__ import annotations

from typing import Any

from ..adapters import Adapters
from ..errors import InvalidEvent
from ..events import MetricBatch, ModelVersionApproved, RemediationRequested, TrainingDataArrived, parse_event
from .deploy import on_model_approved
from .detect import on_metrics
from .remediate import on_remediation
from .train import on_training_data

HANDLERS = {
    "train": (TrainingDataArrived, on_training_data),
    "deploy": (ModelVersionApproved, on_model_approved),
    "detect": (MetricBatch, on_metrics),
    "remediate": (RemediationRequested, on_remediation),
}


def dispatch(event: Any, adapters: Adapters) -> dict[str, Any]:
    """Route a parsed domain event to its handler."""
    for cls, fn in HANDLERS.values():
        if isinstance(event, cls):
            return fn(event, adapters)
    raise InvalidEvent(f"no handler takes {type(event).__name__} events")


def invoke(name: str, raw: str | bytes | dict[str, Any], adapters: Adapters) -> dict[str, Any]:
    """Direct invocation: ``skyloop invoke <name> event.json``."""
    if name not in HANDLERS:
        raise InvalidEvent(f"unknown handler {name!r}; known: {', '.join(HANDLERS)}")
    cls, fn = HANDLERS[name]
    event = parse_event(raw)
    if not isinstance(event, cls):
        raise InvalidEvent(f"handler {name!r} takes {cls.__name__}, got {type(event).__name__}")
    return fn(event, adapters)


__all__ = ["HANDLERS", "dispatch", "invoke", "on_metrics", "on_model_approved", "on_remediation", "on_training_data"]
