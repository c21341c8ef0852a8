"""The Cloud Functions entry points (functions/gcp/main.py) through functions-framework's own app,
each event POSTed as Eventarc delivers it (binary mode), on the real GCS and Pub/Sub emulators
with Vertex AI, Cloud Monitoring, Cloud Run and Workflows faked at their clients (harness.py,
conftest.GcpEnv). Every sample in events/gcp/ goes through its function, and the whole loop runs:
upload -> PENDING -> approve -> staged and promoted -> incident -> RCA -> remediation -> audit."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

pytest.importorskip("functions_framework")
pytest.importorskip("google.cloud.aiplatform_v1")

from skyloop.ports.registry import Status  # noqa: E402

from . import harness  # noqa: E402

ROOT = harness.ROOT
GROUP = "churn-2026"

# sample -> (function, what it answers: the outcome, or the kinds it yields)
SAMPLES = {
    "storage-object-finalized.json": "train",
    "storage-object-finalized.binary.json": "train",
    "storage-sidecar-finalized.json": "train",
    "storage-training-job-finished.json": "train",
    "storage-ai-upload-finalized.json": "train",
    "storage-transcribe-output-finalized.json": "train",  # a long recording's recognition finished
    "auditlog-vertex-version-approved.json": "deploy",
    "pubsub-model-version-approved.json": "deploy",
    "pubsub-monitoring-incident.json": "detect",
    "pubsub-monitoring-incident-closed.json": "detect",
    "pubsub-monitoring-incident-no-service.json": "detect",
    "pubsub-remediation-requested.json": "remediate",
    "pubsub-notify-tick.json": "notify",
    "pubsub-training-check-tick.json": "train",  # Cloud Scheduler's look at AutoML pipelines: none recorded here
    "storage-batch-prediction-output-finalized.json": "train",  # a batch job's output: a job of no record here
    "storage-batch-finalized.json": "train",  # rows to score: the train function carries the model's libraries  # Cloud Scheduler's tick: nothing to tell with no channel configured
}


def test_every_sample_has_its_function() -> None:
    assert sorted(p.name for p in harness.EVENTS.glob("*.json")) == sorted(SAMPLES)


def _sample(name: str, env: Any) -> dict[str, Any]:
    """A sample pointed at this test's bucket (a trigger only ever sees its own bucket)."""
    doc = json.loads((harness.EVENTS / name).read_text().replace("skyloop-training-dev", env.gcs.bucket))
    if "headers" in doc:  # the binary-mode sample: already headers and body
        return doc
    return doc


def _post(env: Any, function: str, doc: dict[str, Any]) -> Any:
    if "headers" in doc:
        return harness.app(function, env.adapters, env.gcp).post("/", headers=doc["headers"], data=json.dumps(doc["body"]))
    return harness.deliver(function, doc, env.adapters, env.gcp)


def _dead_letters(env: Any) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in env.pull("dead_letter_topic")]


def test_each_sample_through_its_function(gcp_env: Any) -> None:
    env = gcp_env
    env.gcs.client.bucket(env.gcs.bucket).blob("datasets/churn 2026.csv").upload_from_filename(
        str(ROOT / "events/local/data/churn.csv"))
    env.gcs.client.bucket(env.gcs.bucket).blob("ai/incident-note.txt").upload_from_string(
        b"The checkout service failed again overnight and customers are angry.")
    outcomes: dict[str, int] = {}
    for name, function in SAMPLES.items():
        answer = _post(env, function, _sample(name, env))
        outcomes[name] = answer.status_code
    # every delivery is answered 2xx (acknowledged): done, ignored, or dead-lettered with a reason;
    # none is left for Eventarc to retry, since none of them failed transiently
    assert all(code == 200 for code in outcomes.values()), outcomes
    dead = _dead_letters(env)
    parked = {(d["function"], d["error"]) for d in dead}
    # the AI upload: analysed by Google Cloud's AI services (Natural Language at its client), the result beside it
    result = json.loads(env.adapters.store.get("ai/incident-note.txt.skyloop-ai.json"))
    assert (result["provider"], result["kind"], result["result"]["sentiment"]["label"]) == ("gcp", "text", "negative")
    # the training job's result sample and the batch sample name objects this bucket lacks: refused with the reason
    assert sorted(d["reason"] for d in dead if d["function"] == "train") == [
        f"no object at gs://{env.gcs.bucket}/batch/churn-2026/week-48.csv",
        f"no object at gs://{env.gcs.bucket}/training-jobs/churn-2026/5f0c2a9e41d7b3c86a1e0f92d4b7c3e1a8f6d205/model.tar.gz"]
    failed = json.loads(env.adapters.store.get("predictions/churn-2026/week-48.manifest.json"))
    assert failed["status"] == "failed" and failed["error"] == "not_found"  # where the manifest would be: why
    assert ("detect", "invalid_event") in parked  # the incident that names no service: never guessed
    assert ("train", "training_failed") not in parked
    versions = env.adapters.registry.versions(GROUP)
    assert [v.status for v in versions] == [Status.PENDING]  # the CSV, once, however often it is delivered


