"""Runs: every training run listed with what it was trained on, compared side by side,
and the data shift against the previous version recorded at training time."""

from __future__ import annotations

import io
import json

import pandas as pd
from typer.testing import CliRunner

from skyloop.app.cli import app
from skyloop.tracking import compare_runs

from ..conftest import put_dataset
from skyloop.events import TrainingDataArrived
from skyloop.handlers import on_training_data


def _train(rt, data: bytes, name: str, params: dict) -> int:
    uri = put_dataset(rt, name, data, {"target": "churned", "model_group": "churn", "params": params})
    return on_training_data(TrainingDataArrived(uri=uri), rt.adapters)["version"]


def test_runs_list_compare_and_data_shift(runtime) -> None:
    from skyloop.app.demo_data import churn_csv

    base = churn_csv(300, label_noise=0.1, seed=1)
    frame = pd.read_csv(io.BytesIO(base))
    shifted = frame.assign(tenure_months=frame["tenure_months"] * 3 + 10).to_csv(index=False).encode()
    v1 = _train(runtime, base, "a", {"n_estimators": 20})
    v2 = _train(runtime, churn_csv(300, label_noise=0.1, seed=2), "b", {"n_estimators": 40})
    v3 = _train(runtime, shifted, "c", {"n_estimators": 40})
    versions = runtime.registry.versions("churn")
    assert versions[0].lineage["data_vs_previous"] is None  # the first run has nothing to compare with
    assert versions[1].lineage["data_vs_previous"]["shifted_features"] == []  # same generator: no shift
    assert versions[2].lineage["data_vs_previous"]["shifted_features"] == ["tenure_months"]

    diff = compare_runs(runtime.registry.get("churn", v1), runtime.registry.get("churn", v2))
    assert diff["params_changed"] == {"n_estimators": {"a": 20, "b": 40}} and not diff["same_data"]
    assert diff["metrics"]["cv_accuracy_mean"]["delta"] == round(
        versions[1].metrics["cv_accuracy_mean"] - versions[0].metrics["cv_accuracy_mean"], 6)

    home = ["--home", str(runtime.settings.home)]
    res = CliRunner().invoke(app, ["runs", "churn", "--json", *home])
    rows = json.loads(res.stdout)
    assert res.exit_code == 0 and [r["version"] for r in rows] == [v1, v2, v3]
    assert all(r["data_sha256"] and r["code_version"] and r["train_seconds"] is not None for r in rows)
    res = CliRunner().invoke(app, ["runs", "churn", "--compare", str(v2), "--compare", str(v3), "--json", *home])
    assert res.exit_code == 0 and json.loads(res.stdout)["params_changed"] == {}
    res = CliRunner().invoke(app, ["runs", "churn", *home])
    assert res.exit_code == 0 and "Runs of churn" in res.stdout


def test_an_mlflow_uri_without_the_extra_fails_at_start_with_the_fix(tmp_path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    res = CliRunner().invoke(app, ["runs", "churn", "--home", str(tmp_path / "home")],
                             env={"SKYLOOP_TRACKING__MLFLOW_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    assert res.exit_code == 2 and "tracking_unavailable" in res.output and "skyloop[mlflow]" in res.output
