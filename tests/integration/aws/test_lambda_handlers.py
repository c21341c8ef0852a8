"""Each Lambda entry point in functions/aws/ against moto's server, fed the events in events/aws/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import ECS_API_DIMENSIONS, GROUP, METRICS_BUCKET, ROOT, TRAINING_BUCKET, Aws, load_event

CHURN = (ROOT / "events" / "local" / "data" / "churn.csv").read_bytes()
SIDECAR = json.dumps({"target": "churned", "params": {"n_estimators": 20}}).encode()


def upload(aws: Aws, key: str = "datasets/churn 2026.csv", data: bytes = CHURN) -> None:
    s3 = aws.client("s3")
    s3.put_object(Bucket=TRAINING_BUCKET, Key=key, Body=data)
    s3.put_object(Bucket=TRAINING_BUCKET, Key=key[:-4] + ".skyloop.json", Body=SIDECAR)


def packages(aws: Aws) -> list[dict[str, Any]]:
    sm = aws.client("sagemaker")
    return [sm.describe_model_package(ModelPackageName=p["ModelPackageArn"])
            for p in sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]]


def test_upload_registers_one_pending_package_however_often_it_is_delivered(aws: Aws, context: Any) -> None:
    import common

    sent: dict[str, Any] = {}  # what the registry asks SageMaker for (moto's ListTags cannot read these back)

    def capture(params: dict[str, Any], op: str, **_: Any) -> None:  # returns None: the params stay as sent
        sent.setdefault(op, dict(params))

    events = common.adapters().registry.sm.meta.events  # the cached client outlives this test: unhooked below
    for op in ("CreateModelPackageGroup", "CreateModelPackage"):
        events.register(f"provide-client-params.sagemaker.{op}", lambda params, op=op, **k: capture(params, op),
                        unique_id=f"skyloop-tests-capture-{op}")
    try:
        _registers_once(aws, context, sent)
    finally:
        for op in ("CreateModelPackageGroup", "CreateModelPackage"):
            events.unregister(f"provide-client-params.sagemaker.{op}", unique_id=f"skyloop-tests-capture-{op}")


def _registers_once(aws: Aws, context: Any, sent: dict[str, Any]) -> None:
    import train

    upload(aws)
    first = train.handler(load_event("s3-object-created.json"), context)
    assert first["status"] == "ok" and first["results"][0]["version"] == 1
    again = train.handler(load_event("s3-object-created.json"), context)  # at-least-once: same notification
    via_eventbridge = train.handler(load_event("eventbridge-s3-object-created.json"), context)  # same object, EB form
    assert again["results"][0]["duplicate"] and via_eventbridge["results"][0]["duplicate"]
    [pkg] = packages(aws)
    assert pkg["ModelApprovalStatus"] == "PendingManualApproval"
    # the tag the roles' registry grants require (infra/aws/template.yaml), on the package and its group
    for op in ("CreateModelPackageGroup", "CreateModelPackage"):
        assert {"Key": "skyloop:managed", "Value": "true"} in sent[op]["Tags"], op
    meta = pkg["CustomerMetadataProperties"]
    artifact = aws.client("s3").get_object(Bucket=TRAINING_BUCKET, Key=pkg["InferenceSpecification"]["Containers"][0][
        "ModelDataUrl"].split("/", 3)[3])["Body"].read()
    import hashlib

    assert meta["skyloop:artifact_sha256"] == hashlib.sha256(artifact).hexdigest()
    assert float(meta["metric:cv_accuracy_mean"]) > 0.5


def test_broken_csv_is_dead_lettered_with_its_reason(aws: Aws, context: Any) -> None:
    import train

    upload(aws, data=b"tenure,plan,churned\n1,basic\n")
    out = train.handler(load_event("s3-object-created.json"), context)
    assert out["status"] == "dead_lettered" and out["error"] == "invalid_dataset"
    [msg] = aws.messages(aws.dead_letter_url)
    body = json.loads(msg["Body"])
    assert body["function"] == "train" and body["reason"] == out["reason"]
    assert aws.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"] == []


class UpdateEndpointFallback:
    """moto has no UpdateEndpoint ("The update_endpoint action has not been implemented").
    This hook checks the exact request the deployer sends, then gives moto the same end
    state (delete + create with the new config) so the rest of the flow stays real."""

    current: "UpdateEndpointFallback | None" = None

    def __init__(self, aws: Aws) -> None:
        self.aws, self.calls = aws, []

    def attach(self, sm: Any) -> "UpdateEndpointFallback":
        """The boto3 client outlives a test (it is cached per endpoint): one hook, registered once
        by id, forwards to the newest fallback, so an earlier test's never answers for this one."""
        UpdateEndpointFallback.current = self
        sm.meta.events.register("before-call.sagemaker.UpdateEndpoint", _update_endpoint_hook,
                                unique_id="skyloop-tests-update-endpoint")
        return self

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        body = json.loads(params["body"])
        assert set(body) == {"EndpointName", "EndpointConfigName", "RetainAllVariantProperties"}
        assert body["RetainAllVariantProperties"] is False
        self.calls.append(body)
        sm = self.aws.client("sagemaker")
        sm.delete_endpoint(EndpointName=body["EndpointName"])
        sm.create_endpoint(EndpointName=body["EndpointName"], EndpointConfigName=body["EndpointConfigName"])

        class Http:
            status_code = 200
            headers: dict[str, str] = {}

        return Http(), {"EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{body['EndpointName']}",
                        "ResponseMetadata": {"HTTPStatusCode": 200}}


