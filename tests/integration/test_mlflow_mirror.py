"""The MLflow mirror against a real MLflow store (mlflow-skinny on SQLite, and the file
store): every run lands there with the registry's params, metrics and lineage, its
status and aliases follow the lifecycle, and a failed or repeated sync loses nothing
and duplicates nothing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyloop.app.cli import app
from skyloop.app.demo_data import churn_csv
from skyloop.events import TrainingDataArrived
from skyloop.handlers import on_training_data
from skyloop.config import ApprovalGate
from skyloop.ports.registry import Status
from skyloop.tracking.mlflow_mirror import run_params

from ..conftest import put_dataset

mlflow = pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")

GATE = ApprovalGate(enabled=True, min_score=0.55, margin=0.0, holdout_margin=0.005, max_segment_drop=0.05)


def _train(rt, name: str, data: bytes, params: dict | None = None) -> dict:
    uri = put_dataset(rt, name, data, {"target": "churned", "model_group": "churn", **({"params": params} if params else {})})
    return on_training_data(TrainingDataArrived(uri=uri), rt.adapters)


def _runs(uri: str, group: str = "churn") -> dict[int, "mlflow.entities.Run"]:
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(f"skyloop/{group}")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    out = {int(r.data.tags["skyloop.version"]): r for r in runs}
    assert len(out) == len(runs), "one run per version"
    return out


def test_runs_are_mirrored_and_follow_the_lifecycle(make_runtime, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rt = make_runtime(gate=GATE, tracking={"mlflow_uri": uri})
    _train(rt, "v1", churn_csv(1500, label_noise=0.15, seed=1), {"n_estimators": 30, "max_depth": 2})
    runs = _runs(uri)
    assert runs[1].data.tags["skyloop.status"] == "APPROVED"  # approved by the gate, not yet deployed
    assert runs[1].data.tags["skyloop.gate.approve"] == "true"
    rt.pump()  # deploy: staging -> canary -> production, each move mirrored by the registry wrapper
    _train(rt, "v2", churn_csv(2000, label_noise=0.05, seed=2))
    rt.pump()
    stump = _train(rt, "v3", churn_csv(2000, label_noise=0.05, seed=3), {"n_estimators": 3, "max_depth": 1})
    assert not stump["auto_approved"]

    runs = _runs(uri)
    assert sorted(runs) == [1, 2, 3]
    for n, run in runs.items():
        mv = rt.registry.get("churn", n)
        assert run.info.run_name == f"v{n}" and run.info.status == "FINISHED"
        assert run.data.params == run_params(mv) and set(run.data.params) == set(mv.params)
        for k, v in mv.metrics.items():
            assert run.data.metrics[k] == pytest.approx(v)
        assert run.data.tags["skyloop.data_sha256"] == mv.lineage["data_sha256"]
        assert run.data.tags["skyloop.artifact_sha256"] == mv.artifact_sha256
        assert run.data.tags["skyloop.status"] == mv.status.value
        lineage = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/skyloop/lineage.json")
        assert lineage["data_sha256"] == mv.lineage["data_sha256"] and lineage["rows"] == mv.lineage["rows"]
    # the lifecycle: v1 lost the production alias to v2, v3 is held by the gate
    assert runs[1].data.params["n_estimators"] == "30" and runs[1].data.params["max_depth"] == "2"
    assert (runs[1].data.tags["skyloop.status"], runs[1].data.tags["skyloop.aliases"]) == ("APPROVED", "")
    assert runs[2].data.tags["skyloop.aliases"] == "production"
    assert runs[3].data.tags["skyloop.status"] == "PENDING" and runs[3].data.tags["skyloop.gate.approve"] == "false"
    assert runs[3].data.tags["mlflow.note.content"].startswith("Skyloop gate: refused")
    # the gate's evidence side by side: production scored on the candidate's own held-back rows
    assert runs[2].data.metrics["production_holdout_accuracy"] < runs[2].data.metrics["holdout_accuracy"]
    # artifacts under SKYLOOP_HOME, not wherever the process ran from
    assert runs[1].info.artifact_uri.startswith((rt.settings.home / "mlflow-artifacts").resolve().as_uri())

    # a human rejects v3: the mirror follows
    rt.registry.set_status("churn", 3, Status.REJECTED, actor="alice", note="too weak")
    assert _runs(uri)[3].data.tags["skyloop.status"] == "REJECTED"


def test_sync_is_idempotent_and_repairs_a_missed_or_doubled_run(make_runtime, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rt = make_runtime(tracking={"mlflow_uri": uri})
    _train(rt, "v1", churn_csv(400, label_noise=0.1, seed=1))
    mirror = rt.adapters.mirror
    again = mirror.sync(rt.registry, "churn")
    assert (again.created, again.updated, again.unchanged) == ([], [], 1)

    # two syncs raced and both created v1's run: the next sync keeps one
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name("skyloop/churn").experiment_id
    client.create_run(exp_id, tags={"skyloop.version": "1"}, run_name="v1")
    # a status change the mirror never saw (written past the wrapper)
    rt.registry.inner.set_status("churn", 1, Status.REJECTED, actor="alice")
    res = CliRunner().invoke(app, ["runs", "churn", "--sync-mlflow", "--json", "--home", str(rt.settings.home)],
                             env={"SKYLOOP_TRACKING__MLFLOW_URI": uri})
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"group": "churn", "experiment": "skyloop/churn", "created": [], "updated": [1],
                                      "unchanged": 0, "duplicates_removed": 1}
    runs = _runs(uri)
    assert runs[1].data.tags["skyloop.status"] == "REJECTED" and "cv_accuracy_mean" in runs[1].data.metrics


def test_mlflow_down_does_not_fail_training_and_the_next_sync_catches_up(make_runtime, tmp_path: Path,
                                                                         caplog) -> None:
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store's directory should be")
    broken = f"sqlite:///{blocker / 'mlflow.db'}"
    rt = make_runtime(tracking={"mlflow_uri": broken})
    logger = logging.getLogger("skyloop")  # the CLI's JSON log setup stops propagation to the root
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="skyloop"):
            out = _train(rt, "v1", churn_csv(400, label_noise=0.1, seed=1))
    finally:
        logger.removeHandler(caplog.handler)
    assert out["version"] == 1 and rt.registry.get("churn", 1)  # the registry, the record, has it
    warned = [r for r in caplog.records if "mlflow mirror not updated" in r.getMessage()]
    assert warned and warned[0].reason.startswith("MLflow mirror of churn failed")

    blocker.unlink()  # MLflow is back
    blocker.mkdir()
    res = CliRunner().invoke(app, ["runs", "churn", "--sync-mlflow", "--json", "--home", str(rt.settings.home)],
                             env={"SKYLOOP_TRACKING__MLFLOW_URI": broken})
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["created"] == [1]
    assert sorted(_runs(broken)) == [1]


def test_file_store_when_mlflow_allows_it(make_runtime, tmp_path: Path, monkeypatch) -> None:
    uri = (tmp_path / "mlruns").as_uri()
    rt = make_runtime(tracking={"mlflow_uri": uri})
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    res = CliRunner().invoke(app, ["runs", "churn", "--sync-mlflow", "--home", str(rt.settings.home)],
                             env={"SKYLOOP_TRACKING__MLFLOW_URI": uri})
    # MLflow 3 keeps its file store behind an opt-out: the reason is MLflow's own, one line
    assert res.exit_code == 2 and "tracking_unavailable" in res.output and "MLFLOW_ALLOW_FILE_STORE" in res.output
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    _train(rt, "v1", churn_csv(400, label_noise=0.1, seed=1))
    assert _runs(uri)[1].data.tags["skyloop.status"] == rt.registry.get("churn", 1).status.value


def test_without_a_uri_there_is_no_mirror_and_the_cli_says_so(runtime) -> None:
    assert runtime.adapters.mirror is None
    res = CliRunner().invoke(app, ["runs", "churn", "--sync-mlflow", "--home", str(runtime.settings.home)])
    assert res.exit_code == 2 and "SKYLOOP_TRACKING__MLFLOW_URI" in res.output


def test_credentials_in_the_uri_never_reach_the_reason(monkeypatch, tmp_path: Path) -> None:
    from skyloop.errors import TrackingUnavailable
    from skyloop.local.db import Database
    from skyloop.local.registry import SqliteModelRegistry
    from skyloop.tracking.mlflow_mirror import MlflowMirror

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    mirror = MlflowMirror("http://alice:s3cr3t-token@127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(TrackingUnavailable) as err:
        mirror.sync(SqliteModelRegistry(Database(tmp_path / "s.db")), "churn")
    assert "s3cr3t-token" not in str(err.value) and "127.0.0.1" in str(err.value)
