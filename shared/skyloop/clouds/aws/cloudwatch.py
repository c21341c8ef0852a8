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
from typing import Any, Callable, Iterable, Mapping

from ...errors import InvalidEvent, InvalidMetrics, SkyloopError
from ...events import MetricBatch, MetricRecord
from .config import AwsSettings
from .shapes import typed
from .session import client

# CloudWatch metric name -> Skyloop metric name (the rest keep their own names).
NAMES = {
    "CPUUtilization": "cpu_usage", "MemoryUtilization": "memory_usage", "DiskIOPS": "disk_io",
    "NetworkIn": "network_in", "NetworkOut": "network_out", "ErrorRate": "error_rate",
    "ModelLatency": "latency_ms", "OverheadLatency": "overhead_latency_ms", "TargetResponseTime": "latency_ms",
    "Invocations": "invocations",
    # AWS/Lambda: Duration is in milliseconds; Errors averaged over a minute is the error rate
    "Duration": "latency_ms", "Errors": "error_rate", "Throttles": "throttle_rate",
}
# Error counts become rates over the same minute's invocations: a canary at 10% of the
# traffic makes a tenth of the errors of a healthy production with the same fault rate.
RATES = {"Invocation5XXErrors": "error_rate", "Invocation4XXErrors": "client_error_rate",
         "ModelSetupTimeErrors": "setup_error_rate"}
VOLUME = "Invocations"
# Latencies in one unit whatever CloudWatch reports (SageMaker's ModelLatency is in microseconds,
# an ALB's TargetResponseTime in seconds).
TO_MS = {"Microseconds": 0.001, "Milliseconds": 1.0, "Seconds": 1000.0}
SERVICE_DIMENSIONS = ("ServiceName", "EndpointName", "FunctionName", "AutoScalingGroupName", "service")
VARIANT_DIMENSION = "VariantName"  # SageMaker's per-variant metrics: production and canary side by side


def skyloop_name(metric: str) -> str:
    return NAMES.get(metric, metric)


def dimension_map(dimensions: dict[str, str] | Iterable[dict[str, str]]) -> dict[str, str]:
    """Dimensions as {name: value}, from a dict or from CloudWatch's [{Name, Value}] list."""
    if isinstance(dimensions, dict):
        return {str(k): str(v) for k, v in dimensions.items()}
    return {str(d.get("name", d.get("Name"))): str(d.get("value", d.get("Value"))) for d in dimensions}


def service_of(dimensions: dict[str, str] | Iterable[dict[str, str]]) -> str | None:
    """The service a metric belongs to, by its dimensions; None when none names one. Never a
    default: an alarm on an account-wide metric must not scale out a service called "api"."""
    dims = dimension_map(dimensions)
    return next((str(dims[k]) for k in SERVICE_DIMENSIONS if dims.get(k)), None)


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
    service = service_of(metric.get("dimensions") or {})
    if service is None:
        raise InvalidEvent(f"alarm {str(data.get('alarmName'))[:60]!r} watches {metric.get('name')!r} with no service "
                           f"dimension ({', '.join(SERVICE_DIMENSIONS)}): no service to detect on or remediate")
    return {"alarm": data.get("alarmName"), "state": state, "namespace": metric.get("namespace"),
            "metric": metric.get("name"), "service": service,
            "dimensions": dimension_map(metric.get("dimensions") or {}), "at": data["state"].get("timestamp")}


