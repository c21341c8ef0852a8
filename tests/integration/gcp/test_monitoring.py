"""The Cloud Monitoring MetricSource at the transport edge: Cloud Monitoring has no emulator, so
the generated ``MetricServiceClient`` is replaced by a fake that takes the SDK's own
``ListTimeSeriesRequest`` and answers with the SDK's own ``TimeSeries`` (the shapes the real API
returns). Checked: the request each metric sends (filter, alignment, reducer, interval) and how
the answers become Skyloop's records (names, units, the 5xx rate)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

monitoring_v3 = pytest.importorskip("google.cloud.monitoring_v3")

END = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


class FakeMetricService:
    """list_time_series over canned points per metric type (and 5xx filter)."""

    def __init__(self, points: dict[str, list[tuple[datetime, Any]]]) -> None:
        self.points, self.requests = points, []

    def list_time_series(self, request: Any) -> list[Any]:
        assert isinstance(request, monitoring_v3.ListTimeSeriesRequest)
        self.requests.append(request)
        key = next(k for k in self.points if f'metric.type = "{k.split("|")[0]}"' in request.filter
                   and (("5xx" in request.filter) == k.endswith("|5xx")))
        ts = monitoring_v3.TimeSeries()
        for when, value in self.points[key]:
            p = monitoring_v3.Point()
            p.interval.end_time = when
            if isinstance(value, float):
                p.value.double_value = value
            else:  # a distribution's mean, as ALIGN_MEAN of a distribution metric keeps it
                p.value.distribution_value.mean = value[0]
                p.value.distribution_value.count = 10
            ts.points.append(p)
        return [ts]


def _minutes(n: int) -> list[datetime]:
    return [END - timedelta(minutes=n - i) for i in range(n)]


def test_a_cloud_run_services_window_in_skyloops_names_and_units() -> None:
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.monitoring import RUN, CloudMonitoringMetrics

    t = _minutes(3)
    fake = FakeMetricService({
        RUN + "container/cpu/utilizations": [(w, (u,)) for w, u in zip(t, (0.2, 0.25, 0.9))],
        RUN + "container/memory/utilizations": [(w, (0.5,)) for w in t],
        RUN + "request_latencies": [(w, (120.0 + i,)) for i, w in enumerate(t)],
        RUN + "request_count": [(w, 10.0) for w in t],
        RUN + "request_count|5xx": [(t[2], 2.5)],
    })
    source = CloudMonitoringMetrics(GcpSettings(project="skyloop-dev"), client=fake)
    rows = source.fetch('api "blue"', limit=3, end=END)
    assert [r.timestamp for r in rows] == t
    assert rows[2].values["cpu_usage"] == pytest.approx(90.0) and rows[0].values["memory_usage"] == pytest.approx(50.0)
    assert rows[1].values["latency_ms"] == pytest.approx(121.0)
    assert [r.values["error_rate"] for r in rows] == pytest.approx([0.0, 0.0, 0.25])
    assert all("errors_5xx" not in r.values for r in rows)

    assert len(fake.requests) == 5
    cpu = fake.requests[0]
    assert cpu.name == "projects/skyloop-dev"
    assert cpu.filter == ('metric.type = "run.googleapis.com/container/cpu/utilizations" AND resource.type = '
                          '"cloud_run_revision" AND resource.labels.service_name = "api \\"blue\\""')
    assert cpu.aggregation.per_series_aligner == monitoring_v3.Aggregation.Aligner.ALIGN_MEAN
    assert cpu.aggregation.cross_series_reducer == monitoring_v3.Aggregation.Reducer.REDUCE_MEAN
    assert cpu.aggregation.alignment_period.total_seconds() == 60
    assert cpu.interval.end_time == END and cpu.interval.start_time == END - timedelta(minutes=3)
    rate = fake.requests[3]
    assert rate.aggregation.per_series_aligner == monitoring_v3.Aggregation.Aligner.ALIGN_RATE
    assert rate.aggregation.cross_series_reducer == monitoring_v3.Aggregation.Reducer.REDUCE_SUM
    assert fake.requests[4].filter.endswith('metric.labels.response_code_class = "5xx"')


def test_an_unavailable_api_is_transient_and_an_endpoint_window_says_it_is_not_built() -> None:
    from google.api_core import exceptions as gexc

    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.monitoring import CloudMonitoringMetrics
    from skyloop.errors import CloudUnavailable, TransientError

    class Down:
        def list_time_series(self, request: Any) -> Any:
            raise gexc.ServiceUnavailable("try later")

    with pytest.raises(TransientError, match="ServiceUnavailable"):
        CloudMonitoringMetrics(GcpSettings(), client=Down()).fetch("api", end=END)
    with pytest.raises(CloudUnavailable, match="Vertex AI endpoint"):
        CloudMonitoringMetrics(GcpSettings(), client=Down()).fetch("churn", scope="endpoint")
