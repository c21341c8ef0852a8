"""One plain function per trigger; every runtime (local, Lambda, Cloud Functions,
Azure Functions, ``skyloop invoke``) translates its event and calls these.

Each handler keys its work in the idempotency store, so at-least-once delivery
has exactly one effect: a duplicate returns the first result with
``"duplicate": true``.

The four handlers are imported lazily (PEP 562): a detect function that imports
``skyloop.handlers.detect`` pays for detection only, not for training.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

from ..errors import InvalidEvent

if TYPE_CHECKING:
    from ..adapters import Adapters

# handler name -> (module, function, domain event class name)
_TABLE = {
    "train": ("train", "on_training_data", "TrainingDataArrived"),
    "deploy": ("deploy", "on_model_approved", "ModelVersionApproved"),
    "detect": ("detect", "on_metrics", "MetricBatch"),
    "alarm": ("detect", "on_metric_alarm", "MetricAlarm"),
    "training-job": ("train", "on_training_job_completed", "TrainingJobCompleted"),
    "training-check": ("train", "on_training_check", "TrainingCheckDue"),
    "remediate": ("remediate", "on_remediation", "RemediationRequested"),
    "drift": ("drift", "on_drift", "DriftDetected"),
    "canary": ("deploy", "on_canary_passed", "CanaryPassed"),
    "analyze": ("analyze", "on_media", "MediaArrived"),
    "score": ("score", "on_batch", "BatchPredictionRequested"),
    "batch-job": ("score", "on_batch_job", "BatchJobCompleted"),
}
_FUNCS = {fn: mod for mod, fn, _ in _TABLE.values()}
# Triggers only a cloud raises (an alarm whose window the cloud's metrics API reads, a managed
# training job that ended, the scheduled look at trainings that announce no end): dispatched like the rest, but not offered for local invocation.
CLOUD_ONLY = frozenset({"alarm", "training-job", "training-check", "batch-job"})
HANDLERS = tuple(h for h in _TABLE if h not in CLOUD_ONLY)


def handler_for(name: str) -> tuple[type, Callable[..., dict[str, Any]]]:
    """(event class, function) of a handler, importing only that handler."""
    from .. import events

    try:
        mod, fn, cls = _TABLE[name]
    except KeyError:
        raise InvalidEvent(f"unknown handler {name!r}; known: {', '.join(_TABLE)}") from None
    return getattr(events, cls), getattr(importlib.import_module(f"{__name__}.{mod}"), fn)


def dispatch(event: Any, adapters: "Adapters") -> dict[str, Any]:
    """Route a parsed domain event to its handler."""
    for name, (_, _, cls) in _TABLE.items():
        if type(event).__name__ == cls:
            return handler_for(name)[1](event, adapters)
    raise InvalidEvent(f"no handler takes {type(event).__name__} events")


def invoke(name: str, raw: str | bytes | dict[str, Any], adapters: "Adapters") -> dict[str, Any]:
    """Direct invocation: ``skyloop invoke <name> event.json``."""
    from ..events import parse_event

    cls, fn = handler_for(name)
    event = parse_event(raw)
    if not isinstance(event, cls):
        raise InvalidEvent(f"handler {name!r} takes {cls.__name__}, got {type(event).__name__}")
    return fn(event, adapters)


def __getattr__(attr: str) -> Any:
    if attr in _FUNCS:
        return getattr(importlib.import_module(f"{__name__}.{_FUNCS[attr]}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


__all__ = ["HANDLERS", "dispatch", "handler_for", "invoke", "on_metrics", "on_metric_alarm", "on_model_approved",
           "on_remediation", "on_training_data", "on_training_job_completed", "on_drift", "on_canary_passed"]
