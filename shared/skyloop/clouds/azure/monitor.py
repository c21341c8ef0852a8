"""The ``MetricSource`` port on Azure Monitor: a service's recent window, read with
azure-monitor-query's ``MetricsQueryClient.query_resource`` when an alert fires, in the names
the other clouds' paths use (cpu, memory, requests, error_rate, latency_ms), so detection and RCA
judge every cloud the same way.

A service is found by name in ``SKYLOOP_AZURE_TARGETS`` (its resource ID and kind): an alert names
the service, never a resource Skyloop would have to guess from. One query per metric, one-minute
grain. 5xx responses become a rate over the same minute's requests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from ...errors import CloudUnavailable, NotFound, TransientError
from ...events import MetricRecord
from ..metrics import records
from .config import AzureSettings


@dataclass(frozen=True)
class Query:
    name: str  # the Skyloop metric name
    metric: str  # Azure Monitor's
    aggregation: str  # MetricAggregationType: Average, Total ...
    scale: float = 1.0
    filter: str | None = None


QUERIES: dict[str, tuple[Query, ...]] = {
    # Microsoft.App/containerApps
    "containerapp": (
        Query("cpu_cores", "UsageNanoCores", "Average", 1e-9),
        Query("memory_mb", "WorkingSetBytes", "Average", 1 / 2**20),
        Query("requests", "Requests", "Total"),
        Query("errors_5xx", "Requests", "Total", filter="statusCodeCategory eq '5xx'"),
    ),
    # Microsoft.Web/sites (App Service, Functions on a dedicated plan)
    "webapp": (
        Query("cpu_seconds", "CpuTime", "Total"),
        Query("memory_mb", "MemoryWorkingSet", "Average", 1 / 2**20),
        Query("requests", "Requests", "Total"),
        Query("errors_5xx", "Http5xx", "Total"),
        Query("latency_ms", "HttpResponseTime", "Average", 1000.0),
    ),
}


@lru_cache(maxsize=None)
def metrics_client() -> Any:
    from azure.identity import DefaultAzureCredential  # lazy: the core never imports azure
    from azure.monitor.query import MetricsQueryClient

    return MetricsQueryClient(DefaultAzureCredential())


class AzureMonitorMetrics:
    def __init__(self, azure: AzureSettings, client: Any = None, *, grain: timedelta = timedelta(minutes=1)) -> None:
        self.targets, self.grain = azure.targets, grain
        self.client = client or metrics_client()

    def fetch(self, service: str, limit: int | None = None, *, scope: str = "service",
              end: datetime | None = None, where: Any = None) -> list[MetricRecord]:
        if scope != "service":
            raise CloudUnavailable("an Azure ML endpoint's per-deployment window is not read on Azure (built on AWS only): "
                                   "alert on the service that calls it")
        from azure.core.exceptions import HttpResponseError, ServiceRequestError

        target = self.targets.get(service)
        if target is None:
            raise NotFound(f"no Azure resource is configured for service {service!r} (SKYLOOP_AZURE_TARGETS)")
        limit = limit or 180
        end = end or datetime.now(timezone.utc)
        by_ts: dict[datetime, dict[str, float]] = defaultdict(dict)
        for q in QUERIES[target.kind]:
            try:
                result = self.client.query_resource(
                    target.resource_id, [q.metric], timespan=(end - self.grain * limit, end), granularity=self.grain,
                    aggregations=[q.aggregation], filter=q.filter)
            except ServiceRequestError as e:
                raise TransientError(f"Azure Monitor unreachable reading {q.metric}: {type(e).__name__}") from None
            except HttpResponseError as e:
                if e.status_code in (429, 500, 502, 503, 504):
                    raise TransientError(f"Azure Monitor {e.status_code} reading {q.metric}") from None
                raise
            for metric in result.metrics:
                for series in metric.timeseries:
                    for point in series.data:
                        value = getattr(point, q.aggregation.lower())
                        if value is not None:
                            ts = point.timestamp if point.timestamp.tzinfo else point.timestamp.replace(tzinfo=timezone.utc)
                            by_ts[ts][q.name] = by_ts[ts].get(q.name, 0.0) + float(value) * q.scale
        return records(by_ts, limit)
