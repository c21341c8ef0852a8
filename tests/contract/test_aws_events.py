"""Every sample in events/aws/ maps to the domain event it stands for (no AWS needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from skyloop.clouds.aws import cloudwatch as cw
from skyloop.clouds.aws.events import approval_event, to_domain, training_job_event
from skyloop.clouds.aws.sqs import from_sqs_record
from skyloop.errors import InvalidEvent
from skyloop.events import ModelVersionApproved, RemediationRequested, parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events" / "aws"


def decode(raw: dict) -> list:
    """The one decoder, for shapes that read no object."""
    return to_domain(raw, training_bucket="skyloop-training-123456789012-us-east-1", read=lambda uri: b"")


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_every_sample_is_covered_here() -> None:
    covered = {"s3-object-created.json", "eventbridge-s3-object-created.json",
               "eventbridge-sagemaker-model-package-approved.json", "cloudwatch-alarm-action.json",
               "eventbridge-cloudwatch-alarm.json", "firehose-metric-stream-transform.json",
               "s3-metric-stream-object-created.json", "sqs-remediation-batch.json",
               "eventbridge-sagemaker-training-job-completed.json", "firehose-sagemaker-variant-metrics.json",
               "stepfunctions-rollout-step.json", "sqs-s3-object-created.json", "sns-s3-object-created.json",
               "sqs-sns-s3-object-created.json", "s3-object-removed.json", "eventbridge-cloudwatch-alarm-no-dimensions.json",
               "s3-ai-upload-created.json", "eventbridge-transcribe-output-created.json",
               "eventbridge-transcribe-job-failed.json", "eventbridge-scheduled-notify.json",
               "s3-batch-upload-created.json", "eventbridge-sagemaker-transform-job-completed.json"}
    assert {p.name for p in EVENTS.glob("*.json")} == covered


def test_rows_under_batch_are_scored_not_trained_on() -> None:
    from skyloop.events import BatchPredictionRequested

    [e] = decode(load("s3-batch-upload-created.json"))
    assert isinstance(e, BatchPredictionRequested)
    assert (e.uri, e.model_group, e.size) == ("s3://skyloop-training-123456789012-us-east-1/batch/churn-2026/week-48.csv",
                                             "churn-2026", 48213)


def test_the_notify_schedule_is_no_domain_event() -> None:
    """EventBridge's documented Scheduled Event: the notify function looks at the state on it; no
    other function takes it (it is not an approval, an alarm or an upload)."""
    raw = load("eventbridge-scheduled-notify.json")
    assert raw["detail-type"] == "Scheduled Event" and raw["source"] == "aws.events"
    with pytest.raises(InvalidEvent):
        decode(raw)


def test_an_upload_under_ai_is_media_for_the_ai_services() -> None:
    from skyloop.events import MediaArrived

    [e] = decode(load("s3-ai-upload-created.json"))
    assert isinstance(e, MediaArrived)
    assert (e.uri, e.size, e.version) == ("s3://skyloop-training-123456789012-us-east-1/ai/incident-note.txt", 64,
                                          "5f1c8e3b0f0d8f1a2b3c4d5e6f708192")


def test_a_transcribe_output_is_a_job_finishing_not_an_upload() -> None:
    """Transcribe writes its output under transcribe/ (outside ai/): the analyze function takes it
    as the job's completion, and the AWS provider names the job from the key."""
    from skyloop.ports.ai import is_media
    from skyloop.clouds.aws.ai import AwsAI
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.events import MediaArrived

    [e] = decode(load("eventbridge-transcribe-output-created.json"))
    assert isinstance(e, MediaArrived) and not is_media(e.uri.split("/", 3)[3])
    ai = AwsAI(AwsSettings(bucket="skyloop-training-123456789012-us-east-1"))
    assert ai.job_of(e.uri) == "skyloop-3f6c1d0a9b8e7f6a5d4c3b2a1908f7e6d5c4b3a2"
    for other in ("transcribe/skyloop-3f6c.json", "transcribe/3f6c1d0a9b8e7f6a5d4c3b2a1908f7e6d5c4b3a2.wav",
                  "ai/skyloop-3f6c1d0a9b8e7f6a5d4c3b2a1908f7e6d5c4b3a2.json"):
        assert ai.job_of(f"s3://skyloop-training-123456789012-us-east-1/{other}") is None, other
    assert ai.job_of(e.uri.replace("123456789012", "999999999999")) is None  # another bucket's object
    ev = load("eventbridge-transcribe-output-created.json")
    ev["detail"]["object"]["key"] = "transcribe/.write_access_check_file.temp"  # Transcribe's own probe
    assert decode(ev) == []


