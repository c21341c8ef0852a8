"""Lambda: CloudWatch alarms, metric-stream records (Firehose transform or S3 object), or a MetricBatch."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, guarded, logger, metrics, tracer
from skyloop.clouds.aws import cloudwatch as cw
from skyloop.errors import SkyloopError
from skyloop.clouds.aws.events import metric_input
from skyloop.events import MetricBatch
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
    def work() -> dict[str, Any]:
        m = metric_input(event)  # the one decoder for every shape this function takes
        if m.firehose:  # answered per record, in Firehose's format
            return _firehose(event)
        if m.ignored:
            return {"status": "ignored", "reason": m.ignored}
        if m.alarm is not None:
            return _alarm(m.alarm)
        if m.objects:
            docs = [d for uri in m.objects for d in cw.stream_lines(adapters().store.get(uri).decode("utf-8"))]
            return {"status": "ok", "results": _detect(cw.batches_from_stream(docs))}
        assert m.batch is not None
        return {"status": "ok", "results": _detect([m.batch])}

    return guarded("detect", event, work)


def _alarm(alarm: dict[str, Any]) -> dict[str, Any]:
    if alarm["namespace"] == "AWS/SageMaker":  # an endpoint: every variant, so a canary is judged too
        records = cw.EndpointMetricSource(_aws()).fetch(alarm["service"])
    else:
        records = _source().fetch(alarm["service"])
    if not records:
        return {"status": "ignored", "reason": f"no datapoints for {alarm['service']}"}
    batch = MetricBatch(service=alarm["service"], source=f"aws:alarm:{alarm['alarm']}", records=records)
    return {"status": "ok", "results": _detect([batch])}
