import hashlib

import pytest

from skyloop.errors import InvalidDataset, NotSupported
from skyloop.events import TrainingDataArrived
from skyloop.handlers import on_training_data
from skyloop.ports.registry import Status
from skyloop.training.usecase import group_from_uri, train_and_register

from ..conftest import csv_bytes, put_dataset


def test_train_registers_pending_version_with_lineage(runtime, churn_bytes):
    a = runtime.adapters
    out = train_and_register(churn_bytes, source_uri="inbox/churn.csv", settings=runtime.settings, store=a.store,
                             registry=a.registry, events=a.events, target="churned")
    v = out.model
    assert v.status == Status.PENDING and v.group == "churn" and v.version == 1
    for k in ("cv_accuracy_mean", "cv_accuracy_std", "cv_f1_mean", "cv_roc_auc_mean"):
        assert 0.0 <= v.metrics[k] <= 1.0
    assert v.metrics["cv_accuracy_mean"] > 0.6  # the churn signal is learnable
    assert v.lineage["data_sha256"] == hashlib.sha256(churn_bytes).hexdigest()
    assert v.lineage["rows"] == 300 and v.lineage["columns"] == 7
    assert v.lineage["primary_metric"] == "accuracy" and v.lineage["task"] == "classification"
    # the measured default: "auto", the forest below 5,000 rows
    assert v.params["model"] == v.lineage["model_family"] == "random_forest" and v.params["n_estimators"] == 100
    assert v.lineage["requested_params"]["model"] == "auto"
    assert hashlib.sha256(a.store.get(v.artifact_uri)).hexdigest() == v.artifact_sha256
    assert not out.auto_approved and runtime.event_queue.depth() == 0


def test_regression_records_r2_and_rmse(runtime):
    rows = [f"{i},{(i * 7) % 11},{i * 2.5 + (i % 3) * 0.1}" for i in range(60)]
    a = runtime.adapters
    out = train_and_register(csv_bytes("a,b,y", rows), source_uri="inbox/reg.csv", settings=runtime.settings,
                             store=a.store, registry=a.registry, events=a.events)
    m = out.model.metrics
    assert out.model.lineage["task"] == "regression"
    assert m["cv_r2_mean"] > 0.9 and m["cv_rmse_mean"] > 0


def test_sidecar_names_target_and_group(runtime, churn_bytes):
    uri = put_dataset(runtime, "upload", churn_bytes, {"target": "churned", "model_group": "churn-prod", "params": {"n_estimators": 20}})
    res = on_training_data(TrainingDataArrived(uri=uri), runtime.adapters)
    v = runtime.registry.get("churn-prod", res["version"])
    assert v.lineage["target"] == "churned" and v.params["n_estimators"] == 20


def test_unknown_training_parameter_is_rejected(runtime, churn_bytes):
    uri = put_dataset(runtime, "bad-params", churn_bytes, {"target": "churned", "params": {"n_jobs": 64}})
    with pytest.raises(InvalidDataset, match="unknown training parameter 'n_jobs'"):
        on_training_data(TrainingDataArrived(uri=uri), runtime.adapters)


@pytest.mark.parametrize(
    "name, data",
    [
        ("empty", b""),
        ("missing-target", csv_bytes("a,b", [f"{i},{i}" for i in range(20)])),
        ("nan", csv_bytes("a,label", [f"{i if i != 4 else 'nan'},{i % 2}" for i in range(20)])),
        ("text", csv_bytes("a,label", [f"{i if i != 4 else 'oops'},{i % 2}" for i in range(20)])),
        ("one-class", csv_bytes("a,label", [f"{i},1" for i in range(20)])),
    ],
)
def test_bad_csv_leaves_registry_and_store_unchanged(runtime, name, data):
    uri = put_dataset(runtime, name, data, {"target": "label"} if name != "missing-target" else {"target": "label"})
    before = list((runtime.settings.blob_root / "models").rglob("*")) if (runtime.settings.blob_root / "models").exists() else []
    with pytest.raises(InvalidDataset):
        on_training_data(TrainingDataArrived(uri=uri), runtime.adapters)
    assert runtime.registry.versions() == []
    after = list((runtime.settings.blob_root / "models").rglob("*")) if (runtime.settings.blob_root / "models").exists() else []
    assert after == before