def test_both_s3_forms_name_the_same_object() -> None:
    [direct] = decode(load("s3-object-created.json"))
    [bridged] = decode(load("eventbridge-s3-object-created.json"))
    # notification keys are URL-encoded ('+' is a space); EventBridge's are not
    assert direct.uri == bridged.uri == "s3://skyloop-training-123456789012-us-east-1/datasets/churn 2026.csv"
    assert direct.version and bridged.version


def test_sidecar_uploads_are_not_training_data() -> None:
    ev = load("eventbridge-s3-object-created.json")
    ev["detail"]["object"]["key"] = "datasets/churn.skyloop.json"
    assert decode(ev) == []


def test_sagemaker_approval_maps_and_other_states_are_ignored() -> None:
    ev = load("eventbridge-sagemaker-model-package-approved.json")
    got = approval_event(ev)
    assert isinstance(got, ModelVersionApproved) and (got.model_group, got.version) == ("churn-2026", 1)
    ev["detail"]["ModelApprovalStatus"] = "Rejected"
    assert approval_event(ev) is None


def test_skyloop_bus_event_and_direct_invocation_map_too() -> None:
    domain = {"type": "ModelVersionApproved", "model_group": "churn", "version": 3}
    wrapped = {"version": "0", "id": "x", "detail-type": "ModelVersionApproved", "source": "skyloop", "detail": domain}
    assert decode(wrapped)[0].version == decode(domain)[0].version == 3
    with pytest.raises(InvalidEvent):
        decode({"detail-type": "Something Else", "source": "aws.ec2", "detail": {}})


@pytest.mark.parametrize("name", ["cloudwatch-alarm-action.json", "eventbridge-cloudwatch-alarm.json"])
def test_alarms_name_the_service(name: str) -> None:
    alarm = cw.alarm_of(load(name))
    assert alarm and alarm["service"] == "api" and alarm["metric"] == "CPUUtilization"


def test_firehose_records_become_one_batch_per_service() -> None:
    ev = load("firehose-metric-stream-transform.json")
    docs = [d for _, text in cw.firehose_records(ev) for d in cw.stream_lines(text)]
    [batch] = cw.batches_from_stream(docs)
    assert batch.service == "api" and len(batch.records) == 180
    assert set(batch.records[0].values) == {"cpu_usage", "memory_usage"}
    raw = (EVENTS / "data" / "metric-stream-records.jsonl").read_text()
    assert "".join(base64.b64decode(r["data"]).decode() for r in ev["records"]) == raw


def test_sagemaker_variant_metrics_become_records_per_variant_with_rates_and_milliseconds() -> None:
    """AWS/SageMaker per-variant metrics: error counts as rates over the same minute's
    invocations (a 10% canary makes a tenth of the errors), ModelLatency from µs to ms."""
    ev = load("firehose-sagemaker-variant-metrics.json")
    docs = [d for _, text in cw.firehose_records(ev) for d in cw.stream_lines(text)]
    [batch] = cw.batches_from_stream(docs)
    assert batch.service == "skyloop-churn-2026" and len(batch.records) == 10
    assert [r.variant for r in batch.records[:2]] == ["canary", "production"]  # same minute, side by side
    raw = {(d["timestamp"], d["dimensions"]["VariantName"], d["metric_name"]): d["value"] for d in docs}
    for r in batch.records:
        ts = int(r.timestamp.timestamp() * 1000)
        calls = raw[(ts, r.variant, "Invocations")]["sum"]
        assert r.values["invocations"] == calls  # a count: the minute's sum (not judged for a canary)
        assert r.values["error_rate"] == pytest.approx(raw[(ts, r.variant, "Invocation5XXErrors")]["sum"] / calls)
        lat = raw[(ts, r.variant, "ModelLatency")]
        assert r.values["latency_ms"] == pytest.approx(lat["sum"] / lat["count"] / 1000)
    canary = [r for r in batch.records if r.variant == "canary"]
    assert min(r.values["latency_ms"] for r in canary) > 20  # 30 ms, not 30000


def test_sqs_batch_has_two_requests_and_one_poison_message() -> None:
    records = load("sqs-remediation-batch.json")["Records"]
    parsed = []
    for r in records:
        msg = from_sqs_record(r)
        try:
            parsed.append(parse_event(msg.body))
        except InvalidEvent:
            parsed.append(None)
    assert [type(p).__name__ for p in parsed] == ["RemediationRequested", "NoneType", "RemediationRequested"]
    assert isinstance(parsed[0], RemediationRequested) and from_sqs_record(records[0]).message_id == parsed[0].request_id


