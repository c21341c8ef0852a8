"""Skyloop's own domain events.

Every cloud's raw event (S3 notification, Pub/Sub push, Event Grid ...) is
translated into one of these before any use-case runs, so the use-cases never
see transport details. Each event carries what its handler needs to compute an
idempotency key, because redelivery is the norm, not the exception.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from .errors import InvalidEvent
from .modelgroup import ModelGroup

MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit: a sane ceiling everywhere.


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class Severity(str, Enum):
    """Ordered severity bands; comparisons follow the order below."""

    NORMAL = "normal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    event_id: str = Field(default_factory=new_id)
    occurred_at: datetime = Field(default_factory=utcnow)


class TrainingDataArrived(_Event):
    """A training CSV landed in a store. ``version`` is the object's etag/generation."""

    type: Literal["TrainingDataArrived"] = "TrainingDataArrived"
    uri: str = Field(min_length=1, description="store URI or local path of the CSV")
    version: str | None = Field(default=None, description="etag / generation / mtime token")
    size: int | None = Field(default=None, ge=0)
    target: str | None = None
    model_group: ModelGroup | None = None
    model: str | None = Field(default=None, description="model family (hist_gradient_boosting, random_forest)")


class MediaArrived(_Event):
    """An image, text or audio file landed under the AI prefix (``ai/``): analysed, and the result
    written beside it as ``<name>.skyloop-ai.json``. ``version`` is the object's etag/generation."""

    type: Literal["MediaArrived"] = "MediaArrived"
    uri: str = Field(min_length=1)
    version: str | None = None
    size: int | None = Field(default=None, ge=0)


class BatchPredictionRequested(_Event):
    """Rows to score: a CSV under ``batch/<group>/`` (the group's production version scores it, or
    ``model_version``), or this event sent directly. ``version`` is the object's etag/generation."""

    type: Literal["BatchPredictionRequested"] = "BatchPredictionRequested"
    uri: str = Field(min_length=1)
    version: str | None = None
    size: int | None = Field(default=None, ge=0)
    model_group: ModelGroup | None = None
    model_version: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _group_from_path(cls, data: Any) -> Any:
        """The group is the folder under ``batch/`` (held to the one group rule by the field)."""
        if isinstance(data, dict) and not data.get("model_group"):
            import re

            found = re.search(r"(?:^|[/:])batch/([^/]+)/[^/]+$", str(data.get("uri", "")).split("?", 1)[0])
            if found is None:
                raise ValueError("a batch upload is batch/<group>/<file>.csv, or the event names model_group")
            data = {**data, "model_group": found.group(1)}
        return data


class TrainingJobCompleted(_Event):
    """A managed training job (for a dataset above the in-function size rule) finished."""

    type: Literal["TrainingJobCompleted"] = "TrainingJobCompleted"
    backend: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    status: Literal["succeeded", "failed", "stopped"]  # each cloud's decoder maps its own job states
    output_uri: str | None = None
    source_uri: str | None = None
    model_group: ModelGroup | None = None
    reason: str = ""


class BatchJobCompleted(_Event):
    """A cloud batch-scoring job (for rows above the in-function size rule) ended, or wrote output.

    SageMaker says so (its "Transform Job State Change"); Vertex AI's output landing in Cloud Storage
    says only that it is writing, so ``status`` is ``unknown`` and the handler asks the job."""

    type: Literal["BatchJobCompleted"] = "BatchJobCompleted"
    backend: str = Field(min_length=1)
    key: str = Field(min_length=1)  # Skyloop's key of the job (ports/batch.py), in its name or output path
    status: Literal["succeeded", "failed", "unknown"] = "unknown"
    reason: str = ""


class TrainingCheckDue(_Event):
    """Time to look at the managed trainings that announce no end of their own (a Vertex AI AutoML
    training pipeline): a scheduler's tick, carried to the train function. Each run is registered,
    or its failure recorded, once, however many ticks see it."""

    type: Literal["TrainingCheckDue"] = "TrainingCheckDue"


class ModelVersionApproved(_Event):
    type: Literal["ModelVersionApproved"] = "ModelVersionApproved"
    model_group: ModelGroup
    version: int = Field(ge=1)
    approved_by: str = "unknown"

    @staticmethod
    def id_for(group: str, version: int) -> str:
        """The one id of a version's approval, whoever reports it: Skyloop's own event and each
        registry's notification (SageMaker's state change, Vertex AI's audit-log entries, Azure
        ML's ModelRegistered) carry it, so one approval starts one rollout."""
        return f"approved:{group}:{version}"


