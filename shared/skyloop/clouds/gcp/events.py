"""Google Cloud event shapes -> Skyloop domain events: the one place that knows them.

Input is a CloudEvent as a dict in structured form (``type``, ``source``, ``subject``, ``id``,
``data`` ...): what functions-framework hands a ``@cloud_event`` function, in either of Eventarc's
modes, flattened by ``cloudevent_dict``. A bare Skyloop domain event (direct HTTP invocation) is
taken too. ``[]`` is an event acknowledged without effect (a sidecar upload, an incident closing);
a shape that cannot be read is ``InvalidEvent``. Shapes: ``../shared/cloud-facts.md`` and the
samples in ``events/gcp/``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ...errors import InvalidEvent
from ...events import BatchJobCompleted, MetricAlarm, ModelVersionApproved, parse_event
from ..decoding import accept, bare_domain_event, typed_for, upload_event
from ..jobs import JOB_PREFIX, job_result
from ...ports.batch import key_of_output

__all__ = ["accept", "cloudevent_dict", "to_domain"]

typed = typed_for("Google Cloud")
FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
AUDIT_LOG = "google.cloud.audit.log.v1.written"
DIRECT = "dev.skyloop."  # ce-type of a direct invocation: the data is a Skyloop domain event
# the Vertex AI calls that approve a version (the alias "approved", or Skyloop's status label), and
# the surfaces that log them: the v1 API, v1beta1 (gcloud beta) and the console (.ui.); the
# Eventarc triggers match each (infra/gcp/main.tf), as audit logs match a method name exactly
APPROVAL_METHODS = ("ModelService.MergeVersionAliases", "ModelService.UpdateModel")
APPROVAL_SURFACES = ("v1", "v1beta1", "ui")
# where a Cloud Monitoring incident names the service it is about, in the order looked at: a
# policy's user label set by the operator, then the resource labels of the service-shaped types
SERVICE_LABELS = (("policy_user_labels", "skyloop-service"), ("resource", "service_name"),
                  ("resource", "function_name"), ("resource", "module_id"))


def cloudevent_dict(event: Any) -> dict[str, Any]:
    """functions-framework's ``CloudEvent`` (binary or structured mode on the wire) -> one dict."""
    if isinstance(event, dict):
        return event
    attrs = dict(event.get_attributes()) if hasattr(event, "get_attributes") else {}
    return {**attrs, "data": getattr(event, "data", None)}


@typed
def to_domain(raw: Any, *, training_bucket: str) -> list[Any]:
    if not isinstance(raw, dict):
        raise InvalidEvent(f"a Google Cloud event is a JSON object, got {type(raw).__name__}")
    kind = raw.get("type")
    if kind == FINALIZED:
        return _finalized(raw, training_bucket)
    if kind == PUBLISHED:
        return _published(raw)
    if kind == AUDIT_LOG:
        return _audit_log(raw)
    if isinstance(kind, str) and kind.startswith(DIRECT):  # a domain event POSTed as a CloudEvent's data
        data = raw.get("data")
        if not isinstance(data, dict):
            raise InvalidEvent(f"a {kind} CloudEvent carries a Skyloop domain event as its JSON data")
        return [bare_domain_event(data, "a Google Cloud")]
    if isinstance(kind, str) and kind.startswith("google."):
        raise InvalidEvent(f"a {kind} event is not one Skyloop takes")
    return [bare_domain_event(raw, "a Google Cloud")]


def _finalized(raw: dict[str, Any], training_bucket: str) -> list[Any]:
    """An object written to the training bucket: a CSV or a file under ai/ is an upload; anything
    else (the sidecar, a model, state, an analysis result) is acknowledged without effect. size and generation are int64 sent as strings.
    Another bucket's object means a trigger pointed at the wrong bucket: refused with that reason."""
    data = raw["data"]
    bucket, name = str(data["bucket"]), str(data["name"])
    if bucket != training_bucket:
        raise InvalidEvent(f"gs://{bucket}/{name} is not in the training bucket gs://{training_bucket}")
    if name.startswith(f"{JOB_PREFIX}/"):  # a Vertex AI training job's result
        return job_result(name, f"gs://{bucket}/{name}", "vertex")
    key = key_of_output(name)
    if key is not None:  # a Vertex AI batch prediction job writing: the handler asks the job if it ended
        return [BatchJobCompleted(event_id=f"vertex-batch:{key}:{name}", backend="vertex", key=key)]
    kind = upload_event(name)
    if kind is None:
        return []
    when = {"occurred_at": raw["time"]} if raw.get("time") else {}
    return [kind(uri=f"gs://{bucket}/{name}", size=int(data["size"]), version=str(data["generation"]),
                 event_id=str(raw.get("id") or f"{bucket}/{name}#{data['generation']}"), **when)]