def test_training_job_completion_maps_with_its_hyperparameters() -> None:
    ev = load("eventbridge-sagemaker-training-job-completed.json")
    job = training_job_event(ev)
    assert job is not None and job.status == "succeeded" and job.output_uri.endswith("/output/model.tar.gz")
    assert job.source_uri == "s3://skyloop-training-123456789012-us-east-1/datasets/churn 2026.csv" and job.model_group is None
    ev["detail"]["TrainingJobStatus"] = "InProgress"
    assert training_job_event(ev) is None
    ev["detail"].update(TrainingJobStatus="Completed", TrainingJobName="someone-elses-job")
    assert training_job_event(ev) is None


TRAINING_BUCKET = "skyloop-training-123456789012-us-east-1"


def _objects(uri: str) -> bytes:
    """What a metric-stream object holds: the same JSON lines the Firehose sample carries."""
    assert uri.startswith("s3://") and TRAINING_BUCKET not in uri, uri
    return (EVENTS / "data" / "metric-stream-records.jsonl").read_bytes()


# every sample but the Firehose ones (answered per record) and the SQS batch (one domain event a record)
DECODED = {
    "s3-object-created.json": ["TrainingDataArrived"],
    "eventbridge-s3-object-created.json": ["TrainingDataArrived"],
    "eventbridge-sagemaker-training-job-completed.json": ["TrainingJobCompleted"],
    "eventbridge-sagemaker-model-package-approved.json": ["ModelVersionApproved"],
    "cloudwatch-alarm-action.json": ["MetricAlarm"],
    "eventbridge-cloudwatch-alarm.json": ["MetricAlarm"],
    "s3-metric-stream-object-created.json": ["MetricBatch"],
    # issue 15: the fan-out envelopes a real account uses, and what is not an upload
    "sqs-s3-object-created.json": ["TrainingDataArrived"],
    "sns-s3-object-created.json": ["TrainingDataArrived"],
    "sqs-sns-s3-object-created.json": ["TrainingDataArrived"],
    "s3-object-removed.json": [],
    "eventbridge-transcribe-output-created.json": ["MediaArrived"],
    "eventbridge-sagemaker-transform-job-completed.json": ["BatchJobCompleted"],
}


@pytest.mark.parametrize("name", sorted(DECODED))
def test_the_one_decoder_maps_every_sample_to_its_domain_events(name: str) -> None:
    from skyloop.clouds.aws.events import to_domain

    got = to_domain(load(name), training_bucket=TRAINING_BUCKET, read=_objects)
    assert [type(e).__name__ for e in got] == DECODED[name]


def test_alarms_carry_their_scope_and_firehose_is_not_decoded_here() -> None:
    from skyloop.clouds.aws.events import to_domain

    [alarm] = to_domain(load("eventbridge-cloudwatch-alarm.json"), training_bucket=TRAINING_BUCKET, read=_objects)
    assert (alarm.service, alarm.scope, alarm.metric) == ("api", "service", "CPUUtilization")
    with pytest.raises(InvalidEvent, match="per record"):
        to_domain(load("firehose-metric-stream-transform.json"), training_bucket=TRAINING_BUCKET, read=_objects)


def test_the_decoder_passes_domain_events_ignores_what_is_not_for_skyloop_and_refuses_the_rest() -> None:
    from skyloop.clouds.aws.events import accept, to_domain

    def decode(raw: dict) -> list:
        return to_domain(raw, training_bucket=TRAINING_BUCKET, read=_objects)

    batch = {"type": "MetricBatch", "service": "api", "records": [{"timestamp": "2026-11-24T00:00:00Z", "values": {"cpu": 1.0}}]}
    assert [type(e).__name__ for e in decode(batch)] == ["MetricBatch"]
    assert decode({"source": "skyloop", "detail-type": "MetricBatch", "detail": batch})[0].service == "api"
    ok = load("eventbridge-cloudwatch-alarm.json")
    ok["detail"]["state"]["value"] = "OK"
    assert decode(ok) == []
    sidecar = load("eventbridge-s3-object-created.json")
    sidecar["detail"]["object"]["key"] = "datasets/churn.skyloop.json"
    assert decode(sidecar) == []
    request = {"type": "RemediationRequested", "request_id": "r", "action": "clear_cache", "target": "api"}
    with pytest.raises(InvalidEvent, match="the detect function takes MetricBatch, MetricAlarm, got RemediationRequested"):
        from skyloop.events import MetricAlarm, MetricBatch

        accept(decode(request), "detect", MetricBatch, MetricAlarm)
    with pytest.raises(InvalidEvent):
        decode({"Records": [{"s3": {"bucket": {}}}]})
    with pytest.raises(InvalidEvent):
        decode({"detail-type": "Something Else", "source": "aws.ec2", "detail": {}})