def test_a_transient_failure_is_answered_500_for_eventarc_to_retry(gcp_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from skyloop.errors import TransientError

    env = gcp_env

    def throttled(*a: Any, **k: Any) -> Any:
        raise TransientError("Vertex AI quota exceeded: try later")

    monkeypatch.setattr(type(env.adapters.registry), "get", throttled)
    from datetime import datetime, timezone

    event = _sample("pubsub-model-version-approved.json", env)
    event["time"] = datetime.now(timezone.utc).isoformat()  # a fresh event: retried, not yet given up on
    answer = _post(env, "deploy", event)
    assert answer.status_code == 500 and answer.headers.get("X-Google-Status") == "crash"
    assert _dead_letters(env) == []  # retried by Eventarc, not parked


def test_an_event_still_failing_a_day_after_it_occurred_is_parked_not_retried_forever(
        gcp_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eventarc's trigger subscriptions take no dead-letter policy: a transient failure was
    redelivered until the topic's retention ended, and then lost without a trace."""
    from datetime import datetime, timedelta, timezone

    from skyloop.errors import TransientError

    env = gcp_env

    def throttled(*a: Any, **k: Any) -> Any:
        raise TransientError("Vertex AI quota exceeded: try later")

    monkeypatch.setattr(type(env.adapters.registry), "get", throttled)
    event = _sample("pubsub-model-version-approved.json", env)
    event["time"] = (datetime.now(timezone.utc) - timedelta(hours=25)).isoformat().replace("+00:00", "Z")
    answer = _post(env, "deploy", event)
    assert answer.status_code == 200, answer.data
    [parked] = _dead_letters(env)
    assert parked["error"] == "retries_exhausted" and "still failing 25.0 h after" in parked["reason"]
    assert "quota exceeded" in parked["reason"]


def test_a_direct_invocation_takes_a_domain_event(gcp_env: Any) -> None:
    env = gcp_env
    doc = {"specversion": "1.0", "type": "dev.skyloop.event", "source": "cli", "id": "direct-1",
           "data": {"type": "RemediationRequested", "request_id": "direct-1", "target": "api", "action": "scale_out",
                    "reason": "operator"}}
    assert harness.deliver("remediate", doc, env.adapters, env.gcp).status_code == 200
    assert env.run.service.scaling.min_instance_count == 3  # 1 + the default step of 2
    assert [e["kind"] for e in env.adapters.audit.entries()][-1:] == ["executed"]


def test_the_whole_loop_on_gcp(gcp_env: Any) -> None:
    """upload -> PENDING -> approve -> staged and promoted (Vertex faked at its edge, the rollout on
    the workflow's own source) -> incident -> RCA -> remediation -> audit."""
    from skyloop.clouds.gcp.workflows import definition
    from skyloop.ports.registry import approve

    env = gcp_env
    blob = env.gcs.client.bucket(env.gcs.bucket).blob(f"datasets/{GROUP}.csv")
    blob.upload_from_filename(str(ROOT / "events/local/data/churn.csv"))
    assert harness.deliver("train", harness.finalized(env.gcs.bucket, blob), env.adapters, env.gcp).status_code == 200
    [v1] = env.adapters.registry.versions(GROUP)
    assert v1.status is Status.PENDING

    # approval in the registry (what `skyloop approve` does): Vertex writes audit-log entries for the
    # label update and the alias merge; Eventarc delivers both to deploy, which starts one rollout
    approve(env.adapters.registry, env.adapters.events, GROUP, 1, actor="reviewer@example.com")
    for request in [r for r in env.models.requests if type(r).__name__ in ("UpdateModelRequest", "MergeVersionAliasesRequest")]:
        assert harness.deliver("deploy", _audit_entry(request), env.adapters, env.gcp).status_code == 200
    [execution] = env.workflows.executions
    published = [m for m in env.pull("events_topic") if m.attributes.get("type") == "ModelVersionApproved"]
    for m in published:  # the same approval published on the events topic: one rollout still
        event = harness.pubsub_cloudevent(m, "projects/p/subscriptions/eventarc-deploy", f"projects/p/topics/{env.gcp.events_topic}")
        assert harness.deliver("deploy", event, env.adapters, env.gcp).status_code == 200
    assert published and len(env.workflows.executions) == 1  # three notices of one approval: one rollout

    step = harness.app("rollout_step", env.adapters, env.gcp)

    def post(url: str, body: Any) -> tuple[int, Any]:
        assert url == "https://rollout-step.example.run.app"
        env.endpoints.finish_all()  # minutes pass between two calls of the workflow
        r = step.post("/", json=body)
        return r.status_code, r.get_json()

    flow = harness.Workflow(definition(), post, {"ROLLOUT_STEP_URL": "https://rollout-step.example.run.app"})
    final = flow.run(json.loads(execution.argument))
    assert final["status"] == "promoted", final
    assert env.adapters.registry.alias(GROUP, "production").version == 1
    env.endpoints.finish_all()  # the staging endpoint's undeploy, started by the last step, completes
    assert env.adapters.deployer.settled(GROUP)
    assert env.adapters.deployer.slots(GROUP) == {"production": 1}
    assert env.adapters.deployer.traffic(GROUP) == {"production": 1.0}

    # an incident on the api service (Cloud Monitoring -> the alerts topic -> detect)
    incident = json.loads((harness.EVENTS / "pubsub-monitoring-incident.json").read_text())
    body = json.loads(base64.b64decode(incident["data"]["message"]["data"]))
    body["incident"]["incident_id"] = "0.loop"
    incident["data"]["message"]["data"] = base64.b64encode(json.dumps(body).encode()).decode()
    assert harness.deliver("detect", incident, env.adapters, env.gcp).status_code == 200
    requests = env.pull("remediation_topic")
    assert requests, "detect queued no remediation"
    queued = [json.loads(m.data) for m in requests]
    assert all(q["target"] == "api" for q in queued)
    for m in requests:
        event = harness.pubsub_cloudevent(m, "projects/p/subscriptions/eventarc-remediate",
                                          f"projects/p/topics/{env.gcp.remediation_topic}")
        assert harness.deliver("remediate", event, env.adapters, env.gcp).status_code == 200
        assert harness.deliver("remediate", event, env.adapters, env.gcp).status_code == 200  # redelivered: one effect
    audit = env.adapters.audit.entries()
    assert [e["kind"] for e in audit].count("executed") == len({q["request_id"] for q in queued})
    ok, why = env.adapters.audit.verify()
    assert ok, why
    assert env.run.service.scaling.min_instance_count > 1 or env.run.revisions > 1
    assert _dead_letters(env) == []


def _audit_entry(request: Any) -> dict[str, Any]:
    """The audit-log CloudEvent Vertex AI would write for a ModelService request (the sample's shape)."""
    from google.protobuf import json_format

    doc = json.loads((harness.EVENTS / "auditlog-vertex-version-approved.json").read_text())
    method = "MergeVersionAliases" if type(request).__name__ == "MergeVersionAliasesRequest" else "UpdateModel"
    p = doc["data"]["protoPayload"]
    p["methodName"] = doc["methodname"] = f"google.cloud.aiplatform.v1.ModelService.{method}"
    p["request"] = json_format.MessageToDict(type(request).pb(request))
    doc["id"] = f"{doc['id']}-{method}"
    return doc


def test_the_remediation_push_subscription_reaches_remediate(gcp_env: Any) -> None:
    """Remediation requests come on Skyloop's own push subscription (the one with the dead-letter
    policy, infra/gcp/main.tf), as a raw Pub/Sub push body: functions-framework turns it into the
    messagePublished CloudEvent the decoder reads."""
    env = gcp_env
    body = {"type": "RemediationRequested", "request_id": "push-1", "target": "api", "action": "restart_service",
            "reason": "pushed"}
    push = {"subscription": f"projects/{env.gcp.project}/subscriptions/skyloop-remediation-push", "deliveryAttempt": 1,
            "message": {"data": base64.b64encode(json.dumps(body).encode()).decode(), "attributes": {"request_id": "push-1"},
                        "messageId": "991", "message_id": "991", "publishTime": "2026-11-26T10:00:00Z",
                        "publish_time": "2026-11-26T10:00:00Z"}}
    client = harness.app("remediate", env.adapters, env.gcp)
    assert client.post("/", json=push).status_code == 200
    assert client.post("/", json=push).status_code == 200  # redelivered: one restart
    assert env.run.revisions == 2
    assert [e["kind"] for e in env.adapters.audit.entries()].count("executed") == 1


def test_the_pubsub_queue_for_operators(gcp_env: Any) -> None:
    """The remediation Queue's pull side (receive, nack, dead_letter, dead_letters) on the emulator."""
    env = gcp_env
    q = env.adapters.remediation
    q.send('{"type": "RemediationRequested", "request_id": "q-1", "target": "api", "action": "scale_out"}', "q-1")
    [m] = q.receive(max_messages=5, visibility_timeout=30)
    assert json.loads(m.body)["request_id"] == "q-1"
    q.nack(m)  # straight back
    [again] = q.receive(max_messages=5)
    q.dead_letter(again, "operator: not now")
    [d] = q.dead_letters()
    assert d.reason == "operator: not now" and json.loads(d.body)["request_id"] == "q-1"
    assert [x.reason for x in q.dead_letters()] == ["operator: not now"]  # looking leaves them there


def test_a_long_recording_is_transcribed_by_a_long_running_recognition(gcp_env: Any) -> None:
    """Audio above a minute under ai/: the train trigger starts Speech-to-Text's long-running
    recognition from Cloud Storage (the speech client faked at its edge) and the upload's result
    says running; the operation's response object landing under transcribe/ (its finalize event,
    as the sample) finishes it. A redelivered upload starts no second operation."""
    from google.cloud import speech_v1 as S

    from skyloop.ports.media import wav_bytes

    env = gcp_env
    audio = wav_bytes(b"\x00\x00" * 8_000 * 90, 8_000)  # 90 s: above synchronous recognition's minute
    env.gcs.client.bucket(env.gcs.bucket).blob("ai/standup.wav").upload_from_string(audio)
    upload = _sample("storage-ai-upload-finalized.json", env)
    upload["data"].update(name="ai/standup.wav", size=str(len(audio)), generation="7")
    upload["subject"] = "objects/ai/standup.wav"
    for _ in range(2):  # redelivered: the same job, one operation
        assert _post(env, "train", upload).status_code == 200
    running = json.loads(env.adapters.store.get("ai/standup.wav.skyloop-ai.json"))
    assert running["status"] == "running" and running["result"]["job_id"].startswith("gcp-")
    [request] = env.speech.requests
    assert isinstance(request, S.LongRunningRecognizeRequest) and request.config.sample_rate_hertz == 8_000
    assert request.audio.uri.startswith(f"gs://{env.gcs.bucket}/transcribe/") and env.adapters.store.get(request.audio.uri) == audio
    output = request.output_config.gcs_uri
    assert output == f"gs://{env.gcs.bucket}/transcribe/{running['result']['job_id']}.json"
    # the service finishes: it writes its response where the request said
    response = S.LongRunningRecognizeResponse(results=[S.SpeechRecognitionResult(
        alternatives=[S.SpeechRecognitionAlternative(transcript="the deploy went out at nine", confidence=0.92)],
        language_code="en-us")])
    env.adapters.store.put(output.split(f"gs://{env.gcs.bucket}/", 1)[1], S.LongRunningRecognizeResponse.to_json(response).encode())
    finished = _sample("storage-transcribe-output-finalized.json", env)
    key = output.split(f"gs://{env.gcs.bucket}/", 1)[1]
    finished["data"].update(name=key, generation="8")
    finished["subject"] = f"objects/{key}"
    assert _post(env, "train", finished).status_code == 200
    done = json.loads(env.adapters.store.get("ai/standup.wav.skyloop-ai.json"))
    assert (done["status"], done["result"]["text"], done["result"]["confidence"]) == ("done", "the deploy went out at nine",
                                                                                      pytest.approx(0.92))
    assert len(env.speech.requests) == 1