class MetricRecord(BaseModel):
    """One observation: a timestamp and named numeric values (NaN means missing)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    timestamp: datetime
    values: dict[str, float]
    # which deployment variant produced it ("production", "canary"; SageMaker's VariantName):
    # None is the service as a whole. Canary records are judged against production's same minutes.
    variant: str | None = Field(default=None, max_length=63)

    @field_validator("values")
    @classmethod
    def _finite_or_missing(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("a metric record needs at least one value")
        for name, x in v.items():
            if math.isinf(x):
                raise ValueError(f"metric {name!r} is infinite")
        return v

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)


class MetricBatch(_Event):
    type: Literal["MetricBatch"] = "MetricBatch"
    service: str = Field(default="api", min_length=1)
    source: str = "local"
    records: list[MetricRecord] = Field(min_length=1)

    def content_key(self) -> str:
        """Hash of the records: a redelivered batch under a new event id is still one batch."""
        h = hashlib.sha256(self.service.encode())
        for r in self.records:
            h.update(r.timestamp.isoformat().encode())
            if r.variant is not None:
                h.update(b"@" + r.variant.encode())
            h.update(json.dumps(r.values, sort_keys=True).encode())
        return h.hexdigest()


class MetricAlarm(_Event):
    """A monitoring alarm fired on a service or a serving endpoint: its recent metrics are then
    read through the ``MetricSource`` port and scored like any batch. ``scope`` says which: an
    endpoint's window has every variant, so a baking canary is judged too."""

    type: Literal["MetricAlarm"] = "MetricAlarm"
    service: str = Field(min_length=1)
    alarm: str = ""
    scope: Literal["service", "endpoint"] = "service"
    metric: str = ""
    # where the alarm's metric lives, as its cloud names it (CloudWatch: namespace and dimensions):
    # the window is read there, not guessed from the service's name
    namespace: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)


class RootCause(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    metric: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str
    recommendation: str
    action: str


class AnomalyFound(_Event):
    type: Literal["AnomalyFound"] = "AnomalyFound"
    anomaly_id: str
    service: str
    start: datetime
    end: datetime
    peak_score: float = Field(ge=0.0, le=1.0)
    severity: Severity
    deviating_metrics: list[str]
    causes: list[RootCause]
    rows: int = Field(ge=1)


class RemediationRequested(_Event):
    type: Literal["RemediationRequested"] = "RemediationRequested"
    request_id: str = Field(min_length=1)
    action: str = Field(min_length=1)
    target: str = Field(min_length=1)
    severity: Severity = Severity.MEDIUM
    reason: str = ""
    anomaly_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    approved: bool = False


class DriftDetected(_Event):
    """Inference inputs or predictions moved away from the training data (skyloop.drift.stats)."""

    type: Literal["DriftDetected"] = "DriftDetected"
    model_group: ModelGroup
    version: int = Field(ge=1)
    rows: int = Field(ge=0)
    drifted_features: list[str] = Field(default_factory=list)
    prediction_drifted: bool = False
    report: dict[str, Any] = Field(default_factory=dict)
    retrain_uri: str | None = Field(default=None, description="the latest labelled data to retrain on")


class CanaryPassed(_Event):
    """A canary was no worse than production over its whole bake time: promote it."""

    type: Literal["CanaryPassed"] = "CanaryPassed"
    model_group: ModelGroup
    version: int = Field(ge=1)
    observed_minutes: int = Field(ge=0)
    detail: str = ""


class RemediationCompleted(_Event):
    type: Literal["RemediationCompleted"] = "RemediationCompleted"
    request_id: str
    action: str
    target: str
    status: Literal["executed", "dry_run", "refused", "awaiting_approval", "failed"]
    detail: str = ""


DomainEvent = Annotated[
    Union[
        TrainingDataArrived,
        MediaArrived,
        BatchPredictionRequested,
        BatchJobCompleted,
        TrainingJobCompleted,
        TrainingCheckDue,
        ModelVersionApproved,
        MetricBatch,
        MetricAlarm,
        AnomalyFound,
        RemediationRequested,
        RemediationCompleted,
        DriftDetected,
        CanaryPassed,
    ],
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Any] | None = None  # built on first parse: keeps import (cold start) cheap


def parse_event(raw: str | bytes | dict[str, Any]) -> Any:
    """Turn a Skyloop-native event (JSON text or dict) into its domain model.

    Raises ``InvalidEvent`` with a one-line reason; never lets a pydantic or
    JSON error escape, so callers can dead-letter with a stable error type.
    """
    if isinstance(raw, (str, bytes)):
        if len(raw) > MAX_EVENT_BYTES:
            raise InvalidEvent(f"event is {len(raw)} bytes, above the {MAX_EVENT_BYTES}-byte limit")
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidEvent(f"event is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(raw).__name__}")
    if "type" not in raw:
        raise InvalidEvent("event has no 'type' field")
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(DomainEvent)
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "event"
        raise InvalidEvent(f"{raw.get('type')}: {where}: {first.get('msg')}", errors=exc.error_count()) from None


def to_json(event: BaseModel) -> str:
    return event.model_dump_json()