def published_data(raw: Any) -> Any:
    """The JSON document a Pub/Sub ``messagePublished`` CloudEvent carries (base64 in ``data``): anything
    else (another kind of event, a broken message) is a typed refusal, never a stray error."""
    message = raw.get("data", {}).get("message") if isinstance(raw, dict) and isinstance(raw.get("data"), dict) else None
    if not isinstance(message, dict):
        raise InvalidEvent(f"a {raw.get('type') if isinstance(raw, dict) else type(raw).__name__} event is not a "
                           "Pub/Sub message")
    try:
        return json.loads(base64.b64decode(message.get("data") or "", validate=True) or b"null")
    except (binascii.Error, ValueError):
        raise InvalidEvent(f"Pub/Sub message {message.get('messageId', '?')} is not base64 JSON") from None


def _published(raw: dict[str, Any]) -> list[Any]:
    """A Pub/Sub message: a Skyloop domain event (the remediation and events topics), or a Cloud
    Monitoring incident (schema 1.2) from an alerting policy's notification channel."""
    message = raw["data"]["message"]
    body = published_data(raw)
    if isinstance(body, dict) and isinstance(body.get("incident"), dict):
        return _incident(body["incident"], str(message.get("messageId", "")))
    if isinstance(body, dict) and "type" in body:
        return [parse_event(body)]
    raise InvalidEvent(f"Pub/Sub message {message.get('messageId', '?')} is neither a Skyloop event nor a "
                       "Cloud Monitoring incident")


def _incident(incident: dict[str, Any], message_id: str) -> list[Any]:
    """An open incident is an alarm on its service; a closed one is acknowledged. A resource with
    no service label (a VM's instance_id names no service) is refused: detect must never act on a
    default service it guessed."""
    if incident.get("state") != "open":
        return []
    service = next((v for where, name in SERVICE_LABELS if (v := _label(incident, where, name))), "")
    if not service:
        raise InvalidEvent(f"incident {incident.get('incident_id', '?')} names no service: label the alerting policy "
                           "with skyloop-service=<service> (user label), or alert on a Cloud Run / Functions resource")
    metric = incident.get("metric") or {}
    when = {"occurred_at": int(incident["started_at"])} if incident.get("started_at") else {}
    return [MetricAlarm(event_id=str(incident.get("incident_id") or message_id), service=service,
                        alarm=str(incident.get("policy_name") or ""), metric=str(metric.get("type") or ""), **when)]


def _label(incident: dict[str, Any], where: str, name: str) -> str:
    doc = incident.get(where) or {}
    labels = doc.get("labels", {}) if where == "resource" else doc
    value = labels.get(name) if isinstance(labels, dict) else None
    return str(value) if value else ""


def _audit_log(raw: dict[str, Any]) -> list[Any]:
    """A Vertex AI audit-log entry (Eventarc): a hint that a version was approved. Only the
    approving calls count: the alias ``approved`` merged onto a version, or Skyloop's status label
    set to approved; the deploy function re-reads the version before it acts. The event id is the
    approval's own (``ModelVersionApproved.id_for``): the two entries one approval writes (label
    and alias) and Skyloop's own event start one rollout."""
    payload = raw["data"]["protoPayload"]
    method = str(payload.get("methodName") or "")
    if payload.get("serviceName") not in (None, "aiplatform.googleapis.com") or method not in {
            f"google.cloud.aiplatform.{s}.{m}" for s in APPROVAL_SURFACES for m in APPROVAL_METHODS}:
        raise InvalidEvent(f"audit-log entry for {payload.get('serviceName')} {method or '?'} is not a Vertex AI approval")
    request = payload.get("request") or {}
    if method.endswith("MergeVersionAliases"):
        approved = "approved" in (request.get("versionAliases") or request.get("version_aliases") or [])
        name = str(request.get("name") or payload.get("resourceName") or "")
    else:
        model = request.get("model") or {}
        approved = (model.get("labels") or {}).get("skyloop-status") == "approved"
        name = str(model.get("name") or payload.get("resourceName") or "")
    if not approved:
        return []
    base, _, version = name.partition("@")
    group = base.rsplit("/models/", 1)[-1] if "/models/" in base else ""
    if not group or not version.isdigit():
        raise InvalidEvent(f"audit-log entry names no model version ({name or 'no name'}): approve a version "
                           "(models/<id>@<version>), or publish a ModelVersionApproved")
    who = str((payload.get("authenticationInfo") or {}).get("principalEmail") or "unknown")
    when = {"occurred_at": raw["time"]} if raw.get("time") else {}
    return [ModelVersionApproved(event_id=ModelVersionApproved.id_for(group, int(version)), model_group=group,
                                 version=int(version), approved_by=who, **when)]
