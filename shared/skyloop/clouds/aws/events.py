"""AWS event shapes -> Skyloop domain events: the one place that knows them.

Plain dicts in, domain models out, so the Lambda entry points (which parse with
Powertools' data classes first), direct invocation and the contract tests share
one mapping. Events that are not for Skyloop (a sidecar JSON upload, a package
that was *rejected*) map to ``None`` and are acknowledged without effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InvalidEvent
from ...events import (CanaryPassed, MetricBatch, ModelVersionApproved, TrainingDataArrived, TrainingJobCompleted,
                       parse_event)
from .s3 import object_key
from .shapes import typed

SKYLOOP_SOURCE = "skyloop"
JOB_STATES = {"Completed": "succeeded", "Failed": "failed", "Stopped": "stopped"}  # SageMaker's final states


def _get(doc: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(doc, dict) or p not in doc:
            raise InvalidEvent(f"AWS event lacks {'.'.join(path)}")
        doc = doc[p]
    return doc


def is_training_csv(key: str) -> bool:
    return key.lower().endswith(".csv")


@typed
def training_events(raw: dict[str, Any]) -> list[TrainingDataArrived]:
    """S3 notification (Records[]) or EventBridge "Object Created" -> uploads to train on."""
    if "Records" in raw:
        out = []
        for rec in raw["Records"]:
            if not str(rec.get("eventName", "")).startswith("ObjectCreated"):
                continue
            bucket = _get(rec, "s3", "bucket", "name")
            key = object_key(_get(rec, "s3", "object", "key"))  # notification keys are URL-encoded
            obj = rec["s3"]["object"]
            if is_training_csv(key):
                out.append(TrainingDataArrived(uri=f"s3://{bucket}/{key}", version=obj.get("eTag") or obj.get("sequencer"),
                                               size=obj.get("size")))
        return out
    if raw.get("detail-type") == "Object Created" and raw.get("source") == "aws.s3":
        bucket = _get(raw, "detail", "bucket", "name")
        obj = _get(raw, "detail", "object")
        key = _get(obj, "key")  # EventBridge keys arrive decoded
        if not is_training_csv(key):
            return []
        return [TrainingDataArrived(uri=f"s3://{bucket}/{key}", version=obj.get("etag") or obj.get("sequencer"),
                                    size=obj.get("size"))]
    event = _domain(raw)
    if not isinstance(event, TrainingDataArrived):
        raise InvalidEvent(f"the train function takes S3 object-created events, got {type(event).__name__}")
    return [event]


@typed
def training_job_event(raw: dict[str, Any]) -> TrainingJobCompleted | None:
    """EventBridge "SageMaker Training Job State Change" of a Skyloop job that ended."""
    if raw.get("detail-type") != "SageMaker Training Job State Change":
        return None
    d = _get(raw, "detail")
    status = d.get("TrainingJobStatus")
    name = str(_get(d, "TrainingJobName"))
    if status not in JOB_STATES or not name.startswith("skyloop-"):
        return None
    hps = d.get("HyperParameters") or {}

    def hp(key: str) -> str | None:
        value = hps.get(key)
        if value is None:
            return None
        try:  # script-mode hyperparameters are JSON text
            import json

            value = json.loads(value)
        except (TypeError, ValueError):
            pass
        return str(value) or None

    return TrainingJobCompleted(event_id=str(raw.get("id") or name), backend="sagemaker", job_id=name,
                                status=JOB_STATES[status],
                                output_uri=(d.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
                                source_uri=hp("source_uri"), model_group=hp("model_group"),
                                reason=str(d.get("FailureReason") or ""))


@typed
def approval_event(raw: dict[str, Any]) -> ModelVersionApproved | CanaryPassed | None:
    """EventBridge "SageMaker Model Package State Change" (Approved), Skyloop's own
    bus event (an approval, or a canary that baked clean), or a direct domain event."""
    if raw.get("detail-type") == "SageMaker Model Package State Change":
        d = _get(raw, "detail")
        if d.get("ModelApprovalStatus") != "Approved":
            return None
        return ModelVersionApproved(event_id=str(raw.get("id") or f"sm:{d.get('ModelPackageArn')}"),
                                    model_group=_get(d, "ModelPackageGroupName"),
                                    version=int(_get(d, "ModelPackageVersion")),
                                    approved_by=str(d.get("ApprovalDescription") or d.get("LastModifiedBy", {}).get(
                                        "UserProfileName", "sagemaker")))
    event = _domain(raw)
    if not isinstance(event, (ModelVersionApproved, CanaryPassed)):
        raise InvalidEvent(f"the deploy function takes model approvals and passed canaries, got {type(event).__name__}")
    return event


@dataclass(frozen=True)
class MetricInput:
    """What a detect invocation was given, decoded: exactly one of these is set.

    - ``firehose``: a Firehose transformation (it must answer per record, in Firehose's format);
    - ``alarm``: a CloudWatch alarm entering ALARM (its service's window is then read);
    - ``objects``: metric-stream objects delivered to S3 (``s3://`` URIs);
    - ``batch``: a Skyloop ``MetricBatch``;
    - ``ignored``: a shape that is Skyloop's to acknowledge without effect (an alarm back to OK).
    """

    firehose: bool = False
    alarm: dict[str, Any] | None = None
    objects: tuple[str, ...] = ()
    batch: MetricBatch | None = None
    ignored: str = ""


@typed
def metric_input(raw: dict[str, Any]) -> MetricInput:
    """The detect function's one decoder: every AWS shape it takes, recognised here."""
    from .cloudwatch import alarm_of

    if "records" in raw and "deliveryStreamArn" in raw:
        return MetricInput(firehose=True)
    if "alarmData" in raw or raw.get("detail-type") == "CloudWatch Alarm State Change":
        alarm = alarm_of(raw)
        return MetricInput(alarm=alarm) if alarm is not None else MetricInput(ignored="alarm not entering ALARM")
    if "Records" in raw:  # metric stream delivered to S3, notified directly
        return MetricInput(objects=tuple(f"s3://{_get(r, 's3', 'bucket', 'name')}/{object_key(_get(r, 's3', 'object', 'key'))}"
                                         for r in raw["Records"]))
    if raw.get("source") == "aws.s3":  # ... or through EventBridge (keys arrive decoded)
        return MetricInput(objects=(f"s3://{_get(raw, 'detail', 'bucket', 'name')}/{_get(raw, 'detail', 'object', 'key')}",))
    event = _domain(raw)
    if not isinstance(event, MetricBatch):
        raise InvalidEvent(f"the detect function takes metrics, got {type(event).__name__}")
    return MetricInput(batch=event)


def _domain(raw: dict[str, Any]) -> Any:
    """A Skyloop event, bare or wrapped by EventBridge (source "skyloop")."""
    if raw.get("source") == SKYLOOP_SOURCE and isinstance(raw.get("detail"), dict):
        return parse_event(raw["detail"])
    if "type" in raw:
        return parse_event(raw)
    raise InvalidEvent("not an AWS event this function handles, nor a Skyloop domain event "
                       f"(keys: {', '.join(repr(k)[:24] for k in sorted(map(str, raw))[:8])})")
