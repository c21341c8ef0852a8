from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from skyloop.errors import InvalidMetrics
from skyloop.events import MetricBatch, MetricRecord, RemediationRequested
from skyloop.handlers import on_metrics

T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)


def stream(n, start=0, seed=0, cpu=None):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(start, start + n):
        v = {"cpu_usage": 40 + rng.normal(0, 3), "latency_ms": 120 + rng.normal(0, 8), "error_rate": 0.5 + abs(rng.normal(0, 0.1))}
        if cpu is not None and cpu[0] <= i < cpu[1]:
            v["cpu_usage"] = 95.0
            v["latency_ms"] += 100
        out.append(MetricRecord(timestamp=T0 + timedelta(minutes=i), values=v))
    return out


def batch(records, service="api"):
    return MetricBatch(service=service, records=records)


def test_cpu_incident_yields_anomaly_and_one_request(runtime):
    a = runtime.adapters
    assert on_metrics(batch(stream(120)), a)["anomalies"] == []
    res = on_metrics(batch(stream(30, start=120, seed=1, cpu=(135, 145))), a)
    (an,) = res["anomalies"]
    assert an["deviating_metrics"][0] in ("cpu_usage", "latency_ms")
    assert an["causes"][0]["metric"] == "cpu_usage" and an["causes"][0]["action"] == "scale_out"
    assert an["severity"] in ("high", "critical") and an["start"].startswith("2026-11-24T02:15")
    msgs = a.remediation.receive(10)
    assert len(msgs) == 1
    req = RemediationRequested.model_validate_json(msgs[0].body)
    assert req.action == "scale_out" and req.target == "api" and req.anomaly_id == an["anomaly_id"]


def test_redelivered_batch_has_one_effect(runtime):
    a = runtime.adapters
    on_metrics(batch(stream(120)), a)
    spike = stream(30, start=120, seed=1, cpu=(135, 145))
    first = on_metrics(batch(spike), a)
    second = on_metrics(batch(spike), a)  # new event id, same content
    assert second["duplicate"] and second["anomalies"] == first["anomalies"]
    assert a.remediation.depth() == 1


@pytest.mark.parametrize("detector", ["adaptive", "likelihood"])
def test_incident_spanning_batches_keeps_one_id_and_one_request(detector, monkeypatch, make_runtime):
    """The likelihood detector learns a lasting departure within records; its hold keeps the
    incident flagged in the next batch all the same."""
    monkeypatch.setenv("SKYLOOP_DETECTION__DETECTOR", detector)
    a = make_runtime().adapters
    on_metrics(batch(stream(120)), a)
    r1 = on_metrics(batch(stream(20, start=120, seed=1, cpu=(130, 150))), a)
    r2 = on_metrics(batch(stream(20, start=140, seed=2, cpu=(130, 150))), a)
    assert r1["anomalies"][0]["anomaly_id"] == r2["anomalies"][0]["anomaly_id"]
    assert r2["anomalies"][0]["rows"] > r1["anomalies"][0]["rows"]
    assert len(r1["requests"]) == 1 and r2["requests"] == []
    assert a.remediation.depth() == 1


def test_services_have_separate_detectors(runtime):
    a = runtime.adapters
    on_metrics(batch(stream(120), service="api"), a)
    res = on_metrics(batch(stream(20, start=120, seed=1), service="web"), a)
    assert res["scored_rows"] == 0  # "web" has its own detector, still warming up
    assert a.kv.get("detector:api") != a.kv.get("detector:web")


def test_metrics_that_appear_later_join_the_detector(runtime):
    """A service's metric set was frozen by its first batch: one stray batch of {"cpu_usage": 1}
    blinded it to every other metric for good."""
    a = runtime.adapters
    on_metrics(batch([MetricRecord(timestamp=T0 - timedelta(minutes=1), values={"cpu_usage": 1.0})]), a)
    on_metrics(batch(stream(120)), a)  # the other two metrics join and warm up
    from skyloop.detection import load_detector

    assert load_detector(a.kv.get("detector:api")).columns_ == ["cpu_usage", "error_rate", "latency_ms"]
    # a latency spike alone, on a metric that was not in the first batch, is found
    spike = [MetricRecord(timestamp=r.timestamp, values={**r.values, "latency_ms": 900.0}) if 135 <= i + 120 < 145 else r
             for i, r in enumerate(stream(30, start=120, seed=1))]
    res = on_metrics(batch(spike), a)
    assert res["anomalies"] and res["anomalies"][0]["deviating_metrics"][0] == "latency_ms"
    # a metric that appears alone is taken too, and warms up instead of failing the batch
    other = [MetricRecord(timestamp=T0 + timedelta(minutes=200 + i), values={"queue_depth": 3.0}) for i in range(5)]
    assert on_metrics(batch(other), a)["anomalies"] == []
    assert "queue_depth" in load_detector(a.kv.get("detector:api")).columns_


