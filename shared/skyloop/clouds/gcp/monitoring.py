"""The ``MetricSource`` port on Cloud Monitoring: a Cloud Run service's recent window, read
with ``list_time_series`` when an incident fires, in the names and units the CloudWatch path
uses (cpu_usage and memory_usage in percent, latency_ms, requests per second, error_rate), so
detection and RCA judge both clouds the same way.

Each metric is one ``list_time_series`` call, aligned per minute and reduced across revisions
and instances (a service's window is the service, not one container): utilizations are
distributions (their mean), request latencies too (their 99th percentile), request counts are
deltas (a rate per second). 5xx responses become a rate over the same minute's requests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from ...errors import CloudUnavailable, TransientError
from ...events import MetricRecord
from ..metrics import records
from .config import GcpSettings


@dataclass(frozen=True)
class Series:
    name: str  # the Skyloop metric name
    metric_type: str
    aligner: str  # monitoring_v3.Aggregation.Aligner member
    scale: float = 1.0
    extra_filter: str = ""


RUN = "run.googleapis.com/"
CLOUD_RUN = (
    Series("cpu_usage", RUN + "container/cpu/utilizations", "ALIGN_MEAN", 100.0),
    Series("memory_usage", RUN + "container/memory/utilizations", "ALIGN_MEAN", 100.0),
    Series("latency_ms", RUN + "request_latencies", "ALIGN_PERCENTILE_99"),
    Series("requests", RUN + "request_count", "ALIGN_RATE"),
    Series("errors_5xx", RUN + "request_count", "ALIGN_RATE", extra_filter='metric.labels.response_code_class = "5xx"'),
)


@lru_cache(maxsize=None)
def metric_client() -> Any:
    from google.cloud import monitoring_v3  # lazy: the core never imports google

    return monitoring_v3.MetricServiceClient()


class CloudMonitoringMetrics:
    def __init__(self, gcp: GcpSettings, client: Any = None, *, period: int = 60,
                 series: tuple[Series, ...] = CLOUD_RUN) -> None:
        self.project, self.period, self.series = gcp.project, period, series
        self.client = client or metric_client()

    def _request(self, s: Series, service: str, start: datetime, end: datetime) -> Any:
        from google.cloud import monitoring_v3
        from google.protobuf import duration_pb2, timestamp_pb2

        flt = (f'metric.type = "{s.metric_type}" AND resource.type = "cloud_run_revision" '
               f'AND resource.labels.service_name = "{_quoted(service)}"')
        if s.extra_filter:
            flt += f" AND {s.extra_filter}"
        interval = monitoring_v3.TimeInterval(start_time=timestamp_pb2.Timestamp(seconds=int(start.timestamp())),
                                              end_time=timestamp_pb2.Timestamp(seconds=int(end.timestamp())))
        aggregation = monitoring_v3.Aggregation(
            alignment_period=duration_pb2.Duration(seconds=self.period),
            per_series_aligner=getattr(monitoring_v3.Aggregation.Aligner, s.aligner),
            cross_series_reducer=monitoring_v3.Aggregation.Reducer.REDUCE_SUM if s.aligner == "ALIGN_RATE"
            else monitoring_v3.Aggregation.Reducer.REDUCE_MEAN,
            group_by_fields=["resource.labels.service_name"])
        return monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{self.project}", filter=flt, interval=interval, aggregation=aggregation,
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL)

    def fetch(self, service: str, limit: int | None = None, *, scope: str = "service",
              end: datetime | None = None, where: Any = None) -> list[MetricRecord]:
        """The last ``limit`` minutes of ``service``. ``scope="endpoint"`` (a Vertex endpoint's
        window) is not built yet: a typed refusal that says so."""
        if scope != "service":
            raise CloudUnavailable("a Vertex AI endpoint's per-deployment window is not read on Google Cloud (built on AWS "
                                   "only): alert on the service that calls it")
        from google.api_core import exceptions as gexc

        limit = limit or 180
        end = end or datetime.now(timezone.utc)
        start = end - timedelta(seconds=self.period * limit)
        by_ts: dict[datetime, dict[str, float]] = defaultdict(dict)
        for s in self.series:
            try:
                pages = self.client.list_time_series(request=self._request(s, service, start, end))
                for ts in pages:
                    for point in ts.points:
                        when = point.interval.end_time
                        when = when if isinstance(when, datetime) else when.ToDatetime(tzinfo=timezone.utc)
                        by_ts[when][s.name] = _value(point.value) * s.scale
            except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.TooManyRequests, gexc.InternalServerError) as e:
                raise TransientError(f"Cloud Monitoring {type(e).__name__} reading {s.metric_type}") from None
        return records(by_ts, limit)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _value(v: Any) -> float:
    """A point's value: double, int64 or a distribution's mean (an aligner that keeps it)."""
    kind = v._pb.WhichOneof("value") if hasattr(v, "_pb") else None
    if kind == "distribution_value":
        return float(v.distribution_value.mean)
    if kind == "int64_value":
        return float(v.int64_value)
    return float(v.double_value)
