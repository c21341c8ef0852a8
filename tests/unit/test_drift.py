"""Drift: PSI and KS against scipy and by hand, thresholds both ways, and the loop
drift -> DriftDetected -> retraining on newer data -> a new version."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from skyloop.app.cli import app
from skyloop.drift.stats import DriftThresholds, drift_report, ks_2samp, psi, reference_profile

from .test_deployment import approve_and_deploy, train_version


@pytest.mark.parametrize("shift, n, m", [(0.0, 500, 300), (0.3, 500, 300), (0.5, 80, 60), (1.0, 1000, 50)])
def test_ks_matches_scipy(shift: float, n: int, m: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=n), rng.normal(shift, 1, size=m)
    d, p = ks_2samp(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, abs=0.01)


def test_psi_by_hand() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * np.log(0.9 / 0.5) - 0.4 * np.log(0.1 / 0.5))


def _reference(rng: np.random.Generator) -> dict:
    cols = {"x": rng.normal(10, 2, 4000), "plan": rng.choice(["basic", "pro"], 4000, p=[0.7, 0.3])}
    return reference_profile(cols, ["plan"], (cols["x"] > 10).astype(int), classification=True)


def test_same_distribution_is_below_threshold() -> None:
    rng = np.random.default_rng(1)
    ref = _reference(rng)
    x = rng.normal(10, 2, 800)
    rep = drift_report(ref, {"x": x, "plan": rng.choice(["basic", "pro"], 800, p=[0.7, 0.3])}, (x > 10).astype(int))
    assert not rep.drifted and rep.features["x"]["psi"] < 0.1, rep.to_dict()


def test_shift_in_one_feature_and_in_predictions_is_named() -> None:
    rng = np.random.default_rng(2)
    ref = _reference(rng)
    x = rng.normal(12, 2, 800)
    rep = drift_report(ref, {"x": x, "plan": rng.choice(["basic", "pro"], 800, p=[0.7, 0.3])}, (x > 10).astype(int))
    assert rep.drifted and rep.drifted_features == ["x"] and rep.prediction["drifted"]
    assert rep.features["x"]["ks_p"] < 0.01


def test_too_few_rows_is_not_drift() -> None:
    rng = np.random.default_rng(4)
    rep = drift_report(_reference(rng), {"x": rng.normal(30, 2, 20)}, thresholds=DriftThresholds(min_rows=50))
    assert rep.features["x"]["drifted"] and not rep.drifted and not rep.enough_data


def test_drift_retrains_on_newer_data_and_no_drift_does_nothing(runtime, tmp_path) -> None:
    from skyloop.app.demo_data import churn_csv

    approve_and_deploy(runtime, train_version(runtime, churn_csv(400, label_noise=0.1, seed=1)))
    home = ["--home", str(runtime.settings.home)]
    recent = pd.read_csv(io.BytesIO(churn_csv(400, label_noise=0.1, seed=5))).drop(columns=["churned"])
    same = tmp_path / "same.csv"
    recent.to_csv(same, index=False)
    newer = tmp_path / "newer.csv"
    newer.write_bytes(churn_csv(400, label_noise=0.1, seed=9))
    (tmp_path / "newer.skyloop.json").write_text(json.dumps({"target": "churned", "params": {"n_estimators": 20}}))

    res = CliRunner().invoke(app, ["drift", "churn", str(same), "--retrain-on", str(newer), "--json", *home])
    out = json.loads(res.stdout)
    assert res.exit_code == 0 and not out["drifted"] and "handled" not in out  # below threshold: nothing happens
    assert len(runtime.registry.versions("churn")) == 1

    shifted = recent.assign(tenure_months=recent["tenure_months"] * 3 + 20)
    drifted = tmp_path / "drifted.csv"
    shifted.to_csv(drifted, index=False)
    res = CliRunner().invoke(app, ["drift", "churn", str(drifted), "--retrain-on", str(newer), "--json", *home])
    out = json.loads(res.stdout)
    assert res.exit_code == 0 and out["drifted"] and "tenure_months" in out["drifted_features"], out
    assert [v.version for v in runtime.registry.versions("churn")] == [1, 2]  # retrained on the newer data
    assert runtime.registry.get("churn", 2).lineage["data_uri"].endswith("newer.csv")
    history = json.loads(runtime.adapters.kv.get("drift:churn"))
    assert history[-1]["features"] == out["drifted_features"]