def _update_endpoint_hook(model: Any, params: dict[str, Any], **kw: Any) -> Any:
    assert UpdateEndpointFallback.current is not None
    return UpdateEndpointFallback.current(model, params, **kw)


def _serving_module(bundle: bytes, where: Path) -> Any:
    """Unpack a model.tar.gz as the container does and import its code/inference.py."""
    import importlib.util
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        tar.extractall(where, filter="data")
    spec = importlib.util.spec_from_file_location(f"inference_{where.name}", where / "code" / "inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _queue_predictions(aws: Aws, group: str, version: int, sizes: list[int], tmp: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's endpoints run no container, so the test runs the container's part: the serving
    bundle the deployer will upload, its inference.py, on the exact request bodies the
    rollout sends; the answers are queued for moto to return."""
    import common
    from skyloop.clouds.aws.sagemaker import serving_bundle
    from skyloop.serving.deployment import smoke_rows

    a = common.adapters()
    v = a.registry.get(group, version)
    serving = _serving_module(serving_bundle(a.store.get(v.artifact_uri)), tmp / f"v{version}")
    monkeypatch.setenv("SKYLOOP_ARTIFACT_SHA256", v.artifact_sha256)
    model = serving.model_fn(str(tmp / f"v{version}"))
    results = []
    for n in sizes:
        body = json.dumps({"rows": smoke_rows(v.lineage, n)}, default=str)
        answer = serving.output_fn(serving.predict_fn(serving.input_fn(body, "application/json"), model))
        results.append({"Body": answer, "ContentType": "application/json", "InvokedProductionVariant": "staging",
                        "CustomAttributes": ""})
    aws.moto_api("static/sagemaker/endpoint-results", {"account_id": "123456789012", "region": "us-east-1",
                                                        "results": results})


def _approved_event(version: int) -> dict[str, Any]:
    ev = load_event("eventbridge-sagemaker-model-package-approved.json")
    ev["id"] = f"approval-{version}"
    ev["detail"]["ModelPackageVersion"] = version
    ev["detail"]["ModelPackageArn"] = ev["detail"]["ModelPackageArn"].rsplit("/", 1)[0] + f"/{version}"
    return ev


def test_approval_rolls_out_through_staging_and_canary_to_production(aws: Aws, context: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import common
    import deploy
    import train
    from skyloop.ports.registry import approve

    a = common.adapters()
    fallback = UpdateEndpointFallback(aws)
    fallback.attach(a.deployer.sm)
    upload(aws)
    train.handler(load_event("s3-object-created.json"), context)
    approve(a.registry, a.events, GROUP, 1, actor="oncall", note="first model")
    assert packages(aws)[0]["ModelApprovalStatus"] == "Approved"
    _queue_predictions(aws, GROUP, 1, [8], tmp_path, monkeypatch)
    first = deploy.handler(_approved_event(1), context)
    assert first["status"] == "ok" and first["results"][0]["status"] == "promoted"
    sm = aws.client("sagemaker")
    ep = sm.describe_endpoint(EndpointName=f"skyloop-{GROUP}")
    cfg = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
    assert [(v["VariantName"], v["ModelName"]) for v in cfg["ProductionVariants"]] == [("production", f"skyloop-{GROUP}-v1")]
    container = sm.describe_model(ModelName=f"skyloop-{GROUP}-v1")["PrimaryContainer"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    bundle = aws.client("s3").get_object(Bucket=TRAINING_BUCKET, Key=container["ModelDataUrl"].split("/", 3)[3])["Body"].read()
    served = _serving_module(bundle, tmp_path / "deployed")
    monkeypatch.setenv("SKYLOOP_ARTIFACT_SHA256", "0" * 64)  # a registry record that does not match the bytes
    with pytest.raises(RuntimeError, match="refusing to load"):
        served.model_fn(str(tmp_path / "deployed"))
    monkeypatch.setenv("SKYLOOP_ARTIFACT_SHA256", container["Environment"]["SKYLOOP_ARTIFACT_SHA256"])
    loaded = served.model_fn(str(tmp_path / "deployed"))
    assert loaded["target"] == "churned"
    # trained with n_jobs=-1; served one call per thread (the server runs a worker per core)
    assert loaded["pipeline"].named_steps["model"].n_jobs == 1

    # a second dataset -> v2 -> canary at 10% then production
    upload(aws, data=CHURN.replace(b"\n1,", b"\n2,", 5))
    train.handler(load_event("s3-object-created.json"), context)
    approve(a.registry, a.events, GROUP, 2, actor="oncall")
    _queue_predictions(aws, GROUP, 2, [8, 20], tmp_path, monkeypatch)
    second = deploy.handler(_approved_event(2), context)
    assert second["results"][0]["status"] == "promoted", second
    assert any(s.startswith("canary: 10%") for s in second["results"][0]["steps"])
    ep = sm.describe_endpoint(EndpointName=f"skyloop-{GROUP}")
    cfg = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
    assert [(v["VariantName"], v["ModelName"]) for v in cfg["ProductionVariants"]] == [("production", f"skyloop-{GROUP}-v2")]
    canary_configs = [c for c in (sm.describe_endpoint_config(EndpointConfigName=c["EndpointConfigName"])
                                  for c in sm.list_endpoint_configs(MaxResults=100)["EndpointConfigs"])
                      if {v["VariantName"] for v in c["ProductionVariants"]} >= {"production", "canary"}]
    assert canary_configs, "the rollout never ran a canary variant beside production"
    assert fallback.calls, "the deployer never updated the endpoint in place"
    assert a.registry.alias(GROUP, "production").version == 2
    dup = deploy.handler(_approved_event(2), context)  # EventBridge redelivery
    assert dup["results"][0]["duplicate"]


def _queued_requests(aws: Aws) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in aws.messages(aws.queue_url)]


def test_metric_stream_through_firehose_finds_the_cpu_incident(aws: Aws, context: Any) -> None:
    import detect

    event = load_event("firehose-metric-stream-transform.json")
    out = detect.handler(event, context)
    assert [r["result"] for r in out["records"]] == ["Ok", "Ok"]
    assert [r["data"] for r in out["records"]] == [r["data"] for r in event["records"]]  # passed through unchanged
    requests = _queued_requests(aws)
    assert requests and requests[0]["target"] == "api" and requests[0]["action"] == "scale_out"
    detect.handler(event, context)  # Firehose retries the same records: no second request
    assert len(_queued_requests(aws)) == len(requests)


def test_metric_stream_object_in_s3(aws: Aws, context: Any) -> None:
    import detect

    event = load_event("s3-metric-stream-object-created.json")
    key = event["Records"][0]["s3"]["object"]["key"]
    aws.client("s3").put_object(Bucket=METRICS_BUCKET, Key=key,
                                Body=(ROOT / "events" / "aws" / "data" / "metric-stream-records.jsonl").read_bytes())
    out = detect.handler(event, context)
    assert out["status"] == "ok" and out["results"][0]["anomalies"]
    assert _queued_requests(aws)


@pytest.mark.parametrize("sample", ["cloudwatch-alarm-action.json", "eventbridge-cloudwatch-alarm.json"])
def test_alarm_reads_the_service_window_with_get_metric_data(aws: Aws, context: Any, sample: str) -> None:
    import detect
    from datetime import datetime, timedelta, timezone

    cw = aws.client("cloudwatch")
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    lines = [json.loads(x) for x in (ROOT / "events/aws/data/metric-stream-records.jsonl").read_text().splitlines()]
    t_last = max(d["timestamp"] for d in lines)
    data = []
    for d in lines:
        ts = end - timedelta(milliseconds=t_last - d["timestamp"])
        data.append({"MetricName": d["metric_name"], "Timestamp": ts, "Value": d["value"]["sum"] / d["value"]["count"],
                     "Unit": "Percent", "Dimensions": ECS_API_DIMENSIONS})
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/ECS", MetricData=data[i:i + 500])
    out = detect.handler(load_event(sample), context)
    assert out["status"] == "ok", out
    batch = out["results"][0]
    assert batch["rows"] >= 150 and batch["anomalies"], batch
    assert "cpu_usage" in batch["anomalies"][0]["deviating_metrics"]


def test_an_alarm_on_a_lambda_function_reads_aws_lambda_not_ecs(aws: Aws, context: Any) -> None:
    """An alarm on a function's FunctionName was read as an ECS service (AWS/ECS by ServiceName)
    and found nothing; it is read in its own namespace, under its own dimensions, and a window
    that is empty says where it looked."""
    import detect
    from datetime import datetime, timedelta, timezone

    ev = load_event("eventbridge-cloudwatch-alarm.json")
    metric = ev["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update({"namespace": "AWS/Lambda", "name": "Errors", "dimensions": {"FunctionName": "checkout"}})
    (empty,) = detect.handler(ev, context)["results"]
    assert empty["status"] == "ignored" and "AWS/Lambda" in empty["reason"] and "checkout" in empty["reason"], empty
    cw = aws.client("cloudwatch")
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    dims = [{"Name": "FunctionName", "Value": "checkout"}]
    data = []
    for i in range(180):
        ts = end - timedelta(minutes=180 - i)
        bad = i >= 170
        data += [{"MetricName": "Duration", "Timestamp": ts, "Value": (900.0 if bad else 120.0 + i % 7), "Unit": "Milliseconds",
                  "Dimensions": dims},
                 {"MetricName": "Errors", "Timestamp": ts, "Value": (0.4 if bad else 0.01 * (i % 3)), "Unit": "Count",
                  "Dimensions": dims},
                 # the same function's metrics under another dimension set are another series
                 {"MetricName": "Duration", "Timestamp": ts, "Value": 5.0, "Unit": "Milliseconds",
                  "Dimensions": dims + [{"Name": "Resource", "Value": "checkout:live"}]}]
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data[i:i + 500])
    out = detect.handler(ev, context)
    assert out["status"] == "ok", out
    batch = out["results"][0]
    assert batch["service"] == "checkout" and batch["rows"] >= 150, batch
    assert batch["anomalies"] and set(batch["anomalies"][0]["deviating_metrics"]) & {"latency_ms", "error_rate"}, batch


def test_alarm_back_to_ok_is_ignored(aws: Aws, context: Any) -> None:
    import detect

    ev = load_event("eventbridge-cloudwatch-alarm.json")
    ev["detail"]["state"]["value"] = "OK"
    assert detect.handler(ev, context)["status"] == "ignored"


def test_sqs_batch_poison_message_is_parked_alone_and_redelivery_has_one_effect(aws: Aws, context: Any) -> None:
    """The core delivery rule on Lambda: the malformed record is dead-lettered at once with its
    reason (retrying cannot fix it), its neighbours run, and nothing is left for SQS to retry."""
    import remediate

    batch = load_event("sqs-remediation-batch.json")
    out = remediate.handler(batch, context)
    assert out == {"batchItemFailures": []}
    [parked] = aws.messages(aws.dead_letter_url)  # Skyloop's dead-letter queue, with the reason
    assert parked["MessageAttributes"]["skyloop-dead-letter-reason"]["StringValue"].startswith("event is not valid JSON")
    body = json.loads(parked["Body"])
    assert body["function"] == "remediate" and body["event"]["messageId"] == batch["Records"][1]["messageId"]
    assert aws.messages(aws.dlq_url) == []  # the redrive queue is for failures that stayed transient
    ecs = aws.client("ecs")
    assert ecs.describe_services(cluster="prod", services=["api"])["services"][0]["desiredCount"] == 4
    commands = aws.client("ssm").list_commands()["Commands"]
    assert [c["DocumentName"] for c in commands] == ["skyloop-clear-cache"]

    again = remediate.handler(batch, context)  # the whole batch redelivered
    assert again == out
    assert ecs.describe_services(cluster="prod", services=["api"])["services"][0]["desiredCount"] == 4
    assert len(aws.client("ssm").list_commands()["Commands"]) == 1
    import common

    audit = common.adapters().audit
    ok, why = audit.verify()
    assert ok, why
    executed = [e for e in audit.entries() if e["kind"] == "executed"]
    assert sorted(e["action"] for e in executed) == ["clear_cache", "scale_out"]


def test_executor_crash_after_acting_reapplies_the_same_absolute_state(aws: Aws, context: Any) -> None:
    import common
    from skyloop.events import RemediationRequested, Severity
    from skyloop.handlers import on_remediation

    a = common.adapters()
    req = RemediationRequested(request_id="crash-1", action="scale_out", target="api", severity=Severity.MEDIUM)
    from skyloop.remediation import applied

    real_finish = applied.finish
    applied.finish = lambda *args: (_ for _ in ()).throw(KeyboardInterrupt())  # killed after ECS changed
    try:
        with pytest.raises(KeyboardInterrupt):
            on_remediation(req, a, dry_run=False)
    finally:
        applied.finish = real_finish
    a.idempotency.release("remediate:crash-1:auto:live")  # the dead worker's claim expires
    on_remediation(req, a, dry_run=False)
    desired = aws.client("ecs").describe_services(cluster="prod", services=["api"])["services"][0]["desiredCount"]
    assert desired == 4  # 2 -> 4 once, not 2 -> 4 -> 6


def test_no_secret_in_lambda_logs(aws: Aws, context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a batch with Powertools' own JSON formatter capturing every skyloop log line,
    and grep the lines for the credentials."""
    import io
    import logging
    import secrets

    import common
    import remediate

    secret = f"s3cr3t-{secrets.token_hex(12)}"
    token = f"t0ken-{secrets.token_hex(12)}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(common.logger.registered_formatter)
    root = logging.getLogger("skyloop")
    root.addHandler(handler)
    try:
        remediate.handler(load_event("sqs-remediation-batch.json"), context)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert '"message":"remediation"' in text.replace(" ", "")  # Powertools' JSON lines were captured
    assert secret not in text and token not in text


def test_dataset_above_the_size_rule_trains_as_a_sagemaker_job(aws: Aws, context: Any, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    """Upload -> a training job (request shape checked on moto) -> the job's container run
    here for real (``skyloop.training.entry`` with SageMaker's env) -> completion event ->
    one PENDING package, however often the completion is delivered."""
    import io
    import os
    import subprocess
    import sys
    import tarfile

    import train

    monkeypatch.setenv("SKYLOOP_TRAINING__MAX_INLINE_CELLS", "100")  # the churn CSV is 'too large' now,
    monkeypatch.setenv("SKYLOOP_TRAINING__MAX_INLINE_FOREST_CELLS", "100")  # for either family
    upload(aws)
    out = train.handler(load_event("s3-object-created.json"), context)
    [submitted] = out["results"]
    assert submitted["status"] == "submitted" and submitted["backend"] == "sagemaker"
    job = aws.client("sagemaker").describe_training_job(TrainingJobName=submitted["job_id"])
    hps = {k: json.loads(v) for k, v in job["HyperParameters"].items()}
    assert hps["sagemaker_program"] == "skyloop_entry.py" and hps["target"] == "churned"
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].endswith("datasets/churn 2026.csv")
    again = train.handler(load_event("s3-object-created.json"), context)
    assert again["results"][0]["duplicate"]  # a redelivered upload starts no second job
    assert len(aws.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == 1

    # what Skyloop's image does as SageMaker runs it (``train``): every channel of the job's
    # InputDataConfig copied from S3 under /opt/ml/input/data/<channel>/, the hyperparameters as
    # SageMaker writes them, and the model folder SageMaker packs afterwards
    ml = tmp_path / "ml"
    (ml / "input" / "config").mkdir(parents=True)
    (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(job["HyperParameters"]))
    assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["train", "code"]
    for channel in job["InputDataConfig"]:
        key = channel["DataSource"]["S3DataSource"]["S3Uri"].split("/", 3)[3]
        (ml / "input" / "data" / channel["ChannelName"]).mkdir(parents=True)
        body = aws.client("s3").get_object(Bucket=TRAINING_BUCKET, Key=key)["Body"].read()
        (ml / "input" / "data" / channel["ChannelName"] / key.rsplit("/", 1)[1]).write_bytes(body)
    serve_py = ROOT / "infra" / "aws" / "serving" / "serve.py"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    ran = subprocess.run([sys.executable, "-I", str(serve_py), "train"], env={**env, "SKYLOOP_ML_ROOT": str(ml)},
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    model = ml / "model"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for f in sorted(model.iterdir()):
            tar.add(f, arcname=f.name)
    output = f"{job['OutputDataConfig']['S3OutputPath']}{job['TrainingJobName']}/output/model.tar.gz"
    aws.client("s3").put_object(Bucket=TRAINING_BUCKET, Key=output.split("/", 3)[3], Body=archive.getvalue())

    done = load_event("eventbridge-sagemaker-training-job-completed.json")
    done["detail"].update(TrainingJobName=job["TrainingJobName"], HyperParameters=job["HyperParameters"],
                          ModelArtifacts={"S3ModelArtifacts": output})
    first = train.handler(done, context)
    assert first["status"] == "ok" and first["results"][0]["version"] == 1, first
    assert train.handler(done, context)["results"][0]["duplicate"]
    [pkg] = packages(aws)
    assert pkg["ModelApprovalStatus"] == "PendingManualApproval"
    assert float(pkg["CustomerMetadataProperties"]["metric:cv_accuracy_mean"]) > 0.5


def test_failed_training_job_is_dead_lettered(aws: Aws, context: Any) -> None:
    import train

    done = load_event("eventbridge-sagemaker-training-job-completed.json")
    done["detail"].update(TrainingJobStatus="Failed", FailureReason="AlgorithmError: out of memory")
    done["detail"].pop("ModelArtifacts")
    out = train.handler(done, context)
    assert out["status"] == "dead_lettered" and out["error"] == "training_failed" and "out of memory" in out["reason"]


def _as_lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """What Lambda's SQS event source mapping hands the function for received messages."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {k: str(v) for k, v in m.get("Attributes", {}).items()},
        "messageAttributes": {k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                              for k, v in m.get("MessageAttributes", {}).items()},
        "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1",
    } for m in messages]}


def test_transient_failure_is_redriven_to_the_dlq_after_max_receives(aws: Aws, context: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The event source mapping loop, played against moto's real queue and redrive policy. A
    failure that stays transient (here a target whose API keeps throttling: the executor's
    answer is simulated, the queue and redrive are moto's) is retried, then redriven."""
    import remediate

    from skyloop.errors import TransientError

    real = remediate.on_remediation

    def throttled(event: Any, adapters: Any, **kw: Any) -> dict[str, Any]:
        if event.request_id == "stuck-1":
            raise TransientError("ecs: ThrottlingException")
        return real(event, adapters, **kw)

    monkeypatch.setattr(remediate, "on_remediation", throttled)
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    good = json.dumps({"type": "RemediationRequested", "request_id": "good-1", "action": "clear_cache", "target": "api"})
    stuck = json.dumps({"type": "RemediationRequested", "request_id": "stuck-1", "action": "clear_cache", "target": "api"})
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody=stuck)
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody=good)
    outcomes = []
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                  MessageSystemAttributeNames=["ApproximateReceiveCount"], MessageAttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            break
        failed = {f["itemIdentifier"] for f in remediate.handler(_as_lambda_event(messages, arn), context)["batchItemFailures"]}
        for m in messages:  # Lambda deletes what succeeded and leaves the failures to reappear
            if m["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
        outcomes.append(len(failed))
    assert outcomes == [1, 1, 1]  # three receives of the stuck message, then the redrive moved it
    [parked] = aws.messages(aws.dlq_url)
    assert json.loads(parked["Body"])["request_id"] == "stuck-1"
    assert len(aws.client("ssm").list_commands()["Commands"]) == 1  # the good neighbour ran once


def test_direct_invocation_with_domain_events(aws: Aws, context: Any) -> None:
    import detect

    from skyloop.clouds.aws import cloudwatch as cw

    docs = cw.stream_lines((ROOT / "events/aws/data/metric-stream-records.jsonl").read_text())
    [batch] = cw.batches_from_stream(docs)
    out = detect.handler(json.loads(batch.model_dump_json()), context)
    assert out["status"] == "ok" and out["results"][0]["anomalies"]
    bad = detect.handler({"type": "MetricBatch", "records": []}, context)
    assert bad["status"] == "dead_lettered" and bad["error"] == "invalid_event"


@pytest.mark.parametrize("function, sample", [
    ("remediate", "s3-object-created.json"), ("remediate", "eventbridge-cloudwatch-alarm.json"),
    ("detect", "sqs-s3-object-created.json"), ("train", "eventbridge-cloudwatch-alarm.json"),
    ("deploy", "s3-object-created.json"), ("detect", "eventbridge-cloudwatch-alarm-no-dimensions.json"),
])
def test_a_shape_a_function_does_not_take_is_refused_with_its_reason_not_a_crash(
        aws: Aws, context: Any, function: str, sample: str) -> None:
    """Issue 15: remediate crashed on anything but an SQS batch, detect on SQS-wrapped events."""
    import importlib

    out = importlib.import_module(function).handler(load_event(sample), context)
    assert out["status"] == "dead_lettered" and out["error"] == "invalid_event", out
    [parked] = [b for b in (json.loads(m["Body"]) for m in aws.messages(aws.dead_letter_url)) if b["reason"] == out["reason"]]
    assert parked["function"] == function and parked["event"] == load_event(sample)  # nothing lost, reason attached


def test_uploads_through_sqs_and_sns_fan_out_train(aws: Aws, context: Any) -> None:
    import train

    upload(aws)
    for sample in ("sqs-s3-object-created.json", "sns-s3-object-created.json", "sqs-sns-s3-object-created.json"):
        out = train.handler(load_event(sample), context)
        assert out["status"] == "ok" and out["results"][0]["version"] == 1, out
    assert len(packages(aws)) == 1  # one upload, three envelopes: one model
    assert train.handler(load_event("s3-object-removed.json"), context)["status"] == "ignored"


def test_a_model_the_serving_image_cannot_load_is_refused_before_any_endpoint_change(
        aws: Aws, context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: in-function training ships a newer scikit-learn than the default serving image
    (sagemaker-scikit-learn:1.2-1), and a joblib model does not load across them."""
    import common
    import deploy
    import train
    from skyloop.ports.registry import Status, approve

    monkeypatch.delenv("SKYLOOP_AWS_INFERENCE_SKLEARN")  # the template's default image, read from its tag
    common.reset()
    upload(aws)
    train.handler(load_event("s3-object-created.json"), context)
    a = common.adapters()
    approve(a.registry, a.events, GROUP, 1, actor="oncall")
    out = deploy.handler(_approved_event(1), context)
    assert out["status"] == "dead_lettered" and out["error"] == "deployment_failed", out
    assert "serves 1.2 and cannot load it" in out["reason"]
    assert aws.client("sagemaker").list_endpoints()["Endpoints"] == []
    # refused at staging and rolled back, but an image that cannot load the model is the platform's
    # fault (issue 31): the version stays APPROVED, to deploy again once InferenceImage is fixed
    assert a.registry.get(GROUP, 1).status == Status.APPROVED


def test_another_teams_approved_package_is_ignored_not_deployed_nor_dead_lettered(aws: Aws, context: Any) -> None:
    import deploy

    sm = aws.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="fraud")
    arn = sm.create_model_package(ModelPackageGroupName="fraud", ModelApprovalStatus="Approved", InferenceSpecification={
        "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud:1"}],
        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
    ev = _approved_event(1)
    ev["detail"].update(ModelPackageGroupName="fraud", ModelPackageArn=arn)
    out = deploy.handler(ev, context)
    assert out["status"] == "ok" and out["results"][0]["status"] == "ignored", out
    assert "not registered by Skyloop" in out["results"][0]["reason"]
    assert aws.messages(aws.dead_letter_url) == [] and sm.list_endpoints()["Endpoints"] == []


def test_idempotency_store_on_powertools_persistence_layer(aws: Aws) -> None:
    """The port's contract on Powertools' DynamoDB layer: claim, live claim refused, result
    returned after completion, release frees, an expired claim (dead worker) is reclaimed."""
    import time

    import common
    from skyloop.errors import InProgress

    store = common.adapters().idempotency
    assert store.begin("k1") is None
    with pytest.raises(InProgress):
        store.begin("k1")
    store.complete("k1", {"version": 3, "at": Path("/x")})
    assert store.begin("k1") == {"version": 3, "at": "/x"}
    assert store.begin("k2") is None
    store.release("k2")
    assert store.begin("k2") is None  # released: a redelivery may run
    assert store.begin("k3", expires_after=0.05) is None
    time.sleep(0.1)
    assert store.begin("k3") is None  # the first worker's claim ran out
    [item] = [i for i in aws.client("dynamodb").scan(TableName="skyloop-idempotency")["Items"]
              if i["status"]["S"] == "COMPLETED"]
    assert item["id"]["S"].startswith("skyloop#") and "expiration" in item and "data" in item


def test_dynamo_audit_entries_keep_the_log_time_over_a_payload_at(aws: Aws) -> None:
    """The same listing rule as the local log: a payload's own "at" once overwrote the entry's."""
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.clouds.aws.dynamodb import DynamoAuditLog

    log = DynamoAuditLog(AwsSettings())  # from the SKYLOOP_AWS_* the fixture set, on moto's server
    log.append("approved", {"request_id": "r1", "at": 123.0})
    (e,) = [x for x in log.entries() if x.get("request_id") == "r1"]
    assert isinstance(e["at"], str) and e["at"].startswith("20") and e["payload_at"] == 123.0
    assert log.verify()[0]


def test_the_roles_versus_calls_check_sees_the_calls_and_would_catch_a_missing_grant(
        aws: Aws, context: Any, tmp_path: Path) -> None:
    """The aws fixture checks every test's calls against the template's roles (tests/integration/aws/iam.py);
    here: it records the train function's calls, and a role without one of them, or with it on
    another resource, is reported."""
    import train

    from . import iam

    upload(aws)
    train.handler(load_event("s3-object-created.json"), context)
    assert ("train", "sagemaker:CreateModelPackage") in iam.calls and ("train", "s3:GetObject") in iam.calls
    text = (ROOT / "infra" / "aws" / "template.yaml").read_text()
    narrowed = tmp_path / "template.yaml"
    narrowed.write_text(text.replace("sagemaker:CreateModelPackage,", "", 1))
    assert "train -> sagemaker:CreateModelPackage" in iam.unallowed(narrowed)
    # the resource too: the same action granted on another prefix of the bucket does not cover the dataset
    assert text.count("Resource: !Sub ${TrainingBucket.Arn}/*\n") == 1
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(text.replace("Resource: !Sub ${TrainingBucket.Arn}/*\n", "Resource: !Sub ${TrainingBucket.Arn}/other/*\n"))
    assert f"train -> s3:GetObject on arn:aws:s3:::{TRAINING_BUCKET}/datasets/churn 2026.csv" in iam.unallowed(elsewhere)
    assert iam.unallowed(ROOT / "infra" / "aws" / "template.yaml") == []


def test_a_busy_endpoint_requeues_the_request_with_a_delay_instead_of_waiting(aws: Aws, context: Any,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A SageMaker endpoint update takes minutes; the function has 60 s. Waiting up to 900 s put the
    request on the DLQ about 18 minutes later with the endpoint half-changed. Now the request goes
    back on the queue, delayed, counted, and the batch reports no failure."""
    import remediate

    from skyloop.errors import EndpointBusy

    def busy(event: Any, adapters: Any) -> dict[str, Any]:
        raise EndpointBusy("endpoint skyloop-churn is still applying a change")

    monkeypatch.setattr(remediate, "on_remediation", busy)
    batch = load_event("sqs-remediation-batch.json")
    batch["Records"] = [r for r in batch["Records"] if r["body"].lstrip().startswith("{")][:1]
    assert remediate.handler(batch, context) == {"batchItemFailures": []}
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    # the eighth requeue is the last: then the failure is SQS's to retry and, in the end, to park
    batch["Records"][0]["messageAttributes"] = {"skyloop-requeues": {"stringValue": str(remediate.MAX_REQUEUES),
                                                                     "dataType": "String"}}
    out = remediate.handler(batch, context)
    assert out == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
