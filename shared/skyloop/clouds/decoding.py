"""What every cloud's event decoder shares: a malformed document is a typed refusal, a function
refuses the kinds it does not take, and which uploads are training data.

The decoders themselves stay per cloud (``clouds/<cloud>/events.py``): the shapes differ, the
rules do not.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from ..errors import InvalidEvent, SkyloopError

F = TypeVar("F", bound=Callable[..., Any])


def typed_for(cloud: str) -> Callable[[F], F]:
    """A mapper meets documents of any shape: a field of the wrong type is an ``InvalidEvent``
    (dead-lettered with its reason), never a stray TypeError."""

    def typed(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except SkyloopError:
                raise
            except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
                raise InvalidEvent(f"malformed {cloud} event for {fn.__name__}: {type(exc).__name__}") from None

        return wrapper  # type: ignore[return-value]

    return typed


def accept(events: list[Any], function: str, *kinds: type) -> list[Any]:
    """The events a function takes; another kind sent to it is a typed refusal (dead-lettered)."""
    wrong = [type(e).__name__ for e in events if not isinstance(e, kinds)]
    if wrong:
        raise InvalidEvent(f"the {function} function takes {', '.join(k.__name__ for k in kinds)}, got {', '.join(wrong)}")
    return events


def bare_domain_event(raw: dict[str, Any], cloud: str) -> Any:
    """A Skyloop domain event sent as itself (a direct invocation, a queue body); anything else is a
    typed refusal naming the keys it had. ``cloud`` reads after an article: "an AWS", "a Google Cloud"."""
    from ..events import parse_event

    if "type" in raw:
        return parse_event(raw)
    raise InvalidEvent(f"not {cloud} event this function handles, nor a Skyloop domain event "
                       f"(keys: {', '.join(repr(k)[:24] for k in sorted(map(str, raw))[:8])})")


def upload_event(name: str) -> Callable[..., Any] | None:
    """What an object written to the training store means: a file for the AI services (under
    ``ai/``) or an AI job's output (under ``transcribe/``), rows to score (under ``batch/<group>/``),
    a training CSV, or nothing (None: a sidecar, a model, predictions or a result Skyloop wrote)."""
    from ..events import BatchPredictionRequested, MediaArrived, TrainingDataArrived
    from ..ports.ai import is_job_output, is_media
    from ..ports.batch import BATCH_PREFIX, PREDICTIONS_PREFIX

    if is_media(name) or is_job_output(name):  # an upload, or an AI provider's job finishing
        return MediaArrived
    if name.startswith(PREDICTIONS_PREFIX):  # what batch scoring wrote: never trained on
        return None
    if name.startswith(BATCH_PREFIX):
        return _checked(BatchPredictionRequested) if is_training_csv(name) else None
    return TrainingDataArrived if is_training_csv(name) else None


def _checked(cls: type) -> Callable[..., Any]:
    """The event, or one typed refusal with the field's own reason (a bad group name under batch/)."""
    from pydantic import ValidationError

    def make(**fields: Any) -> Any:
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise InvalidEvent(f"{cls.__name__}: {exc.errors()[0]['msg']}") from None

    return make


def is_training_csv(name: str) -> bool:
    """A CSV, plain or gzip-compressed (``.csv.gz`` is inflated, bounded, when it is read)."""
    return name.lower().endswith((".csv", ".csv.gz"))


def takes(function: str) -> tuple[type, ...]:
    """The domain events each event-driven function takes, the same on every cloud."""
    from ..events import (
        BatchJobCompleted,
        BatchPredictionRequested,
        CanaryPassed,
        MediaArrived,
        MetricAlarm,
        MetricBatch,
        ModelVersionApproved,
        RemediationRequested,
        TrainingCheckDue,
        TrainingDataArrived,
        TrainingJobCompleted,
    )

    table: dict[str, tuple[type, ...]] = {
        # the training bucket's trigger: a CSV, a training job's result, a file under ai/ for the AI services
        # and rows to score under batch/<group>/ (the train function carries pandas and scikit-learn), and
        # a cloud batch job's end, and the scheduled look at trainings that announce no end (Vertex AutoML)
        "train": (TrainingDataArrived, TrainingJobCompleted, MediaArrived, BatchPredictionRequested, BatchJobCompleted,
                  TrainingCheckDue),
        "deploy": (ModelVersionApproved, CanaryPassed),
        "detect": (MetricBatch, MetricAlarm),
        "remediate": (RemediationRequested,),
    }
    if function not in table:
        raise InvalidEvent(f"no function {function!r}; known: {', '.join(table)}")
    return table[function]


FUNCTIONS = ("train", "deploy", "detect", "remediate")