def test_the_rollout_step_sample_is_what_the_machine_sends_for_the_approval_sample() -> None:
    """The state machine's first Task gets {"step", "state"}; the state is the one the deploy
    function starts the execution with for that approval (same request, same execution name)."""
    from skyloop.clouds.aws.stepfunctions import definition
    from skyloop.serving.rollout import execution_name, start_state

    sample = load("stepfunctions-rollout-step.json")
    approved = approval_event(load("eventbridge-sagemaker-model-package-approved.json"))
    assert isinstance(approved, ModelVersionApproved)

    class Version:
        group, version = approved.model_group, approved.version

    state = start_state(Version, approved.event_id)  # type: ignore[arg-type]
    assert sample == {"step": "begin", "state": state}
    assert state["owner"] == execution_name(state)
    assert definition()["States"]["begin"]["Parameters"]["Payload"] == {"step": "begin", "state.$": "$"}


def test_every_envelope_names_the_same_upload() -> None:
    from skyloop.clouds.aws.events import to_domain

    def upload(name: str) -> str:
        [e] = to_domain(load(name), training_bucket=TRAINING_BUCKET, read=_objects)
        return e.uri

    direct = upload("s3-object-created.json")
    assert direct == upload("sqs-s3-object-created.json") == upload("sns-s3-object-created.json") \
        == upload("sqs-sns-s3-object-created.json")


def test_an_alarm_on_a_metric_with_no_service_is_refused_never_given_a_default_service() -> None:
    """Issue 15: a single-metric account-wide alarm was mapped to service "api", and detect then
    queued "scale_out api"."""
    from skyloop.clouds.aws.events import to_domain

    with pytest.raises(InvalidEvent, match="no service dimension"):
        to_domain(load("eventbridge-cloudwatch-alarm-no-dimensions.json"), training_bucket=TRAINING_BUCKET, read=_objects)
    docs = [dict(d, dimensions={}) for d in cw.stream_lines(_objects("s3://metrics/x").decode())]
    assert cw.batches_from_stream(docs) == []  # account-wide metrics in a stream are skipped, not filed under "api"


def test_an_sqs_body_that_is_not_json_is_a_typed_refusal() -> None:
    from skyloop.clouds.aws.events import to_domain

    ev = load("sqs-s3-object-created.json")
    ev["Records"][0]["body"] = "not json {"
    with pytest.raises(InvalidEvent, match="SQS message body is not JSON"):
        to_domain(ev, training_bucket=TRAINING_BUCKET, read=_objects)
    assert to_domain({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": TRAINING_BUCKET},
                     training_bucket=TRAINING_BUCKET, read=_objects) == []


def test_a_failed_transcribe_job_stands_in_for_the_output_it_never_wrote() -> None:
    """A job that FAILED writes no output object, so nothing finished the uploads waiting on it."""
    from skyloop.clouds.aws.ai import AwsAI
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.events import MediaArrived

    raw = load("eventbridge-transcribe-job-failed.json")
    [e] = decode(raw)
    job = raw["detail"]["TranscriptionJobName"]
    assert isinstance(e, MediaArrived) and e.uri == f"s3://skyloop-training-123456789012-us-east-1/transcribe/{job}.json"
    assert AwsAI(AwsSettings(bucket="skyloop-training-123456789012-us-east-1")).job_of(e.uri) == job
    raw["detail"]["TranscriptionJobStatus"] = "COMPLETED"  # its output object finishes it instead
    assert decode(raw) == []
    raw["detail"].update(TranscriptionJobStatus="FAILED", TranscriptionJobName="someone-elses-job")
    assert decode(raw) == []


def test_a_transform_jobs_end_carries_skyloops_key_and_its_state() -> None:
    """Batch Transform's "Transform Job State Change": Skyloop's jobs only, ended states only, the key
    from the name; a failed job's reason kept (it writes no output to say so)."""
    from skyloop.clouds.aws.events import to_domain

    ev = load("eventbridge-sagemaker-transform-job-completed.json")
    [done] = to_domain(ev, training_bucket=TRAINING_BUCKET, read=_objects)
    assert (done.backend, done.key, done.status) == ("sagemaker", "6c0f2d1e9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2", "succeeded")
    ev["detail"].update(TransformJobStatus="Failed", FailureReason="ClientError: See job logs")
    [failed] = to_domain(ev, training_bucket=TRAINING_BUCKET, read=_objects)
    assert (failed.status, failed.reason) == ("failed", "ClientError: See job logs")
    ev["detail"].update(TransformJobStatus="InProgress")
    assert to_domain(ev, training_bucket=TRAINING_BUCKET, read=_objects) == []
    ev["detail"].update(TransformJobStatus="Completed", TransformJobName="another-teams-job")
    assert to_domain(ev, training_bucket=TRAINING_BUCKET, read=_objects) == []
