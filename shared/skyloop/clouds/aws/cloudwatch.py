"""CloudWatch as a metric source: alarms, metric streams, and GetMetricData windows.

- An alarm (Lambda alarm action, or EventBridge "CloudWatch Alarm State Change")
  names a service through a dimension; the detect function then reads that
  service's recent window with ``GetMetricData`` so the detector sees every
  metric around the breach, not just the one the alarm watched.
- Metric stream records (JSON output format, one object a line, via Firehose to
  S3 or a Firehose transform) become ``MetricBatch``es, one per service.

CloudWatch names map to Skyloop's (CPUUtilization -> cpu_usage ...) so the
detector, RCA and recommendations speak one vocabulary on every cloud.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from ...errors import InvalidEvent, InvalidMetrics
from ...events import MetricBatch, MetricRecord
from .config import AwsSettings
from .events import typed
from .session import client

# CloudWatch metric name -> Skyloop metric name (the rest keep their own names).
NAMES = {
    "CPUUtilization": "cpu_usage", "MemoryUtilization": "memory_usage", "DiskIOPS": "disk_io",
    "NetworkIn": "network_in", "NetworkOut": "network_out", "ErrorRate": "error_rate",
    "Invocation5XXErrors": "error_rate", "ModelLatency": "latency_ms", "TargetResponseTime": "latency_ms",
}
SERVICE_DIMENSIONS = ("ServiceName", "EndpointName", "FunctionName", "AutoScalingGroupName", "service")


def skyloop_name(metric: str) -> str:
    return NAMES.get(metric, metric)


def service_of(dimensions: dict[str, str] | Iterable[dict[str, str]], default: str = "api") -> str:
    dims = dimensions if isinstance(dimensions, dict) else {d.get("name", d.get("Name")): d.get("value", d.get("Value"))
                                                            for d in dimensions}
    return next((str(dims[k]) for k in SERVICE_DIMENSIONS if dims.get(k)), default)


# ---- alarms -----------------------------------------------------------------------
@typed
def alarm_of(raw: dict[str, Any]) -> dict[str, Any] | None:
    """{'alarm', 'state', 'service', 'namespace', 'metric', 'at'} of an alarm event; None if
    it is not entering ALARM (OK / INSUFFICIENT_DATA transitions are not incidents)."""
    if "alarmData" in raw:  # Lambda alarm action
        data = raw["alarmData"]
    elif raw.get("detail-type") == "CloudWatch Alarm State Change":
        data = raw.get("detail") or {}
    else:
        raise InvalidEvent("not a CloudWatch alarm event")
    state = (data.get("state") or {}).get("value")
    if state != "ALARM":
        return None
    metrics = (data.get("configuration") or {}).get("metrics") or []
    stat = next((m["metricStat"] for m in metrics if "metricStat" in m), None)
    if stat is None:
        raise InvalidEvent(f"alarm {str(data.get('alarmName'))[:60]!r} has no metricStat to locate its service")
    metric = stat["metric"]
    return {"alarm": data.get("alarmName"), "state": state, "namespace": metric.get("namespace"),
            "metric": metric.get("name"), "service": service_of(metric.get("dimensions") or {}),
            "dimensions": metric.get("dimensions") or {}, "at": data["state"].get("timestamp")}


class CloudWatchMetricSource:
    """The last ``limit`` periods of a service's metrics through GetMetricData."""

    def __init__(self, aws: AwsSettings, *, namespace: str = "AWS/ECS", dimension: str = "ServiceName",
                 metrics: Iterable[str] = ("CPUUtilization", "MemoryUtilization"), period: int = 60,
                 extra_dimensions: dict[str, str] | None = None) -> None:
        self.cw = client("cloudwatch", aws)
        self.namespace, self.dimension, self.metrics, self.period = namespace, dimension, list(metrics), period
        self.extra = dict(extra_dimensions or {})

    def fetch(self, service: str, limit: int | None = None, *, end: datetime | None = None) -> list[MetricRecord]:
        limit = limit or 180
        end = end or datetime.now(timezone.utc)
        dims = [{"Name": self.dimension, "Value": service}] + [{"Name": k, "Value": v} for k, v in self.extra.items()]
        queries = [{"Id": f"m{i}", "Label": name, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": self.namespace, "MetricName": name, "Dimensions": dims},
            "Period": self.period, "Stat": "Average"}} for i, name in enumerate(self.metrics)]
        by_ts: dict[datetime, dict[str, float]] = defaultdict(dict)
        args: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": end - timedelta(seconds=self.period * limit),
                                "EndTime": end, "ScanBy": "TimestampAscending"}
        while True:
            res = self.cw.get_metric_data(**args)
            for r in res["MetricDataResults"]:
                name = skyloop_name(r.get("Label") or self.metrics[int(r["Id"][1:])])
                for ts, v in zip(r["Timestamps"], r["Values"]):
                    by_ts[ts][name] = float(v)
            if not res.get("NextToken"):
                break
            args["NextToken"] = res["NextToken"]
        return [MetricRecord(timestamp=ts, values=v) for ts, v in sorted(by_ts.items())][-limit:]


# ---- metric streams -----------------------------------------------------------------
@typed
def stream_lines(text: str) -> list[dict[str, Any]]:
    """Metric-stream JSON output: one object a line (several may share a Firehose record)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            raise InvalidMetrics(f"metric stream line {n} is not JSON") from None
        if not isinstance(doc, dict) or "metric_name" not in doc or "value" not in doc:
            raise InvalidMetrics(f"metric stream line {n} lacks metric_name/value")
        out.append(doc)
    return out


@typed
def batches_from_stream(docs: Iterable[dict[str, Any]], source: str = "aws:metric-stream") -> list[MetricBatch]:
    """Group stream records into one batch per service, one record per timestamp."""
    grid: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for d in docs:
        v = d["value"]
        count = float(v.get("count") or 0)
        if count <= 0:
            continue
        mean = float(v["sum"]) / count
        grid[service_of(d.get("dimensions") or {})][int(d["timestamp"])][skyloop_name(d["metric_name"])] = mean
    batches = []
    for service, rows in sorted(grid.items()):
        records = [MetricRecord(timestamp=datetime.fromtimestamp(ts / 1000, tz=timezone.utc), values=vals)
                   for ts, vals in sorted(rows.items())]
        batches.append(MetricBatch(service=service, source=source, records=records))
    return batches


@typed
def firehose_records(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(recordId, decoded text) of a Firehose transformation event."""
    try:
        return [(r["recordId"], base64.b64decode(r["data"]).decode("utf-8")) for r in raw["records"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEvent(f"malformed Firehose transformation event: {type(exc).__name__}") from None
