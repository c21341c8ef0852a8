"""End to end on the embedded default: the demo's full loop, and the CLI a newcomer uses."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyloop.app.cli import app

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_closes_the_loop(demo_run):
    s = demo_run["summary"]
    status = {m["version"]: m["status"] for m in s["models"]}
    assert list(status) == [1, 2, 3, 4, 5]
    assert s["models"][0]["cv_accuracy"] > 0.65
    # every injected incident detected and attributed to the right metric and first action
    assert all(i["detected"] and i["correct"] for i in s["incidents"]), s["incidents"]
    # the five and the canary's: serving times are drawn from the seed (a busy CI machine once added a
    # latency blip on churn-model when they were read off the wall clock)
    assert len(s["incidents"]) == 5 and s["anomalies"] == 6
    # and each verified by its metrics: resolved only when they came back after an action
    ver = {i["incident"]: i["verification"] for i in s["incidents"]}
    assert all(v is not None and v["status"] == "resolved" for v in ver.values()), ver
    assert ver["Connection pool exhaustion"]["actions"] == ["clear_cache", "scale_out", "restart_service"]
    assert all(len(v["actions"]) == 1 for name, v in ver.items() if name != "Connection pool exhaustion")
    assert sum("unresolved" in line and "escalated to" in line for line in s["story"]) == 2
    executed = [a for a in s["actions"] if a["status"] == "executed"]
    assert executed
    # drift on the served rows -> retrain on the latest data -> the gate approves on the held-back slice
    assert "monthly_charges" in s["drift"]["drifted_features"]
    gate = {d["version"]: d for d in s["gate"]}
    assert gate[2]["approve"] and gate[2]["against"] == 1 and any("held-back" in c for c in gate[2]["checks"])
    # v2 and v4 passed their bake; v3 failed live traffic, the detector blamed it, remediation aborted it
    assert [(c["version"], c["detail"]) for c in s["canaries"]] == [(2, "v2 promoted after its bake"),
                                                                    (4, "v4 promoted after its bake")]
    abort = [a for a in s["actions"] if a["action"] == "abort_canary"]
    assert [a["status"] for a in abort] == ["executed"] and status[3] == "REJECTED"
    assert s["client_errors"] > 0  # what the canary cost the clients before it was aborted
    # the error burst after v4 went to production: traced to it and rolled back to v2
    assert s["rollbacks"] == [{"from": 4, "to": 2}] and s["deployment"]["production"] == 2 and status[4] == "REJECTED"
    err = next(i for i in s["incidents"] if i["incident"].startswith("Error burst"))
    assert err["action"] == "rollback_deployment" and err["resolved_by_remediation"]
    # the A/B test ran to its planned sample size and was decided
    ab = s["ab_test"]
    assert ab["verdict"] in ("b_wins", "a_wins", "inconclusive") and ab["applied"]
    assert min(ab["a_n"], ab["b_n"]) >= ab["n_required"]
    assert s["audit"]["verified"] and s["dead_letters"] == 0
    assert s["deployment"]["endpoint_predictions"]
    assert Path(s["report"]).stat().st_size > 10_000


def test_cli_demo_json(demo_run):
    doc = demo_run["summary"]  # the shared run is `skyloop demo --json --start ...` through the CLI
    assert doc["deployment"]["production"] == 2 and doc["rollbacks"] and doc["story"]
    assert doc["home"] == str(demo_run["home"])


def test_cli_invoke_every_handler_with_local_events(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # events/local/train.json names its CSV relative to the repo
    home = ["--home", str(tmp_path)]
    r = CliRunner()
    res = r.invoke(app, ["invoke", "train", "events/local/train.json", *home])
    assert res.exit_code == 0, res.output
    assert '"status": "PENDING"' in res.stdout
    res = r.invoke(app, ["invoke", "deploy", "events/local/deploy.json", *home])
    assert res.exit_code == 2 and "not APPROVED" in res.output  # approval first
    res = r.invoke(app, ["approve", "churn", "1", "--actor", "alice", *home])
    assert res.exit_code == 0 and '"status": "promoted"' in res.stdout, res.output
    res = r.invoke(app, ["invoke", "deploy", "events/local/deploy.json", *home])  # the approval's event, redelivered
    assert res.exit_code == 0 and '"duplicate": true' in res.stdout
    res = r.invoke(app, ["deploy", "churn", "1", *home])  # a new request: redeploys what serves
    assert res.exit_code == 0 and '"status": "redeployed"' in res.stdout and '"duplicate": false' in res.stdout
    res = r.invoke(app, ["invoke", "detect", "events/local/detect.json", *home])
    assert res.exit_code == 0 and '"action": "scale_out"' in res.stdout, res.output
    res = r.invoke(app, ["invoke", "remediate", "events/local/remediate.json", *home])
    assert res.exit_code == 0 and '"status": "dry_run"' in res.stdout, res.output
    res = r.invoke(app, ["invoke", "remediate", "events/local/remediate.json", "--live", *home])
    assert res.exit_code == 0 and '"status": "executed"' in res.stdout
    res = r.invoke(app, ["remediate", *home])  # the request queued by detect, dry run
    assert res.exit_code == 0 and "dry_run" in res.stdout
    res = r.invoke(app, ["audit", "--verify", *home])
    assert res.exit_code == 0 and "chain intact" in res.stdout
    res = r.invoke(app, ["audit", "verify", *home])
    assert res.exit_code == 0 and "chain intact, head sealed" in res.stdout
    res = r.invoke(app, ["audit", *home])  # the plain listing, after real decisions were written
    assert res.exit_code == 0 and "scale_out" in res.stdout and "Traceback" not in res.output, res.output
    res = r.invoke(app, ["gc", "--older-than", "0", *home])  # nothing crashed: nothing to reclaim
    assert res.exit_code == 0 and "0 orphaned artifact(s)" in res.stdout
    res = r.invoke(app, ["models", "--json", *home])
    assert json.loads(res.stdout)[0]["status"] == "APPROVED"
    out = tmp_path / "preds.csv"
    res = r.invoke(app, ["predict", "churn", "events/local/data/churn.csv", "--out", str(out), "--chunk-rows", "50", *home])
    assert res.exit_code == 0, res.output
    assert out.read_text().splitlines()[0].endswith("prediction,proba_0,proba_1")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("", "CSV is empty"),
        ("a,b,churned\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)), "target column 'label'"),
        ("a,label\n" + "".join(f"{'nan' if i == 3 else i},{i % 2}\n" for i in range(20)), "missing value"),
        ("a,label\n" + "".join(f"{'x' if i == 3 else i},{i % 2}\n" for i in range(20)), "has text 'x'"),
        ("a,label\n" + "".join(f"{i},1\n" for i in range(20)), "single class"),
    ],
)
def test_cli_train_bad_csv_one_line_error_and_registry_unchanged(tmp_path, content, fragment):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    home = ["--home", str(tmp_path / "home")]
    res = CliRunner().invoke(app, ["train", str(csv), "--target", "label", *home])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error [invalid_dataset]") and fragment in lines[0]
    res = CliRunner().invoke(app, ["models", "--json", *home])
    assert json.loads(res.stdout) == []


def test_cli_detect_csv(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    lines = ["timestamp,cpu_usage,latency_ms"]
    for i in range(200):
        cpu = 97.0 if 180 <= i < 190 else 40 + rng.normal(0, 3)
        lines.append(f"{1767225600 + 60 * i},{cpu:.2f},{120 + rng.normal(0, 8):.2f}")
    f = tmp_path / "m.csv"
    f.write_text("\n".join(lines))
    res = CliRunner().invoke(app, ["detect", str(f), "--service", "api", "--json", "--home", str(tmp_path / "h")])
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)
    assert len(found) == 1 and found[0]["causes"][0]["metric"] == "cpu_usage"


def test_version_command():
    res = CliRunner().invoke(app, ["version"])
    assert res.exit_code == 0 and res.stdout.startswith("skyloop ")


@pytest.mark.parametrize("kind", ["default", "sklearn-iforest"])
def test_cli_fit_detector_then_detect(tmp_path, kind):
    import numpy as np

    rng = np.random.default_rng(1)
    hist = ["timestamp,cpu_usage,latency_ms"] + [
        f"{1767225600 + 60 * i},{40 + rng.normal(0, 3):.2f},{120 + rng.normal(0, 8):.2f}" for i in range(600)]
    (tmp_path / "hist.csv").write_text("\n".join(hist))
    live = ["timestamp,cpu_usage,latency_ms"] + [
        f"{1767225600 + 60 * (600 + i)},{97.0 if 20 <= i < 30 else 40 + rng.normal(0, 3):.2f},"
        f"{120 + (60 if 20 <= i < 30 else 0) + rng.normal(0, 8):.2f}"  # CPU saturation, latency follows
        for i in range(40)]
    (tmp_path / "live.csv").write_text("\n".join(live))
    home = ["--home", str(tmp_path / "h")]
    r = CliRunner()
    res = r.invoke(app, ["fit-detector", str(tmp_path / "hist.csv"), "--kind", kind, "--service", "api", *home])
    assert res.exit_code == 0 and "fitted on 600 records" in res.stdout, res.output
    res = r.invoke(app, ["detect", str(tmp_path / "live.csv"), "--service", "api", "--json", *home])
    found = json.loads(res.stdout)
    assert len(found) == 1 and found[0]["causes"][0]["metric"] == "cpu_usage"
    assert found[0]["start"].startswith("2026-01-01T10:20")