class CloudWatchMetricSource:
    """The last ``limit`` periods of a service's metrics through GetMetricData.

    CloudWatch matches a metric's dimension set exactly: ECS publishes a service's CPU under
    {ClusterName, ServiceName}, so a query by ServiceName alone reads nothing, and an alarm on a
    Lambda function's FunctionName was read as an ECS service. With ``where`` (the alarm's
    namespace and full dimensions) the window is read where the alarm's metric lives: every metric
    ListMetrics has under exactly those dimensions (at most ``MAX_METRICS``)."""

    MAX_METRICS = 20

    def __init__(self, aws: AwsSettings, *, namespace: str = "AWS/ECS", dimension: str = "ServiceName",
                 metrics: Iterable[str] = ("CPUUtilization", "MemoryUtilization"), period: int = 60,
                 extra_dimensions: dict[str, str] | None = None) -> None:
        self.cw = client("cloudwatch", aws)
        self.namespace, self.dimension, self.metrics, self.period = namespace, dimension, list(metrics), period
        self.extra = dict(extra_dimensions or {})

    def _names(self, namespace: str, dims: dict[str, str]) -> list[str]:
        """The metrics published under exactly these dimensions (ListMetrics also returns supersets)."""
        want = [{"Name": k, "Value": v} for k, v in sorted(dims.items())]
        names: set[str] = set()
        for page in self.cw.get_paginator("list_metrics").paginate(Namespace=namespace, Dimensions=want):
            for m in page.get("Metrics", []):
                if dimension_map(m.get("Dimensions") or []) == dims:
                    names.add(m["MetricName"])
        return sorted(names)[: self.MAX_METRICS]

    def fetch(self, service: str, limit: int | None = None, *, end: datetime | None = None,
              where: Mapping[str, Any] | None = None) -> list[MetricRecord]:
        limit = limit or 180
        end = end or datetime.now(timezone.utc)
        namespace, names = self.namespace, self.metrics
        dims = [{"Name": self.dimension, "Value": service}] + [{"Name": k, "Value": v} for k, v in self.extra.items()]
        if where and where.get("namespace"):
            located = dimension_map(where.get("dimensions") or {})
            namespace, names = str(where["namespace"]), self._names(str(where["namespace"]), located)
            dims = [{"Name": k, "Value": v} for k, v in sorted(located.items())]
        queries = [{"Id": f"m{i}", "Label": name, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
            "Period": self.period, "Stat": "Average"}} for i, name in enumerate(names)]
        if not queries:
            return []
        by_ts: dict[datetime, dict[str, float]] = defaultdict(dict)
        args: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": end - timedelta(seconds=self.period * limit),
                                "EndTime": end, "ScanBy": "TimestampAscending"}
        while True:
            res = self.cw.get_metric_data(**args)
            for r in res["MetricDataResults"]:
                name = skyloop_name(r.get("Label") or names[int(r["Id"][1:])])
                for ts, v in zip(r["Timestamps"], r["Values"]):
                    by_ts[ts][name] = float(v)
            if not res.get("NextToken"):
                break
            args["NextToken"] = res["NextToken"]
        return [MetricRecord(timestamp=ts, values=v) for ts, v in sorted(by_ts.items())][-limit:]


class EndpointMetricSource:
    """A SageMaker endpoint's recent window, per variant, for an alarm on it: GetMetricData
    queries (EndpointName + VariantName), mapped exactly as metric-stream records are, so a
    canary is judged the same way whichever path its metrics took."""

    STATS = {"Invocations": "Sum", "Invocation5XXErrors": "Sum", "Invocation4XXErrors": "Sum",
             "ModelLatency": "Average", "OverheadLatency": "Average"}
    UNITS = {"ModelLatency": "Microseconds", "OverheadLatency": "Microseconds"}

    def __init__(self, aws: AwsSettings, *, period: int = 60) -> None:
        self.cw = client("cloudwatch", aws)
        self.sm = client("sagemaker", aws)
        self.period = period

    def variants(self, endpoint: str) -> list[str]:
        ep = self.sm.describe_endpoint(EndpointName=endpoint)
        return [v["VariantName"] for v in ep.get("ProductionVariants", [])]

    def fetch(self, endpoint: str, limit: int | None = None, *, end: datetime | None = None) -> list[MetricRecord]:
        limit = limit or 180
        end = end or datetime.now(timezone.utc)
        keys = [(variant, name) for variant in self.variants(endpoint) for name in self.STATS]
        queries = [{"Id": f"q{i}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": [
                {"Name": "EndpointName", "Value": endpoint}, {"Name": VARIANT_DIMENSION, "Value": variant}]},
            "Period": self.period, "Stat": self.STATS[name]}} for i, (variant, name) in enumerate(keys)]
        docs: list[dict[str, Any]] = []
        args: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": end - timedelta(seconds=self.period * limit),
                                "EndTime": end, "ScanBy": "TimestampAscending"}
        while queries:
            res = self.cw.get_metric_data(**args)
            for r in res["MetricDataResults"]:
                variant, name = keys[int(r["Id"][1:])]
                for ts, v in zip(r["Timestamps"], r["Values"]):
                    docs.append({"metric_name": name, "unit": self.UNITS.get(name, "None"),
                                 "dimensions": {"EndpointName": endpoint, VARIANT_DIMENSION: variant},
                                 "timestamp": int(ts.timestamp() * 1000), "value": {"sum": float(v), "count": 1.0}})
            if not res.get("NextToken"):
                break
            args["NextToken"] = res["NextToken"]
        batches = batches_from_stream(docs)
        return batches[0].records if batches else []


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


