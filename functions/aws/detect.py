"""Lambda: CloudWatch alarms, metric-stream records (Firehose transform or S3 object), or a MetricBatch."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, guarded, logger, metrics, tracer
from skyloop.clouds.aws import cloudwatch as cw
from skyloop.errors import SkyloopError
from skyloop.events import MetricBatch, parse_event
from skyloop.handlers import on_metrics


def _aws() -> Any:
    from skyloop.clouds.aws.config import AwsSettings

    return AwsSettings()


def _source() -> cw.CloudWatchMetricSource:
    return cw.CloudWatchMetricSource(_aws())


def _detect(batches: list[MetricBatch]) -> list[dict[str, Any]]:
    results = [on_metrics(b, adapters()) for b in batches]
    count("Anomalies", sum(len(r.get("anomalies", [])) for r in results))
    return results


def _firehose(event: dict[str, Any]) -> dict[str, Any]:
    """Firehose transform: observe the records, pass each through unchanged; a record
    that is not metric-stream JSON is 'ProcessingFailed' (Firehose's error prefix is its dead-letter path)."""
    out, docs = [], []
    for record_id, text in cw.firehose_records(event):
        try:
            docs += cw.stream_lines(text)
            result = "Ok"
        except SkyloopError as exc:
            logger.error("metric stream record rejected", extra={"record_id": record_id, "reason": exc.reason})
            result = "ProcessingFailed"
        out.append({"recordId": record_id, "result": result,
                    "data": base64.b64encode(text.encode()).decode()})
    if docs:
        _detect(cw.batches_from_stream(docs))
    return {"records": out}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "records" in event and "deliveryStreamArn" in event:
        return _firehose(event)

    def work() -> dict[str, Any]:
        if "alarmData" in event or event.get("detail-type") == "CloudWatch Alarm State Change":
            alarm = cw.alarm_of(event)
            if alarm is None:
                return {"status": "ignored", "reason": "alarm not entering ALARM"}
            if alarm["namespace"] == "AWS/SageMaker":  # an endpoint: every variant, so a canary is judged too
                records = cw.EndpointMetricSource(_aws()).fetch(alarm["service"])
            else:
                records = _source().fetch(alarm["service"])
            if not records:
                return {"status": "ignored", "reason": f"no datapoints for {alarm['service']}"}
            batch = MetricBatch(service=alarm["service"], source=f"aws:alarm:{alarm['alarm']}", records=records)
            return {"status": "ok", "results": _detect([batch])}
        if "Records" in event or event.get("source") == "aws.s3":  # metric stream delivered to S3
            store = adapters().store
            docs = [d for e in _s3_objects(event) for d in cw.stream_lines(store.get(e).decode("utf-8"))]
            return {"status": "ok", "results": _detect(cw.batches_from_stream(docs))}
        batch = parse_event(event)
        if not isinstance(batch, MetricBatch):
            raise SkyloopError(f"the detect function takes metrics, got {type(batch).__name__}")
        return {"status": "ok", "results": _detect([batch])}

    return guarded("detect", event, work)


def _s3_objects(event: dict[str, Any]) -> list[str]:
    from skyloop.clouds.aws.s3 import object_key

    if "Records" in event:
        return [f"s3://{r['s3']['bucket']['name']}/{object_key(r['s3']['object']['key'])}" for r in event["Records"]]
    return [f"s3://{event['detail']['bucket']['name']}/{event['detail']['object']['key']}"]
