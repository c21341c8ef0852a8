"""The Azure Monitor MetricSource at the transport edge: Azure Monitor has no emulator, so
azure-monitor-query's ``MetricsQueryClient`` is replaced by a fake taking the same
``query_resource`` arguments and answering with the SDK's own result models. Checked: what each
metric asks for (resource, metric, aggregation, grain, timespan, filter) and how the answers
become Skyloop's records (names, units, the 5xx rate); a service with no configured resource is
refused, never guessed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

query = pytest.importorskip("azure.monitor.query")

END = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
APP = "/subscriptions/5f3c2a1e/resourceGroups/skyloop/providers/Microsoft.App/containerApps/api"


class FakeMetricsQuery:
    def __init__(self, values: dict[tuple[str, str | None], list[tuple[datetime, float]]]) -> None:
        self.values, self.calls = values, []

    def query_resource(self, resource_uri: str, metric_names: list[str], **kw: Any) -> Any:
        self.calls.append((resource_uri, list(metric_names), kw))
        [name] = metric_names
        agg = kw["aggregations"][0].lower()
        points = [query.MetricValue(timestamp=t, **{agg: v}) for t, v in self.values.get((name, kw.get("filter")), [])]
        series = query.TimeSeriesElement(metadata_values={}, data=points)
        metric = query.Metric(id=f"{resource_uri}/providers/Microsoft.Insights/metrics/{name}", type="Microsoft.Insights/metrics",
                              name=name, unit="Count", timeseries=[series], display_description="")
        return query.MetricsQueryResult(timespan=kw["timespan"], granularity=kw["granularity"], metrics=[metric])


def _settings() -> Any:
    from skyloop.clouds.azure.config import AzureSettings

    return AzureSettings(targets={"api": {"resource_id": APP, "kind": "containerapp"}})


def test_a_container_apps_window_in_skyloops_names_and_units() -> None:
    from skyloop.clouds.azure.monitor import AzureMonitorMetrics

    t = [END - timedelta(minutes=3 - i) for i in range(3)]
    fake = FakeMetricsQuery({
        ("UsageNanoCores", None): [(w, v) for w, v in zip(t, (2e8, 2.5e8, 9.5e8))],
        ("WorkingSetBytes", None): [(w, 256 * 2**20) for w in t],
        ("Requests", None): [(w, 600.0) for w in t],
        ("Requests", "statusCodeCategory eq '5xx'"): [(t[2], 150.0)],
    })
    rows = AzureMonitorMetrics(_settings(), client=fake).fetch("api", limit=3, end=END)
    assert [r.timestamp for r in rows] == t
    assert rows[2].values["cpu_cores"] == pytest.approx(0.95) and rows[0].values["memory_mb"] == pytest.approx(256)
    assert [r.values["error_rate"] for r in rows] == pytest.approx([0.0, 0.0, 0.25])
    resource, names, kw = fake.calls[0]
    assert (resource, names, kw["aggregations"], kw["granularity"]) == (APP, ["UsageNanoCores"], ["Average"], timedelta(minutes=1))
    assert kw["timespan"] == (END - timedelta(minutes=3), END) and kw["filter"] is None
    assert fake.calls[3][2]["filter"] == "statusCodeCategory eq '5xx'"


def test_refusals() -> None:
    from azure.core.exceptions import HttpResponseError

    from skyloop.clouds.azure.monitor import AzureMonitorMetrics
    from skyloop.errors import CloudUnavailable, NotFound, TransientError

    with pytest.raises(NotFound, match="no Azure resource is configured for service 'batch'"):
        AzureMonitorMetrics(_settings(), client=FakeMetricsQuery({})).fetch("batch", end=END)
    with pytest.raises(CloudUnavailable, match="Azure ML endpoint"):
        AzureMonitorMetrics(_settings(), client=FakeMetricsQuery({})).fetch("api", scope="endpoint")

    class Throttled:
        def query_resource(self, *a: Any, **k: Any) -> Any:
            e = HttpResponseError(message="Too many requests")
            e.status_code = 429
            raise e

    with pytest.raises(TransientError, match="429"):
        AzureMonitorMetrics(_settings(), client=Throttled()).fetch("api", end=END)