def test_same_upload_twice_registers_once(runtime, churn_bytes):
    uri = put_dataset(runtime, "churn", churn_bytes, {"target": "churned"})
    first = on_training_data(TrainingDataArrived(uri=uri, version="e1"), runtime.adapters)
    second = on_training_data(TrainingDataArrived(uri=uri, version="e1"), runtime.adapters)
    assert first["duplicate"] is False and second["duplicate"] is True
    assert second["version"] == first["version"]
    assert len(runtime.registry.versions("churn")) == 1


def test_size_rule_refuses_above_inline_limit(make_runtime, churn_bytes):
    rt = make_runtime(training={"max_inline_bytes": 1000})
    uri = put_dataset(rt, "big", churn_bytes, {"target": "churned"})
    with pytest.raises(InvalidDataset, match="in-function limit"):
        on_training_data(TrainingDataArrived(uri=uri), rt.adapters)


def test_size_rule_reads_the_notifications_size_before_downloading(make_runtime, churn_bytes, monkeypatch):
    """A notification that says the object is above the limit is decided without reading it
    (a 5 GB object would exhaust the function's memory before a check after the download)."""
    rt = make_runtime(training={"max_inline_bytes": 1000})
    uri = put_dataset(rt, "big", churn_bytes, {"target": "churned"})
    reads: list[str] = []
    real_get = rt.adapters.store.get
    monkeypatch.setattr(rt.adapters.store, "get", lambda u: reads.append(u) or real_get(u))
    with pytest.raises(InvalidDataset, match=r"is 5000000000 bytes, above the in-function limit of 1000; no managed"):
        on_training_data(TrainingDataArrived(uri=uri, size=5_000_000_000, version="e1"), rt.adapters)
    assert uri not in reads and len(reads) == 1  # the sidecar only

    class Backend:  # the port's shape; the SageMaker one is tested on moto
        def __init__(self) -> None:
            self.jobs: list[tuple[str, dict]] = []

        def submit(self, dataset_uri, spec):
            self.jobs.append((dataset_uri, spec))
            return type("Job", (), {"backend": "test", "job_id": f"j{len(self.jobs)}", "status": "InProgress"})()

    backend = Backend()
    monkeypatch.setattr(rt.adapters, "training", backend)
    first = on_training_data(TrainingDataArrived(uri=uri, size=5_000_000_000, version="e1"), rt.adapters)
    again = on_training_data(TrainingDataArrived(uri=uri, size=5_000_000_000, version="e1"), rt.adapters)
    assert first["status"] == "submitted" and first["job_id"] == "j1" and again["duplicate"] is True
    assert backend.jobs == [(uri, {"target": "churned", "model_group": "big", "params": {}, "manual": False,
                                   "data_version": "e1"})]
    assert uri not in reads
    # a new version of the object is new work
    on_training_data(TrainingDataArrived(uri=uri, size=5_000_000_000, version="e2"), rt.adapters)
    assert len(backend.jobs) == 2


def test_size_rule_counts_cells_per_family(make_runtime, churn_bytes):
    """The forest has its own, smaller cell limit: on large data it is 20-60 times slower."""
    rt = make_runtime(training={"max_inline_cells": 7 * 299, "max_inline_forest_cells": 7 * 301})
    uri = put_dataset(rt, "wide", churn_bytes, {"target": "churned", "model": "hist_gradient_boosting"})
    with pytest.raises(InvalidDataset, match="300 rows x 7 columns, above the in-function limit for hist_gradient_boosting"):
        on_training_data(TrainingDataArrived(uri=uri), rt.adapters)
    uri = put_dataset(rt, "forest", churn_bytes, {"target": "churned", "model": "random_forest"})
    assert on_training_data(TrainingDataArrived(uri=uri), rt.adapters)["status"] == "PENDING"  # within its own limit
    rt2 = make_runtime(training={"max_inline_forest_cells": 7 * 299})
    uri = put_dataset(rt2, "small", churn_bytes.replace(b"\n1,", b"\n2,", 1), {"target": "churned"})  # auto: a forest
    with pytest.raises(InvalidDataset, match="above the in-function limit for random_forest"):
        on_training_data(TrainingDataArrived(uri=uri), rt2.adapters)