def test_a_detector_that_cannot_grow_says_which_metrics_it_ignores(monkeypatch, make_runtime):
    monkeypatch.setenv("SKYLOOP_DETECTION__DETECTOR", "iforest")
    a = make_runtime().adapters
    on_metrics(batch(stream(120)), a)
    extra = [MetricRecord(timestamp=r.timestamp, values={**r.values, "queue_depth": 3.0}) for r in stream(10, start=120)]
    res = on_metrics(batch(extra), a)
    assert set(res["ignored_metrics"]) == {"queue_depth"} and "fit-detector" in res["ignored_metrics"]["queue_depth"]
    only = [MetricRecord(timestamp=T0 + timedelta(minutes=300), values={"queue_depth": 3.0})]
    with pytest.raises(InvalidMetrics, match="no usable values for the known metrics"):
        on_metrics(batch(only), a)


def test_missing_values_are_tolerated(runtime):
    a = runtime.adapters
    recs = stream(120)
    gappy = [MetricRecord(timestamp=r.timestamp, values={**r.values, "cpu_usage": float("nan")}) if i % 7 == 0 else r
             for i, r in enumerate(recs)]
    res = on_metrics(batch(gappy), a)
    assert res["anomalies"] == []


def test_huge_values_leave_the_state_finite_and_a_later_incident_is_found(runtime):
    """±1e308 in every row once turned the saved state into NaN, and a real CPU saturation
    later raised nothing."""
    from skyloop.detection import load_detector
    from skyloop.detection.base import state_is_sound

    a = runtime.adapters
    huge = [MetricRecord(timestamp=T0 + timedelta(minutes=i),
                         values={"cpu_usage": (-1) ** i * 1e308, "latency_ms": 1e308, "error_rate": -1e308})
            for i in range(60)]
    with pytest.raises(InvalidMetrics, match="no usable values.*180 beyond"):
        on_metrics(batch(huge), a)
    on_metrics(batch(stream(100, start=60)), a)
    mixed = [MetricRecord(timestamp=T0 + timedelta(minutes=160 + i), values={**r.values, "latency_ms": 1e308})
             for i, r in enumerate(stream(200, start=160))]
    assert on_metrics(batch(mixed), a)["out_of_range_values"] == 200
    saved = a.kv.get("detector:api")
    assert saved and state_is_sound(saved, load_detector(saved).tags.nan_ok)
    # the detector used directly clips: its state stays finite too
    from skyloop.detection import make_detector

    det = make_detector("default")
    for i in range(50):
        det.score_one(T0 + timedelta(minutes=i), {"cpu": (-1) ** i * 1e308})
    assert state_is_sound(det.to_bytes(), det.tags.nan_ok)
    res = on_metrics(batch(stream(30, start=360, seed=1, cpu=(370, 385))), a)
    assert res["anomalies"] and res["anomalies"][0]["causes"][0]["metric"] == "cpu_usage"


def test_a_saved_state_that_fails_validation_is_reset_with_a_warning(runtime, caplog):
    import io
    import logging

    a = runtime.adapters
    on_metrics(batch(stream(120)), a)
    with np.load(io.BytesIO(a.kv.get("detector:api"))) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["dev"] = np.full_like(arrays["dev"], np.nan)  # what an overflow once left behind
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    a.kv.put("detector:api", buf.getvalue())
    with caplog.at_level(logging.WARNING, logger="skyloop"):
        on_metrics(batch(stream(30, start=120, seed=3)), a)
    assert "failed validation" in caplog.text
    from skyloop.detection import load_detector

    assert np.isfinite(load_detector(a.kv.get("detector:api")).dev).all()


def test_likelihood_detector_through_the_use_case(monkeypatch, make_runtime):
    """The opt-in detector (SKYLOOP_DETECTION__DETECTOR=likelihood) finds, attributes and
    remediates the same CPU incident through detect, and its state saves sound."""
    from skyloop.detection import load_detector
    from skyloop.detection.base import state_is_sound

    monkeypatch.setenv("SKYLOOP_DETECTION__DETECTOR", "likelihood")
    a = make_runtime().adapters
    assert on_metrics(batch(stream(120)), a)["anomalies"] == []
    (an,) = on_metrics(batch(stream(30, start=120, seed=1, cpu=(135, 145))), a)["anomalies"]
    assert an["causes"][0]["metric"] == "cpu_usage" and an["causes"][0]["action"] == "scale_out"
    assert an["start"].startswith("2026-11-24T02:15")
    saved = a.kv.get("detector:api")
    assert saved and load_detector(saved).name == "likelihood" and state_is_sound(saved, load_detector(saved).tags.nan_ok)


