"""A canary judged by the detector on live serving telemetry, rolled back through remediation.

The telemetry is real: every call goes through the local deployer, which counts calls,
errors, latency and the predictions' mean per slot and minute (as SageMaker does per
variant in CloudWatch); the detector learns production from it and judges the canary.
"""

from datetime import datetime, timezone

import numpy as np
import pytest

from skyloop.local.deployer import SimulatedServingTime

from skyloop.config import DeploymentSettings, DetectionSettings
from skyloop.app.demo_data import churn_csv
from skyloop.detection.canary import LOOK_MINUTES
from skyloop.serving.deployment import canary_state, start_bake
from skyloop.errors import InvalidRequest
from skyloop.events import MetricBatch, MetricRecord, TrainingDataArrived
from skyloop.handlers import on_metrics, on_training_data
from skyloop.serving.history import deployment_history
from skyloop.ports.registry import Status, approve

from ..conftest import T0, put_dataset

SERVICE = "churn-model"
BAKE = DeploymentSettings(canary_percent=25, canary_bake_minutes=30, canary_min_minutes=3)


def _with_region(data: bytes, seed: int) -> bytes:
    """The data team added a column the clients do not send yet: training/serving skew."""
    rng = np.random.default_rng(seed)
    lines = data.decode().strip().splitlines()
    out = ["region," + lines[0]] + [f"{rng.choice(['north', 'south'])},{line}" for line in lines[1:]]
    return ("\n".join(out) + "\n").encode()


def _ship(rt, name, data):
    uri = put_dataset(rt, name, data, {"target": "churned", "model_group": "churn", "params": {"n_estimators": 20}})
    res = on_training_data(TrainingDataArrived(uri=uri), rt.adapters)
    approve(rt.registry, rt.adapters.events, "churn", res["version"], actor="test")
    return rt.pump()["events"].results


def client_rows(n=400, seed=11):
    """What clients send: customers of the v1 schema (no label, no region)."""
    lines = churn_csv(n, label_noise=0.0, seed=seed).decode().strip().splitlines()
    head = lines[0].split(",")[:-1]
    return [{k: (v if k == "contract" else float(v)) for k, v in zip(head, line.split(",")[:-1])} for line in lines[1:]]


def _serve(rt, clock, rows, minutes, calls=4, rng=np.random.default_rng(5)):
    """Clients call the endpoint a few times a minute, three customers per call."""
    for m in minutes:
        clock.set(T0 + 60 * m)
        for _ in range(calls):
            try:
                rt.deployer.predict_detailed("churn", [rows[i] for i in rng.integers(0, len(rows), 3)])
            except InvalidRequest:
                pass  # the client sees a 400; the deployer counted it against the slot that served it


def _observe(rt, clock, a, b):
    clock.set(T0 + 60 * b)
    records = rt.deployer.serving_records("churn", T0 + 60 * a, T0 + 60 * b)
    return on_metrics(MetricBatch(service=SERVICE, source="serving", records=records), rt.adapters)


@pytest.fixture
def served(make_runtime, clock):
    rt = make_runtime(deployment=BAKE)
    rt.deployer.timer = SimulatedServingTime()
    rt.fleet.add_service(SERVICE, kind="model", replicas=2, model_group="churn")
    _ship(rt, "v1", churn_csv(600, label_noise=0.1, seed=1))
    rows = client_rows()
    _serve(rt, clock, rows, range(0, 60))
    for a in range(0, 60, 15):
        _observe(rt, clock, a, a + 15)
    return rt, rows


def test_serving_telemetry_is_counted_per_slot_and_minute(served):
    rt, _ = served
    recs = rt.deployer.serving_records("churn", T0, T0 + 600)
    assert len(recs) == 10 and {r.variant for r in recs} == {"production"}
    assert all(r.values["error_rate"] == 0.0 and "requests" not in r.values for r in recs)
    assert all(0.0 <= r.values["prediction_mean"] <= 1.0 and r.values["latency_ms"] > 0 for r in recs)


