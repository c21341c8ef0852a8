"""Every sample in events/gcp/ through the one Google Cloud decoder (skyloop.clouds.gcp.events):
what each means in domain events, what is acknowledged without effect, what is refused and why.
The binary-mode sample is turned into a CloudEvent exactly as functions-framework does for an
Eventarc HTTP delivery (its own ``cloudevents.http.from_http``)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from skyloop.errors import InvalidEvent
from skyloop.events import MetricAlarm, ModelVersionApproved, RemediationRequested, TrainingDataArrived

from skyloop.clouds.gcp.events import cloudevent_dict, to_domain

EVENTS = Path(__file__).resolve().parents[2] / "events" / "gcp"
BUCKET = "skyloop-training-dev"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def decode(raw: Any) -> list[Any]:
    return to_domain(raw, training_bucket=BUCKET)


def test_an_upload_is_training_data_with_its_size_and_generation() -> None:
    [e] = decode(sample("storage-object-finalized.json"))
    assert isinstance(e, TrainingDataArrived)
    assert (e.uri, e.size, e.version) == (f"gs://{BUCKET}/datasets/churn 2026.csv", 11847, "1764150000123456")


def test_a_recognitions_output_is_a_job_finishing_named_by_the_provider() -> None:
    """Speech-to-Text's long-running recognition writes its response under transcribe/: a
    MediaArrived the GCP provider names as its job (skyloop.ai.uploads.finish_job takes it)."""
    from skyloop.clouds.gcp.ai import GcpAI
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.events import MediaArrived

    [e] = decode(sample("storage-transcribe-output-finalized.json"))
    assert isinstance(e, MediaArrived) and e.version == "1764150401502001"
    ai = GcpAI(GcpSettings(bucket=BUCKET))
    assert ai.job_of(e.uri) == "gcp-7d2f4c1b9a8e6d5c4b3a29180f7e6d5c4b3a2918"
    assert ai.job_of(e.uri.replace("/transcribe/", "/ai/")) is None
    assert ai.job_of(e.uri.replace(".json", ".started")) is None  # the started marker is no output
    assert ai.job_of(e.uri.replace(BUCKET, "another-bucket")) is None


def test_binary_mode_delivery_decodes_the_same_as_structured() -> None:
    cloudevents = pytest.importorskip("cloudevents.http")
    doc = sample("storage-object-finalized.binary.json")
    event = cloudevents.from_http(doc["headers"], json.dumps(doc["body"]).encode())
    assert decode(cloudevent_dict(event)) == decode(sample("storage-object-finalized.json"))


def test_a_sidecar_upload_is_acknowledged_without_effect() -> None:
    assert decode(sample("storage-sidecar-finalized.json")) == []


def test_an_object_in_another_bucket_is_refused_with_the_reason() -> None:
    raw = sample("storage-object-finalized.json")
    raw["data"]["bucket"] = "someone-elses"
    with pytest.raises(InvalidEvent, match="not in the training bucket"):
        decode(raw)


def test_pubsub_messages_carry_domain_events() -> None:
    [req] = decode(sample("pubsub-remediation-requested.json"))
    assert isinstance(req, RemediationRequested) and (req.action, req.target) == ("scale_out", "api")
    [ok] = decode(sample("pubsub-model-version-approved.json"))
    assert isinstance(ok, ModelVersionApproved) and (ok.model_group, ok.version) == ("churn-2026", 1)


def test_an_open_incident_is_an_alarm_on_its_service_and_a_closed_one_is_acknowledged() -> None:
    [alarm] = decode(sample("pubsub-monitoring-incident.json"))
    assert isinstance(alarm, MetricAlarm)
    assert (alarm.service, alarm.alarm, alarm.metric) == ("api", "api-cpu-high", "run.googleapis.com/container/cpu/utilizations")
    assert decode(sample("pubsub-monitoring-incident-closed.json")) == []


def test_an_incident_naming_no_service_is_refused_never_guessed() -> None:
    with pytest.raises(InvalidEvent, match="names no service"):
        decode(sample("pubsub-monitoring-incident-no-service.json"))
    raw = sample("pubsub-monitoring-incident-no-service.json")  # the operator's label fixes it
    body = json.loads(base64.b64decode(raw["data"]["message"]["data"]))
    body["incident"]["policy_user_labels"] = {"skyloop-service": "batch"}
    raw["data"]["message"]["data"] = base64.b64encode(json.dumps(body).encode()).decode()
    assert decode(raw)[0].service == "batch"


def test_a_direct_domain_event_is_taken() -> None:
    [e] = decode({"type": "TrainingDataArrived", "uri": f"gs://{BUCKET}/datasets/x.csv"})
    assert isinstance(e, TrainingDataArrived)


@pytest.mark.parametrize("raw,why", [
    ("not a dict", "JSON object"),
    ({"type": "google.cloud.audit.log.v1.written", "data": {}}, "malformed Google Cloud event"),
    ({"type": "google.cloud.firestore.document.v1.written", "data": {}}, "not one Skyloop takes"),
    ({"type": "google.cloud.pubsub.topic.v1.messagePublished", "data": {"message": {"data": "%%%"}}}, "not base64 JSON"),
    ({"type": "google.cloud.pubsub.topic.v1.messagePublished",
      "data": {"message": {"data": base64.b64encode(b'{"hello": 1}').decode()}}}, "neither a Skyloop event"),
    ({"type": "google.cloud.storage.object.v1.finalized", "data": {"bucket": BUCKET}}, "malformed Google Cloud event"),
    ({"type": "google.cloud.storage.object.v1.finalized",
      "data": {"bucket": BUCKET, "name": "a.csv", "size": "big", "generation": "1"}}, "malformed Google Cloud event"),
    ({"hello": "world"}, "nor a Skyloop domain event"),
])
def test_malformed_events_are_typed_refusals(raw: Any, why: str) -> None:
    with pytest.raises(InvalidEvent, match=why):
        decode(raw)


def test_every_sample_is_decoded_or_refused_with_a_reason() -> None:
    for path in sorted(EVENTS.glob("*.json")):
        raw = json.loads(path.read_text())
        if "headers" in raw:
            continue  # the binary-mode sample: test_binary_mode_delivery_decodes_the_same_as_structured
        try:
            out = decode(raw)
        except InvalidEvent as e:
            assert e.reason, path.name
        else:
            assert isinstance(out, list), path.name


def test_a_training_jobs_result_is_its_completion() -> None:
    from skyloop.events import TrainingJobCompleted

    [done] = decode(sample("storage-training-job-finished.json"))
    assert isinstance(done, TrainingJobCompleted)
    assert (done.backend, done.status, done.model_group) == ("vertex", "succeeded", "churn-2026")
    assert done.output_uri == f"gs://{BUCKET}/training-jobs/churn-2026/{done.job_id}/model.tar.gz"
    raw = sample("storage-training-job-finished.json")
    raw["data"]["name"] = raw["data"]["name"].replace("model.tar.gz", "failed.json")
    [failed] = decode(raw)
    assert failed.status == "failed" and "failed.json" in failed.reason and failed.event_id == done.event_id
    raw["data"]["name"] = raw["data"]["name"].replace("failed.json", "model.tar.gz.tmp")
    assert decode(raw) == []  # the job's own scratch file


def test_a_batch_prediction_jobs_output_asks_whether_the_job_ended() -> None:
    """Vertex tells nobody a batch job ended: its output's finalize event names the job (its key, in
    the output prefix), with no state; an object elsewhere under predictions/ is nothing."""
    from skyloop.events import BatchJobCompleted

    [out] = decode(sample("storage-batch-prediction-output-finalized.json"))
    assert isinstance(out, BatchJobCompleted)
    assert (out.backend, out.key, out.status) == ("vertex", "6c0f2d1e9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2", "unknown")
    raw = sample("storage-batch-prediction-output-finalized.json")
    raw["data"]["name"] = "predictions/churn-2026/week-48.manifest.json"
    assert decode(raw) == []


def test_a_vertex_approval_in_the_audit_log_is_an_approval_hint() -> None:
    raw = sample("auditlog-vertex-version-approved.json")
    [ok] = decode(raw)
    assert isinstance(ok, ModelVersionApproved)
    assert (ok.model_group, ok.version, ok.approved_by) == ("churn-2026", 1, "reviewer@example.com")
    assert ok.event_id == ModelVersionApproved.id_for("churn-2026", 1)  # Skyloop's own approval event has it too
    # Skyloop's own approval writes the status label too: the same version, the same event id
    update = json.loads(json.dumps(raw))
    p = update["data"]["protoPayload"]
    p["methodName"] = "google.cloud.aiplatform.v1.ModelService.UpdateModel"
    p["request"] = {"model": {"name": p["request"]["name"], "labels": {"skyloop-status": "approved"}},
                    "updateMask": "labels"}
    assert decode(update) == [ok]
    p["request"]["model"]["labels"] = {"skyloop-status": "rejected"}
    assert decode(update) == []  # another change to the model: acknowledged
    raw["data"]["protoPayload"]["request"]["versionAliases"] = ["-approved"]
    assert decode(raw) == []
    raw["data"]["protoPayload"]["request"] = {"name": "projects/p/locations/l/models/churn-2026@default",
                                              "versionAliases": ["approved"]}
    with pytest.raises(InvalidEvent, match="names no model version"):
        decode(raw)
    raw["data"]["protoPayload"]["methodName"] = "google.cloud.aiplatform.v1.ModelService.DeleteModel"
    with pytest.raises(InvalidEvent, match="not a Vertex AI approval"):
        decode(raw)


@pytest.mark.parametrize("surface", ["v1", "v1beta1", "ui"])
def test_an_approval_from_the_console_or_gcloud_beta_is_taken_too(surface: str) -> None:
    """The console logs google.cloud.aiplatform.ui.ModelService.*, gcloud beta v1beta1: the decoder
    takes each, and the Eventarc triggers match each (tests/contract/test_infra_gcp.py)."""
    raw = sample("auditlog-vertex-version-approved.json")
    raw["data"]["protoPayload"]["methodName"] = f"google.cloud.aiplatform.{surface}.ModelService.MergeVersionAliases"
    [ok] = decode(raw)
    assert isinstance(ok, ModelVersionApproved) and ok.version == 1
    raw["data"]["protoPayload"]["methodName"] = f"evil.{surface}.ModelService.MergeVersionAliases"
    with pytest.raises(InvalidEvent, match="not a Vertex AI approval"):
        decode(raw)