def test_gate_auto_approves_and_emits_event(make_runtime, churn_bytes):
    rt = make_runtime(gate={"enabled": True, "min_score": 0.5})
    uri = put_dataset(rt, "churn", churn_bytes, {"target": "churned"})
    res = on_training_data(TrainingDataArrived(uri=uri), rt.adapters)
    assert res["auto_approved"] and res["status"] == "APPROVED"
    msgs = rt.event_queue.receive(10)
    assert len(msgs) == 1 and '"ModelVersionApproved"' in msgs[0].body


def test_group_from_uri():
    assert group_from_uri("s3://bucket/data/Churn 2026_01.csv") == "churn-2026-01"
    # a Blob Storage URL is percent-encoded, as Event Grid sends it
    assert group_from_uri("https://acct.blob.core.windows.net/datasets/churn%202026.csv") == "churn-2026"
    assert group_from_uri("/tmp/x/.csv") == "default"


@pytest.mark.parametrize("params, family", [
    ({}, "auto"),
    ({"n_estimators": 50}, "random_forest"),  # a sidecar written for the forest keeps its forest
    ({"learning_rate": 0.05}, "hist_gradient_boosting"),
    ({"model": "random_forest"}, "random_forest"),
    ({"model": "hist_gradient_boosting", "learning_rate": 0.05}, "hist_gradient_boosting"),
    ({"max_depth": 6}, "auto"),  # a knob both families have: the default
])
def test_model_family_is_chosen_and_recorded(params, family) -> None:
    from skyloop.training.model import AUTO_BOOSTING_ROWS, concrete_family, resolve_params

    resolved = resolve_params(params)
    assert resolved["model"] == family
    if family == "auto":
        assert concrete_family(resolved, AUTO_BOOSTING_ROWS - 1)["model"] == "random_forest"
        assert concrete_family(resolved, AUTO_BOOSTING_ROWS)["model"] == "hist_gradient_boosting"


@pytest.mark.parametrize("params, fragment", [
    ({"model": "xgboost"}, "unknown model family 'xgboost'"),
    ({"model": "hist_gradient_boosting", "n_estimators": 5}, "unknown training parameter 'n_estimators' for hist"),
])
def test_bad_family_or_knob_is_typed(params, fragment) -> None:
    from skyloop.errors import InvalidDataset
    from skyloop.training.model import resolve_params

    with pytest.raises(InvalidDataset, match=fragment):
        resolve_params(params)


def test_both_families_train_serve_and_handle_unknown_categories(runtime, churn_bytes) -> None:
    """Native categories for boosting (ordinal codes, an unseen level -> missing), one-hot for
    the forest; either way the artifact predicts rows with a contract level it never saw."""
    from skyloop.serving.deployment import smoke_rows

    a = runtime.adapters
    for i, family in enumerate(("hist_gradient_boosting", "random_forest")):
        uri = put_dataset(runtime, f"c{i}", churn_bytes, {"target": "churned", "model_group": f"g{i}", "model": family})
        out = on_training_data(TrainingDataArrived(uri=uri), a)
        v = runtime.registry.get(f"g{i}", out["version"])
        assert v.lineage["model_family"] == family and v.metrics["cv_accuracy_mean"] > 0.6
        runtime.registry.set_status(f"g{i}", v.version, Status.APPROVED, actor="t")
        runtime.deployer.deploy(f"g{i}", "production", v)
        rows = smoke_rows(v.lineage, 3)
        rows[0] = {**rows[0], "contract": "three-year"}
        assert len(runtime.deployer.predict(f"g{i}", rows, slot="production")) == 3