def test_a_canary_that_fails_live_traffic_is_aborted_by_the_detector(served, clock):
    rt, rows = served
    clock.set(T0 + 3600)
    out = _ship(rt, "v2", _with_region(churn_csv(600, label_noise=0.1, seed=2), seed=2))
    assert out[0]["status"] == "canary", out  # staging smoke rows carry region: the probes pass
    assert rt.deployer.traffic("churn") == {"production": 0.75, "canary": 0.25}

    _serve(rt, clock, rows, range(60, 75))
    res = _observe(rt, clock, 60, 75)
    assert res["canary"]["status"] == "aborting" and res["requests"] == ["churn:canary-v2:abort_canary"]
    anomaly = res["anomalies"][-1]
    assert anomaly["deviating_metrics"][0] == "error_rate"
    assert anomaly["causes"][0]["action"] == "abort_canary" and "worse than production" in anomaly["causes"][0]["recommendation"]

    done = rt.pump()["remediation"].results
    assert [(r["action"], r["status"]) for r in done] == [("abort_canary", "executed")]
    assert rt.registry.get("churn", 2).status == Status.REJECTED
    assert rt.registry.alias("churn", "production").version == 1
    assert rt.deployer.traffic("churn") == {"production": 1.0} and canary_state(rt.adapters.kv, "churn") is None
    assert [e["kind"] for e in deployment_history(rt.adapters.kv, "churn")][-2:] == ["canary_started", "canary_aborted"]
    assert any(e["kind"] == "executed" and e["action"] == "abort_canary" for e in rt.adapters.audit.entries())

    # the same telemetry delivered again, and newer telemetry: nothing more to abort
    assert _observe(rt, clock, 60, 75)["duplicate"]
    _serve(rt, clock, rows, range(75, 80))
    assert _observe(rt, clock, 75, 80).get("canary") is None


def test_a_healthy_canary_is_promoted_after_its_bake(served, clock):
    rt, rows = served
    clock.set(T0 + 3600)
    assert _ship(rt, "v2", churn_csv(800, label_noise=0.05, seed=3))[0]["status"] == "canary"
    verdicts = []
    for a in range(60, 105, 15):
        _serve(rt, clock, rows, range(a, a + 15))
        verdicts.append(_observe(rt, clock, a, a + 15)["canary"]["status"])
    assert verdicts == ["baking", "baking", "passed"], verdicts
    promoted = rt.pump()["events"].results
    assert promoted[0]["detail"] == "v2 promoted after its bake"
    assert rt.registry.alias("churn", "production").version == 2 and rt.deployer.traffic("churn") == {"production": 1.0}
    assert rt.adapters.remediation.depth() == 0


def _rec(minute, variant, err=0.0, lat=12.0, rng=np.random.default_rng(0)):
    return MetricRecord(timestamp=datetime.fromtimestamp(T0 + 60 * minute, timezone.utc), variant=variant,
                        values={"requests": 4.0, "error_rate": err, "latency_ms": lat + rng.normal(0, 0.5),
                                "prediction_mean": 0.3 + rng.normal(0, 0.03)})


def _warm(rt):
    rt.fleet.add_service(SERVICE, kind="model", replicas=2, model_group="churn")
    on_metrics(MetricBatch(service=SERVICE, records=[_rec(m, "production") for m in range(120)]), rt.adapters)