def test_concurrent_batches_never_erase_each_others_learning(runtime, monkeypatch):
    """Batch B reads the detector state, batch A commits before B does: B's compare-and-set loses
    (StaleState, transient) instead of overwriting A's learning, and B's redelivery lands on top."""
    from skyloop.detection import load_detector
    from skyloop.errors import StaleState

    a = runtime.adapters
    on_metrics(batch(stream(120)), a)
    real = a.kv.get_versioned
    raced: list[int] = []

    def racing(key):
        got = real(key)
        if key == "detector:api" and not raced:
            raced.append(1)
            on_metrics(batch(stream(10, start=120, seed=3)), a)  # A runs to its commit meanwhile
        return got

    monkeypatch.setattr(a.kv, "get_versioned", racing)
    b = batch(stream(10, start=130, seed=4))
    with pytest.raises(StaleState):
        on_metrics(b, a)
    assert load_detector(a.kv.get("detector:api")).n_ == 130  # A's 10 rows kept, B's not half-written
    assert on_metrics(b, a)["duplicate"] is False  # the redelivery is scored again, on top of A
    assert load_detector(a.kv.get("detector:api")).n_ == 140


def test_the_pre_incident_baseline_leaves_out_rows_of_an_earlier_incident(runtime):
    """A restart that fixed memory was judged unresolved against a "normal" of 97 taken during a
    leak: rows the detector called an incident are not the normal."""
    from skyloop.detection.series import append_series
    from skyloop.detection.usecase import _history_before

    kv = runtime.adapters.kv
    t = np.arange(100, dtype=float) * 60
    x = np.full((100, 1), 40.0)
    x[60:] = 97.0  # the leak, flagged MEDIUM and above
    score = np.where(np.arange(100) >= 60, 0.7, 0.1)
    append_series(kv, "api", ["memory"], t, x, score)
    now_t = 6000 + np.arange(10, dtype=float) * 60
    hist = _history_before(kv, "api", ["memory"], np.full((10, 1), 97.0), now_t, np.full(10, 0.7), 5)
    assert len(hist) == 60 and float(np.median(hist)) == 40.0


def test_the_repeat_of_an_incident_nobody_remediated_is_reported(runtime):
    """An incident that ended on its own was learned, so the same incident the next hours went
    unreported; once its metrics are back at the pre-incident normal, it is forgotten."""
    a = runtime.adapters
    on_metrics(batch(stream(240)), a)
    first = on_metrics(batch(stream(60, start=240, seed=1, cpu=(250, 262))), a)
    assert first["anomalies"]
    for m in a.remediation.receive(10):  # nobody acts on it
        a.remediation.ack(m)
    on_metrics(batch(stream(180, start=300, seed=2)), a)
    again = on_metrics(batch(stream(60, start=480, seed=3, cpu=(490, 502))), a)
    assert again["anomalies"] and again["anomalies"][0]["anomaly_id"] != first["anomalies"][0]["anomaly_id"]
    assert again["anomalies"][0]["severity"] in ("high", "critical")


def test_a_target_detect_may_not_read_costs_rca_its_context_not_the_incident(runtime):
    import dataclasses

    from skyloop.errors import AccessDenied

    class Denied:
        def __getattr__(self, name):
            return getattr(runtime.adapters.executor, name)

        def describe(self, target):
            raise AccessDenied("this function's service account may not read cloud-run api")

    a = dataclasses.replace(runtime.adapters, executor=Denied())
    on_metrics(batch(stream(120)), a)
    res = on_metrics(batch(stream(30, start=120, seed=1, cpu=(135, 145))), a)
    assert res["anomalies"] and res["requests"]


def test_a_lasting_departure_is_an_incident_though_the_detector_holds_it_at_low(runtime):
    """The likelihood detector reports a lasting departure once, at its first record, and holds it
    at LOW after that (nothing new to act on). An incident needs two MEDIUM rows or one CRITICAL, so
    a CPU 8 sigmas up for half an hour that scored HIGH at its first record (0.848) was dropped,
    while a smaller one (+20, 0.702), which the shift channel escalated a band, was opened. The rows the departure stays
    out count: a HIGH record followed by LOW ones is sustained. A one-record spike is still not."""
    a = runtime.adapters
    assert on_metrics(batch(stream(300)), a)["anomalies"] == []
    up = [MetricRecord(timestamp=r.timestamp, values={**r.values, "cpu_usage": r.values["cpu_usage"] + 25.0})
          for r in stream(30, start=300, seed=1)]
    (an,) = on_metrics(batch(up), a)["anomalies"]
    assert an["deviating_metrics"][0] == "cpu_usage" and an["severity"] == "high"
    assert an["start"].startswith("2026-11-24T05:00")


def test_a_one_record_spike_below_critical_is_not_an_incident(runtime):
    a = runtime.adapters
    on_metrics(batch(stream(300)), a)
    spike = stream(30, start=300, seed=1)
    spike[5] = MetricRecord(timestamp=spike[5].timestamp, values={**spike[5].values, "cpu_usage": 65.0})
    res = on_metrics(batch(spike), a)
    assert res["anomalies"] == [] and a.remediation.depth() == 0
