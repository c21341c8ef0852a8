"""Lambda: CloudWatch alarms, metric-stream records (Firehose transform or S3 object), or a MetricBatch."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, handle, logger, metrics, tracer
from skyloop.clouds.aws.cloudwatch import firehose_transform
from skyloop.events import MetricAlarm, MetricBatch
from skyloop.handlers import on_metrics


def _detect(batches: list[MetricBatch]) -> None:
    results = [on_metrics(b, adapters()) for b in batches]
    count("Anomalies", sum(len(r.get("anomalies", [])) for r in results))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "records" in event and "deliveryStreamArn" in event:  # answered per record, in Firehose's format
        return firehose_transform(event, _detect)
    out = handle("detect", event, MetricBatch, MetricAlarm)
    count("Anomalies", sum(len(r.get("anomalies", [])) for r in out.get("results", [])))
    return out