@pytest.mark.parametrize("detector", ["adaptive", "likelihood"])
def test_canary_deviating_together_with_production_is_not_blamed_on_the_new_version(make_runtime, clock, detector):
    """``likelihood`` learns the shared incident: a canary judged against the learned normal
    then passed with the same fault alone. Production's same minutes still show it."""
    rt = make_runtime(deployment=BAKE, detection=DetectionSettings(detector=detector))
    _warm(rt)
    clock.set(T0 + 120 * 60)
    start_bake("churn", 2, kv=rt.adapters.kv, clock=clock, minutes=30, previous=1, min_minutes=3)
    both = [_rec(m, v, lat=80.0) for m in range(120, 130) for v in ("production", "canary")]
    res = on_metrics(MetricBatch(service=SERVICE, records=both), rt.adapters)
    assert res["canary"]["status"] == "baking"
    assert all(r.split(":")[-1] != "abort_canary" for r in res["requests"])
    # the canary alone, the same shape: now it is the new version's
    alone = [_rec(m, "production") for m in range(130, 140)] + [_rec(m, "canary", lat=80.0) for m in range(130, 140)]
    res = on_metrics(MetricBatch(service=SERVICE, records=alone), rt.adapters)
    assert res["canary"]["status"] == "aborting" and res["anomalies"][-1]["deviating_metrics"][0] == "latency_ms"


def test_canary_records_with_no_canary_baking_are_ignored(make_runtime):
    rt = make_runtime(deployment=BAKE)
    _warm(rt)
    res = on_metrics(MetricBatch(service=SERVICE, records=[_rec(m, "canary", err=50.0) for m in range(120, 130)]),
                     rt.adapters)
    assert res["canary"]["status"] == "no_canary" and res["requests"] == [] and res["anomalies"] == []


def test_a_broken_canary_is_aborted_within_five_minutes_and_a_clean_one_closes_its_windows(make_runtime, clock):
    rt = make_runtime(deployment=BAKE)
    _warm(rt)
    clock.set(T0 + 120 * 60)
    start_bake("churn", 2, kv=rt.adapters.kv, clock=clock, minutes=30, previous=1, min_minutes=3)
    four = [_rec(m, v) for m in range(120, 124) for v in ("production", "canary")]
    assert on_metrics(MetricBatch(service=SERVICE, records=four), rt.adapters)["canary"]["status"] == "baking"
    clean = [_rec(m, v) for m in range(124, 134) for v in ("production", "canary")]
    assert on_metrics(MetricBatch(service=SERVICE, records=clean), rt.adapters)["canary"]["status"] == "baking"
    state = canary_state(rt.adapters.kv, "churn")
    assert state["compared"] == 14 and state["window"]["canary"] == {}  # closed: not judged again
    broken = [_rec(m, "production") for m in range(134, 139)] + [_rec(m, "canary", err=0.5) for m in range(134, 139)]
    res = on_metrics(MetricBatch(service=SERVICE, records=broken), rt.adapters)
    assert res["canary"]["status"] == "aborting" and res["requests"] == ["churn:canary-v2:abort_canary"]
    [cause] = res["anomalies"][-1]["causes"]
    assert cause["metric"] == "error_rate" and "5 vs 5 minutes" in cause["evidence"]


@pytest.mark.parametrize("batches, why", [
    # canary records alone, in two batches: nothing to compare them with
    ([[_rec(m, "canary") for m in range(120, 126)], [_rec(m, "canary") for m in range(126, 131)]],
     "no production records to compare with"),
    # production's minutes, but only three canary minutes in the whole bake
    ([[_rec(m, "production") for m in range(120, 131)] + [_rec(m, "canary") for m in (121, 125, 130)]],
     f"fewer than {LOOK_MINUTES} canary minutes to compare with production"),
])
def test_a_canary_with_nothing_to_compare_passes_on_its_probes_and_says_why(make_runtime, clock, batches, why):
    rt = make_runtime(deployment=BAKE)
    _warm(rt)
    clock.set(T0 + 120 * 60)
    start_bake("churn", 2, kv=rt.adapters.kv, clock=clock, minutes=10, previous=1, min_minutes=3)
    sent = []
    rt.adapters.events.publish = sent.append
    statuses = [on_metrics(MetricBatch(service=SERVICE, records=b), rt.adapters)["canary"]["status"] for b in batches]
    assert statuses == ["baking"] * (len(batches) - 1) + ["passed"]
    [passed] = sent
    assert passed.detail == f"{why}: judged by its probes only"
