"""A canary on a SageMaker endpoint judged by Skyloop's detector and rolled back through
remediation, each step through the Lambda entry points against moto's server.

The per-variant metrics arrive as CloudWatch metric-stream records through the Firehose
transform (the SAM template streams AWS/SageMaker's Invocations, Invocation5XXErrors and
ModelLatency). moto cannot produce them because its endpoints serve nothing, so the test
writes the records in the metric stream's documented JSON shape.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any, Iterable

import numpy as np
import pytest

from .conftest import GROUP, Aws, load_event
from .test_lambda_handlers import CHURN, UpdateEndpointFallback, _approved_event, _queue_predictions, packages, upload

ENDPOINT = f"skyloop-{GROUP}"


def stream_lines(minutes: Iterable[int], variant: str, *, calls: int, error_p: float, latency_us: float,
                 rng: np.random.Generator) -> list[str]:
    """A variant's minutes as CloudWatch metric-stream JSON lines (one per metric and minute)."""
    out = []
    for m in minutes:
        n = max(1, int(rng.poisson(calls)))
        errors = int(rng.binomial(n, error_p))
        lat = rng.normal(latency_us, latency_us * 0.05, n).clip(latency_us * 0.5)
        for name, value, unit in (
            ("Invocations", {"max": 1.0, "min": 1.0, "sum": float(n), "count": float(n)}, "None"),
            ("Invocation5XXErrors", {"max": float(errors > 0), "min": 0.0, "sum": float(errors), "count": float(n)}, "None"),
            ("ModelLatency", {"max": float(lat.max()), "min": float(lat.min()), "sum": float(lat.sum()),
                              "count": float(n)}, "Microseconds"),
        ):
            out.append(json.dumps({
                "metric_stream_name": "skyloop-metrics", "account_id": "123456789012", "region": "us-east-1",
                "namespace": "AWS/SageMaker", "metric_name": name,
                "dimensions": {"EndpointName": ENDPOINT, "VariantName": variant},
                "timestamp": m * 60_000, "value": value, "unit": unit}))
    return out


def firehose(lines: list[str]) -> dict[str, Any]:
    event = load_event("firehose-metric-stream-transform.json")
    text = "\n".join(lines) + "\n"
    event["records"] = [{"recordId": hashlib.sha256(text.encode()).hexdigest(), "approximateArrivalTimestamp": 0,
                         "data": base64.b64encode(text.encode()).decode()}]
    return event


def sqs_event(aws: Aws, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What the SQS event source mapping hands the remediate function for these messages
    (received once: each receive counts towards the queue's redrive to its DLQ)."""
    arn = f"arn:aws:sqs:us-east-1:123456789012:{aws.queue_url.rsplit('/', 1)[1]}"
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "AIDAEXAMPLE",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn,
        "awsRegion": "us-east-1"} for m in messages]}


def _weights(aws: Aws) -> dict[str, float]:
    ep = aws.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in ep["ProductionVariants"]}


