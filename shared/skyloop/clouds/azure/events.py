"""Azure event shapes -> Skyloop domain events: the one place that knows them.

Event Grid events in either schema (Event Grid's own, or CloudEvents 1.0; one event or the array
an HTTP delivery carries), the Azure Monitor common alert schema (an action group's webhook), and
a bare Skyloop domain event (a queue message, a direct HTTP call). ``[]`` is an event acknowledged
without effect (a sidecar upload, a model registered without approval, a resolved alert); a shape
that cannot be read is ``InvalidEvent``. Shapes: ``../shared/cloud-facts.md`` and ``events/azure/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ...errors import InvalidEvent
from ...events import BatchJobCompleted, MetricAlarm, ModelVersionApproved
from ..decoding import accept, bare_domain_event, typed_for, upload_event
from ..jobs import JOB_PREFIX, job_result
from .eventgrid import EVENT_TYPE_PREFIX

__all__ = ["accept", "to_domain"]

typed = typed_for("Azure")
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"
RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"
COMMON_ALERT = "azureMonitorCommonAlertSchema"
# a blob is complete after these (ADLS Gen2's CreateFile is not: FlushWithClose follows it; an SFTP
# upload's SftpCreate is not: SftpCommit follows it). CopyBlob on an account with a hierarchical
# namespace fires when the copy starts: the blob store refuses a pending copy as transient
# (clouds/azure/blob.py), so its redelivery reads the finished blob.
COMPLETE_APIS = {"PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose", "PutBlockFromURL", "SftpCommit"}
# resource types whose name is a service Skyloop acts on (App Service, Container Apps, Functions)
SERVICE_TYPES = ("microsoft.web/sites", "microsoft.app/containerapps")
SERVICE_PROPERTY = "skyloop-service"  # an alert rule's custom property that names the service


@typed
def to_domain(raw: Any, *, container: str) -> list[Any]:
    if isinstance(raw, list):
        return [e for doc in raw for e in to_domain(doc, container=container)]
    if not isinstance(raw, dict):
        raise InvalidEvent(f"an Azure event is a JSON object or an array of them, got {type(raw).__name__}")
    if raw.get("schemaId") == COMMON_ALERT:
        return _alert(raw["data"])
    kind = raw.get("eventType") or (raw.get("type") if "specversion" in raw else None)
    if kind == BLOB_CREATED:
        return _blob_created(raw, container)
    if kind == MODEL_REGISTERED:
        return _model_registered(raw)
    if kind == RUN_STATUS_CHANGED:
        return _run_status_changed(raw)
    if isinstance(kind, str) and kind.startswith(EVENT_TYPE_PREFIX):  # Skyloop's own, on the events topic
        data = raw.get("data")
        if not isinstance(data, dict):
            raise InvalidEvent(f"a {kind} event carries a Skyloop domain event as its data")
        return [bare_domain_event(data, "an Azure")]
    if isinstance(kind, str):
        raise InvalidEvent(f"a {kind} event is not one Skyloop takes")
    return [bare_domain_event(raw, "an Azure")]


def _blob_created(raw: dict[str, Any], container: str) -> list[Any]:
    """A blob written to the datasets container. The name is what follows /blobs/ in the subject;
    the URI is the blob's URL (percent-encoded, as Azure sends it)."""
    data = raw["data"]
    subject = str(raw["subject"])
    _, _, rest = subject.partition("/containers/")
    blob_container, _, name = rest.partition("/blobs/")
    if not name:
        raise InvalidEvent(f"subject {subject[:120]!r} names no blob")
    if blob_container != container:
        raise InvalidEvent(f"blob {name} is in container {blob_container}, not the datasets container {container}")
    if data.get("api") in COMPLETE_APIS and unquote(name).startswith(f"{JOB_PREFIX}/"):  # an Azure ML job's result
        return job_result(unquote(name), str(data["url"]), "azureml")
    kind = upload_event(unquote(name))
    if data.get("api") not in COMPLETE_APIS or kind is None:
        return []  # an incomplete ADLS file, a sidecar, a model, an analysis result
    at = raw.get("eventTime") or raw.get("time")
    return [kind(uri=str(data["url"]), size=int(data["contentLength"]), version=str(data["eTag"]),
                 event_id=str(raw["id"]), **({"occurred_at": at} if at else {}))]


def _model_registered(raw: dict[str, Any]) -> list[Any]:
    """Azure ML has no approval state: approval is a version registered with the tag
    approval=approved (../shared/cloud-facts.md). Without it the registration is acknowledged."""
    data = raw["data"]
    tags = data.get("ModelTags") or {}
    if str(tags.get("approval", "")).lower() != "approved":
        return []
    group, version = str(data["ModelName"]), int(data["ModelVersion"])
    # the approval's own id: this notification and Skyloop's own event start one rollout
    return [ModelVersionApproved(event_id=ModelVersionApproved.id_for(group, version), model_group=group, version=version,
                                 approved_by=str(tags.get("approved_by") or "azureml"))]


def _run_status_changed(raw: dict[str, Any]) -> list[Any]:
    """An Azure ML run's status changed: the end of a Skyloop batch job (its ``skyloop-batch`` tag,
    ``clouds/azure/batch.py``) is its completion; another run, or a status on the way, is nothing."""
    from .batch import STATES, TAG

    data = raw["data"]
    key = str((data.get("runTags") or {}).get(TAG) or "")
    status = STATES.get(str(data.get("runStatus")))
    if not key or status is None:
        return []
    return [BatchJobCompleted(event_id=str(raw["id"]), backend="azureml", key=key, status=status,
                              reason="" if status == "succeeded" else f"Azure ML run {data.get('runId')} ended "
                              f"{data.get('runStatus')}; its logs are in the workspace")]


def _alert(data: dict[str, Any]) -> list[Any]:
    """A fired alert is an alarm on its service; a resolved one is acknowledged. The service is the
    alert rule's custom property skyloop-service, else the target's name when the target is an App
    Service, Container App or Function App; a VM or a storage account names no service, and is
    refused, never guessed."""
    essentials = data["essentials"]
    if essentials.get("monitorCondition") != "Fired":
        return []
    # a metric alert carries the rule's custom properties in customProperties; a log search alert
    # (scheduled query rule) in alertContext.properties
    custom = {**((data.get("alertContext") or {}).get("properties") or {}), **(data.get("customProperties") or {})}
    service = str(custom.get(SERVICE_PROPERTY) or "")
    if not service:
        for target in essentials.get("alertTargetIDs") or []:
            t = str(target).lower()
            if any(f"/providers/{kind}/" in t for kind in SERVICE_TYPES):
                service = str(target).rstrip("/").rsplit("/", 1)[1]
                break
    if not service:
        raise InvalidEvent(f"alert {essentials.get('alertRule', '?')} names no service: target an App Service or "
                           f"Container App, or give the alert rule the custom property {SERVICE_PROPERTY}=<service>")
    criteria = ((data.get("alertContext") or {}).get("condition") or {}).get("allOf") or [{}]
    return [MetricAlarm(event_id=str(essentials.get("alertId") or essentials.get("alertRule")), service=service,
                        alarm=str(essentials.get("alertRule") or ""), metric=str(criteria[0].get("metricName") or ""))]