def _mean(value: dict[str, Any]) -> float | None:
    count = float(value.get("count") or 0)
    return float(value["sum"]) / count if count > 0 else None


def _in_ms(name: str, x: float, unit: str | None) -> float:
    return x * TO_MS.get(unit or "", 1.0) if name.endswith("_ms") else x


@typed
def batches_from_stream(docs: Iterable[dict[str, Any]], source: str = "aws:metric-stream") -> list[MetricBatch]:
    """One batch per service, one record per timestamp and variant (SageMaker's VariantName
    dimension; None for services without variants)."""
    # keyed (service, timestamp in ms, variant)
    values: dict[tuple[str, int, str | None], dict[str, float]] = defaultdict(dict)
    sums: dict[tuple[str, int, str | None], dict[str, float]] = defaultdict(dict)
    for d in docs:
        dims = d.get("dimensions") or {}
        name, v = d["metric_name"], d["value"]
        service = service_of(dims)
        if service is None:  # an account-wide metric in the stream: no service to judge it for
            continue
        key = (service, int(d["timestamp"]), dims.get(VARIANT_DIMENSION) or None)
        if name in RATES or name == VOLUME:
            sums[key][name] = float(v.get("sum") or 0.0)
        if name in RATES:
            continue
        if name == VOLUME:  # a count: the minute's total, not the per-sample mean (always 1)
            values[key][skyloop_name(name)] = float(v.get("sum") or 0.0)
            continue
        mean = _mean(v)
        if mean is not None:
            values[key][skyloop_name(name)] = _in_ms(skyloop_name(name), mean, d.get("unit"))
    for key, counted in sums.items():
        calls = counted.get(VOLUME)
        if not calls:  # no invocations that minute (or not streamed): no rate to speak of
            continue
        for name, rate in RATES.items():
            if name in counted:
                values[key][rate] = counted[name] / calls
    grid: dict[str, list[MetricRecord]] = defaultdict(list)
    for (service, ts, variant), vals in sorted(values.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        if vals:
            grid[service].append(MetricRecord(timestamp=datetime.fromtimestamp(ts / 1000, tz=timezone.utc),
                                              values=vals, variant=variant))
    return [MetricBatch(service=service, source=source, records=records) for service, records in sorted(grid.items())]


@typed
def firehose_records(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(recordId, decoded text) of a Firehose transformation event."""
    try:
        return [(r["recordId"], base64.b64decode(r["data"]).decode("utf-8")) for r in raw["records"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEvent(f"malformed Firehose transformation event: {type(exc).__name__}") from None


def firehose_transform(raw: dict[str, Any], detect: Callable[[list[MetricBatch]], Any]) -> dict[str, Any]:
    """A Firehose transformation: detect on the records' metrics and pass each record through
    unchanged; a record that is not metric-stream JSON is 'ProcessingFailed' (Firehose keeps it
    under its error prefix, the dead-letter path of a stream)."""
    import logging

    out, docs = [], []
    for record_id, text in firehose_records(raw):
        try:
            docs += stream_lines(text)
            result = "Ok"
        except SkyloopError as exc:
            logging.getLogger("skyloop.detect").error("metric stream record rejected",
                                                      extra={"record_id": record_id, "reason": exc.reason})
            result = "ProcessingFailed"
        out.append({"recordId": record_id, "result": result, "data": base64.b64encode(text.encode()).decode()})
    if docs:
        detect(batches_from_stream(docs))
    return {"records": out}


class CloudWatchMetrics:
    """The ``MetricSource`` port on CloudWatch: a service's window (ECS metrics) or, for an
    endpoint, every variant's (so a baking canary is judged with production)."""

    def __init__(self, aws: AwsSettings) -> None:
        self.aws = aws
        self._sources: dict[str, Any] = {}

    def fetch(self, service: str, limit: int | None = None, *, scope: str = "service",
              where: Mapping[str, Any] | None = None) -> list[MetricRecord]:
        if scope not in self._sources:
            self._sources[scope] = EndpointMetricSource(self.aws) if scope == "endpoint" else CloudWatchMetricSource(self.aws)
        if scope == "endpoint":
            return list(self._sources[scope].fetch(service, limit))
        return list(self._sources[scope].fetch(service, limit, where=where))