@pytest.fixture
def baking(aws: Aws, context: Any, tmp_path, monkeypatch):
    """v1 in production with an hour of normal per-variant metrics learned; v2 baking as a 10% canary."""
    monkeypatch.setenv("SKYLOOP_DEPLOYMENT__CANARY_BAKE_MINUTES", "30")
    monkeypatch.setenv("SKYLOOP_DEPLOYMENT__CANARY_MIN_MINUTES", "5")
    import common
    import deploy
    import detect
    import train
    from skyloop.ports.registry import approve

    a = common.adapters()
    fallback = UpdateEndpointFallback(aws)
    fallback.attach(a.deployer.sm)
    upload(aws)
    train.handler(load_event("s3-object-created.json"), context)
    approve(a.registry, a.events, GROUP, 1, actor="oncall")
    _queue_predictions(aws, GROUP, 1, [8], tmp_path, monkeypatch)
    assert deploy.handler(_approved_event(1), context)["results"][0]["status"] == "promoted"

    rng = np.random.default_rng(3)
    now = int(time.time() // 60)
    for start in range(now - 60, now, 15):  # an hour of production, delivered 15 minutes at a time
        out = detect.handler(firehose(stream_lines(range(start, start + 15), "production", calls=40, error_p=0.002,
                                                   latency_us=12_000, rng=rng)), context)
        assert [r["result"] for r in out["records"]] == ["Ok"]
    assert not aws.messages(aws.queue_url), "normal production traffic raised a remediation request"

    upload(aws, data=CHURN.replace(b"\n1,", b"\n2,", 5))
    train.handler(load_event("s3-object-created.json"), context)
    approve(a.registry, a.events, GROUP, 2, actor="oncall")
    _queue_predictions(aws, GROUP, 2, [8, 20], tmp_path, monkeypatch)
    rollout = deploy.handler(_approved_event(2), context)["results"][0]
    assert rollout["status"] == "canary", rollout  # probes passed: now it bakes on live traffic
    assert _weights(aws) == {"production": 0.9, "canary": 0.1}
    yield a, rng, now
    # the boto3 client outlives the test (cached per process): leave no hook behind for the next one
    a.deployer.sm.meta.events.unregister("before-call.sagemaker.UpdateEndpoint", fallback)


def test_a_canary_failing_live_traffic_is_aborted_through_remediation(aws: Aws, context: Any, baking) -> None:
    import detect
    import remediate
    from skyloop.serving.deployment import canary_state
    from skyloop.ports.registry import Status

    a, rng, now = baking
    minutes = range(now, now + 15)
    lines = (stream_lines(minutes, "production", calls=36, error_p=0.002, latency_us=12_000, rng=rng)
             + stream_lines(minutes, "canary", calls=4, error_p=0.5, latency_us=30_000, rng=rng))
    event = firehose(lines)
    detect.handler(event, context)
    detect.handler(event, context)  # Firehose retries the record: no second request
    queued = aws.messages(aws.queue_url)
    [request] = [json.loads(m["Body"]) for m in queued]
    assert (request["action"], request["target"], request["request_id"]) == (
        "abort_canary", ENDPOINT, f"{GROUP}:canary-v2:abort_canary")
    assert request["params"] == {"version": 2} and "worse than production" in request["reason"]

    batch = sqs_event(aws, queued)
    assert remediate.handler(batch, context) == {"batchItemFailures": []}
    assert _weights(aws) == {"production": 1.0}  # the canary variant is gone, all traffic on v1
    assert a.registry.alias(GROUP, "production").version == 1
    assert a.registry.get(GROUP, 2).status == Status.REJECTED
    assert [p["ModelApprovalStatus"] for p in packages(aws)] == ["Approved", "Rejected"]
    assert canary_state(a.kv, GROUP) is None
    executed = [e for e in a.audit.entries() if e["kind"] == "executed"]
    assert [(e["action"], e["target"]) for e in executed] == [("abort_canary", ENDPOINT)]

    assert remediate.handler(batch, context) == {"batchItemFailures": []}  # SQS redelivers the batch
    assert len([e for e in a.audit.entries() if e["kind"] == "executed"]) == 1


def test_a_healthy_canary_bakes_clean_and_is_promoted(aws: Aws, context: Any, baking, monkeypatch) -> None:
    import deploy
    import detect
    from skyloop.serving.deployment import canary_state

    a, rng, now = baking
    until = canary_state(a.kv, GROUP)["until"]
    sent: list[dict[str, Any]] = []
    real_publish = a.events.publish
    monkeypatch.setattr(a.events, "publish", lambda event: (sent.append(json.loads(event.model_dump_json())),
                                                            real_publish(event))[1])
    end = int(until // 60) + 2  # telemetry through the end of the bake
    for start in range(now, end, 15):
        minutes = range(start, min(start + 15, end))
        detect.handler(firehose(stream_lines(minutes, "production", calls=36, error_p=0.002, latency_us=12_000, rng=rng)
                                + stream_lines(minutes, "canary", calls=4, error_p=0.002, latency_us=12_500, rng=rng)),
                       context)
    assert not aws.messages(aws.queue_url)
    [passed] = [e for e in sent if e["type"] == "CanaryPassed"]
    assert passed["version"] == 2 and passed["observed_minutes"] >= 30
    # EventBridge delivers it to the deploy function, wrapped as the rule target sees it
    out = deploy.handler({"version": "0", "id": "cp-1", "detail-type": "CanaryPassed", "source": "skyloop",
                          "account": "123456789012", "time": "2026-11-25T12:00:00Z", "region": "us-east-1",
                          "resources": [], "detail": passed}, context)
    assert out["status"] == "ok", out
    assert a.registry.alias(GROUP, "production").version == 2
    assert _weights(aws) == {"production": 1.0}


def test_an_alarm_on_the_endpoint_reads_every_variant_and_judges_the_canary(aws: Aws, context: Any, baking) -> None:
    """The alarm path: the detect function reads the endpoint's window per variant with
    GetMetricData (moto stores what PutMetricData wrote) and judges the canary in it."""
    import detect

    a, rng, now = baking
    cw = aws.client("cloudwatch")
    from datetime import datetime, timezone

    for variant, calls, error_p, latency in (("production", 36, 0.002, 12_000), ("canary", 4, 0.5, 30_000)):
        data = []
        for m in range(now - 14, now + 1):
            n = max(1, int(rng.poisson(calls)))
            at = datetime.fromtimestamp(m * 60, timezone.utc)
            dims = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}]
            data += [{"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Value": float(n)},
                     {"MetricName": "Invocation5XXErrors", "Dimensions": dims, "Timestamp": at,
                      "Value": float(rng.binomial(n, error_p))},
                     # the minute's mean over its n calls, as the metric stream's sum/count gives it
                     {"MetricName": "ModelLatency", "Dimensions": dims, "Timestamp": at, "Unit": "Microseconds",
                      "Value": float(rng.normal(latency, latency * 0.05, n).mean())}]
        for i in range(0, len(data), 20):
            cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[i:i + 20])
    alarm = load_event("cloudwatch-alarm-action.json")
    alarm["alarmData"]["alarmName"] = f"{ENDPOINT}-canary-5xx"
    alarm["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"] = {
        "namespace": "AWS/SageMaker", "name": "Invocation5XXErrors",
        "dimensions": {"EndpointName": ENDPOINT, "VariantName": "canary"}}
    out = detect.handler(alarm, context)
    assert out["status"] == "ok", out
    [result] = out["results"]
    assert result["canary"]["status"] == "aborting", result
    [request] = [json.loads(m["Body"]) for m in aws.messages(aws.queue_url)]
    assert (request["action"], request["target"]) == ("abort_canary", ENDPOINT)
    assert a.executor.describe(ENDPOINT)["kind"] == "sagemaker-endpoint"
    from skyloop.errors import NotFound, UnknownAction

    from skyloop.remediation.plans import plan

    with pytest.raises(UnknownAction):  # Skyloop does not scale a SageMaker variant: that is its auto scaling
        plan("scale_out", ENDPOINT, a.executor.describe(ENDPOINT), {}, a.settings.guardrails)
    with pytest.raises(NotFound):
        a.executor.describe("skyloop-no-such-endpoint")