def test_neutral_job_entry_trains_from_directories(tmp_path, churn_bytes):
    """The managed-job entry with Skyloop's own variables (each cloud's runner maps its conventions onto it)."""
    import json as _json
    import subprocess
    import sys

    data, model = tmp_path / "train", tmp_path / "model"
    data.mkdir()
    (data / "churn.csv").write_bytes(churn_bytes)
    env = {"SKYLOOP_TRAIN_DIR": str(data), "SKYLOOP_MODEL_DIR": str(model),
           "SKYLOOP_JOB_PARAMS": _json.dumps({"target": "churned", "source_uri": "s3://b/churn.csv"}),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "skyloop.training.entry"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    card = _json.loads((model / "skyloop.json").read_text())
    assert (model / "model.joblib").stat().st_size > 0 and card["lineage"]["data_uri"] == "s3://b/churn.csv"
    assert _json.loads(out.stdout.strip().splitlines()[-1])["rows"] == 300


def test_the_same_bytes_under_two_names_train_two_groups(runtime, churn_bytes):
    """Issue 15: beta.csv returned alpha.csv's stored result (the key lacked the group)."""
    import gzip

    for name in ("alpha", "beta"):
        uri = put_dataset(runtime, name, churn_bytes, {"target": "churned", "params": {"n_estimators": 10}})
        res = on_training_data(TrainingDataArrived(uri=uri), runtime.adapters)
        assert res["model_group"] == name and not res["duplicate"], res
    gz = runtime.adapters.store.put("datasets/gamma.csv.gz", gzip.compress(churn_bytes))
    res = on_training_data(TrainingDataArrived(uri=gz, target="churned"), runtime.adapters)
    assert res["model_group"] == "gamma" and res["version"] == 1


def test_the_size_rule_decides_before_a_local_file_is_read(runtime, tmp_path):
    """Local training read the whole file before the size rule: 1.2 GB reached 2.5 GB RSS, and
    "uri": "/dev/zero" was killed for memory at 22.9 GB."""
    import resource
    import time as _time

    from skyloop.errors import InvalidDataset, SkyloopError
    from skyloop.events import TrainingDataArrived
    from skyloop.handlers import on_training_data

    big = tmp_path / "big.csv"
    with open(big, "wb") as f:  # sparse: 1.2 GB that takes no disk
        f.truncate(1_200_000_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = _time.perf_counter()
    with pytest.raises(SkyloopError, match="above the in-function limit"):
        on_training_data(TrainingDataArrived(event_id="e1", uri=str(big)), runtime.adapters)
    assert _time.perf_counter() - t0 < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing was read
    with pytest.raises(InvalidDataset, match="not a regular file"):
        on_training_data(TrainingDataArrived(event_id="e2", uri="/dev/zero"), runtime.adapters)


def test_an_unknown_family_is_refused_before_a_managed_job_starts(make_runtime, churn_bytes):
    """An unknown family above the size rule was handed to the managed job, which failed there; it
    is refused in one line before anything starts. "automl" is Vertex AI's: a runtime whose training
    backend does not train it (here, and on AWS and Azure) refuses it saying where it runs, whatever
    the file's size."""
    rt = make_runtime(training={"max_inline_bytes": 1000})
    started: list[str] = []
    rt.adapters.training = type("Backend", (), {"name": "test", "submit": lambda self, u, s: started.append(u)})()
    uri = put_dataset(rt, "big", churn_bytes, {"target": "churned", "model": "automi"})
    with pytest.raises(InvalidDataset, match="unknown model family 'automi'"):
        on_training_data(TrainingDataArrived(uri=uri, size=5_000_000_000, version="e1"), rt.adapters)
    for size in (5_000_000_000, None):
        uri = put_dataset(rt, "big", churn_bytes, {"target": "churned", "model": "automl"})
        with pytest.raises(NotSupported, match=r"^model family 'automl' is Vertex AI AutoML tabular \(Google Cloud\): "
                                               "it trains there only"):
            on_training_data(TrainingDataArrived(uri=uri, size=size, version="e1"), rt.adapters)
    assert started == []
