"""AWS event shapes -> Skyloop domain events: the one place that knows them.

Plain dicts in, domain models out: ``to_domain`` is what every Lambda entry point calls, and
the contract tests feed it every sample in events/aws/. Events that are not for Skyloop (a
sidecar JSON upload, a package that was *rejected*) map to no event and are acknowledged
without effect.
"""

from __future__ import annotations

from typing import Any, Callable

from ...errors import InvalidEvent
from ...events import BatchJobCompleted, MediaArrived, MetricAlarm, ModelVersionApproved, TrainingJobCompleted, parse_event
from ..decoding import accept, bare_domain_event, is_training_csv, upload_event
from .s3 import object_key
from .shapes import typed

__all__ = ["accept", "is_training_csv", "to_domain"]

SKYLOOP_SOURCE = "skyloop"
JOB_STATES = {"Completed": "succeeded", "Failed": "failed", "Stopped": "stopped"}  # SageMaker's final states


def _get(doc: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(doc, dict) or p not in doc:
            raise InvalidEvent(f"AWS event lacks {'.'.join(path)}")
        doc = doc[p]
    return doc


@typed
def s3_objects(raw: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(bucket, key, object) of each created object: an S3 notification (``Records[]``, keys
    URL-encoded) or EventBridge "Object Created" (keys decoded)."""
    if "Records" in raw:
        return [(_get(r, "s3", "bucket", "name"), object_key(_get(r, "s3", "object", "key")), r["s3"]["object"])
                for r in raw["Records"] if str(r.get("eventName", "ObjectCreated")).startswith("ObjectCreated")]
    if raw.get("detail-type") == "Object Created" and raw.get("source") == "aws.s3":
        obj = _get(raw, "detail", "object")
        return [(_get(raw, "detail", "bucket", "name"), _get(obj, "key"), obj)]
    return []


def _uploads(bucket: str, key: str, obj: dict[str, Any]) -> list[Any]:
    """A training CSV or a file for the AI services (under ai/); nothing for another object."""
    kind = upload_event(key)
    return [] if kind is None else [kind(uri=f"s3://{bucket}/{key}", size=obj.get("size"),
                                         version=obj.get("eTag") or obj.get("etag") or obj.get("sequencer"))]


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
def transform_job_event(raw: dict[str, Any]) -> BatchJobCompleted | None:
    """EventBridge "SageMaker Transform Job State Change" of a Skyloop batch job that ended (its
    name is ``skyloop-batch-<key>``, ``clouds/aws/transform.py``); None for another job or state."""
    from .transform import PREFIX, STATES

    d = _get(raw, "detail")
    name, status = str(_get(d, "TransformJobName")), STATES.get(str(d.get("TransformJobStatus")), "running")
    if not name.startswith(PREFIX) or status == "running":
        return None
    return BatchJobCompleted(event_id=str(raw.get("id") or f"{name}:{status}"), backend="sagemaker",
                             key=name[len(PREFIX):], status=status, reason=str(d.get("FailureReason") or ""))


@typed
def approval_event(raw: dict[str, Any]) -> ModelVersionApproved | None:
    """EventBridge "SageMaker Model Package State Change": an approval, or None for another state."""
    d = _get(raw, "detail")
    if d.get("ModelApprovalStatus") != "Approved":
        return None
    group, version = _get(d, "ModelPackageGroupName"), int(_get(d, "ModelPackageVersion"))
    # the approval's own id: this notification and Skyloop's own event start one rollout
    return ModelVersionApproved(event_id=ModelVersionApproved.id_for(group, version), model_group=group, version=version,
                                approved_by=str(d.get("ApprovalDescription") or d.get("LastModifiedBy", {}).get(
                                    "UserProfileName", "sagemaker")))


def _transcription_failed(raw: dict[str, Any], training_bucket: str) -> list[Any]:
    """A Transcribe job of Skyloop's that FAILED writes no output object, so nothing finished the
    uploads waiting on it: they read "running" for ever. Its state change stands in for the output
    (the object the job would have written), and finishing the job writes each waiting upload's
    failure with Transcribe's reason. Another account's or another status's change is ignored."""
    detail = raw.get("detail") or {}
    job = str(detail.get("TranscriptionJobName") or "")
    if detail.get("TranscriptionJobStatus") != "FAILED" or not job.startswith("skyloop-"):
        return []
    from ...ports.ai import JOBS_PREFIX

    return [MediaArrived(event_id=str(raw.get("id") or f"transcribe:{job}:failed"),
                         uri=f"s3://{training_bucket}/{JOBS_PREFIX}{job}.json")]


@typed
def to_domain(raw: Any, *, training_bucket: str, read: Callable[[str], bytes]) -> list[Any]:
    """The one decoder: any AWS event a Skyloop function receives -> the domain events it means.

    [] is an event Skyloop acknowledges without effect (a sidecar upload, a rejected package, an
    alarm back to OK, another team's training job); a shape it cannot read is ``InvalidEvent``.
    An object in the training bucket is an upload (CSV) or nothing; an object anywhere else is a
    metric-stream file, read with ``read``. A Firehose transformation is not decoded here: it is
    answered record by record (``cloudwatch.firehose_transform``).
    """
    from .cloudwatch import alarm_of, batches_from_stream, stream_lines

    if not isinstance(raw, dict):
        raise InvalidEvent(f"an AWS event is a JSON object, got {type(raw).__name__}")
    inner = unwrap(raw)
    if inner is not None:  # SQS or SNS around the real events (a fan-out): decode each
        return [e for doc in inner for e in to_domain(doc, training_bucket=training_bucket, read=read)]
    if raw.get("Event") == "s3:TestEvent":  # S3 checks a new notification target with this
        return []
    if "records" in raw and "deliveryStreamArn" in raw:
        raise InvalidEvent("a Firehose transformation is answered per record, not decoded into events")
    kind = raw.get("detail-type")
    if kind == "Transcribe Job State Change":
        return _transcription_failed(raw, training_bucket)
    if kind == "SageMaker Training Job State Change":
        return [e for e in (training_job_event(raw),) if e is not None]
    if kind == "SageMaker Transform Job State Change":
        return [e for e in (transform_job_event(raw),) if e is not None]
    if kind == "SageMaker Model Package State Change":
        return [e for e in (approval_event(raw),) if e is not None]
    if "alarmData" in raw or kind == "CloudWatch Alarm State Change":
        alarm = alarm_of(raw)
        if alarm is None:
            return []
        return [MetricAlarm(event_id=str(raw.get("id") or f"{alarm['alarm']}@{alarm['at']}"), service=alarm["service"],
                            alarm=str(alarm["alarm"] or ""), metric=str(alarm["metric"] or ""),
                            scope="endpoint" if alarm["namespace"] == "AWS/SageMaker" else "service",
                            namespace=str(alarm["namespace"] or ""),
                            dimensions={str(k): str(v) for k, v in dict(alarm["dimensions"]).items()})]
    objects = s3_objects(raw)
    if objects:
        uploads = [e for o in objects if o[0] == training_bucket for e in _uploads(*o)]
        docs = [d for b, k, _ in objects if b != training_bucket for d in stream_lines(read(f"s3://{b}/{k}").decode("utf-8"))]
        return [*uploads, *batches_from_stream(docs)]
    if "Records" in raw or raw.get("source") == "aws.s3":
        return []  # object events that created nothing (a delete, a sidecar's notification)
    return [_domain(raw)]


def _json(text: Any, where: str) -> Any:
    import json

    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise InvalidEvent(f"{where} is not JSON") from None


def unwrap(raw: dict[str, Any]) -> list[Any] | None:
    """The documents inside an SQS batch, an SNS delivery, or an SNS notification carried by SQS
    (S3 -> SNS -> SQS is the usual fan-out); None when ``raw`` is no such envelope. An SQS body
    that is not JSON is a typed refusal."""
    records = raw.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        if source == "aws:sqs":
            return [doc for r in records for doc in _envelope(_json(r.get("body"), "an SQS message body"))]
        if source == "aws:sns":
            return [doc for r in records for doc in _envelope(_json(_get(r, "Sns", "Message"), "an SNS message"))]
    return None


def _envelope(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "TopicArn" in doc:  # SNS inside SQS
        return [_json(doc.get("Message"), "an SNS message")]
    return [doc]


def _domain(raw: dict[str, Any]) -> Any:
    """A Skyloop event, bare or wrapped by EventBridge (source "skyloop")."""
    if raw.get("source") == SKYLOOP_SOURCE and isinstance(raw.get("detail"), dict):
        return parse_event(raw["detail"])
    return bare_domain_event(raw, "an AWS")
