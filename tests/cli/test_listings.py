"""The listings a newcomer reads after the README walkthrough: they once crashed or left out
what mattered (``audit`` on any non-empty log, aliases in ``models --json``, the handlers in
``invoke --help``, a warning for predictions from a rejected version)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from skyloop.app.cli import app

REPO = Path(__file__).resolve().parents[2]


def test_walkthrough_listings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    home = ["--home", str(tmp_path)]
    r = CliRunner()
    assert r.invoke(app, ["invoke", "train", "events/local/train.json", *home]).exit_code == 0
    assert r.invoke(app, ["approve", "churn", "1", "--actor", "alice", *home]).exit_code == 0
    assert r.invoke(app, ["invoke", "detect", "events/local/detect.json", *home]).exit_code == 0
    assert r.invoke(app, ["remediate", "--live", *home]).exit_code == 0
    res = r.invoke(app, ["audit", *home])
    assert res.exit_code == 0 and "Audit log" in res.stdout and "scale_out" in res.stdout, res.output
    doc = json.loads(r.invoke(app, ["models", "--json", *home]).stdout)
    assert doc[0]["version"] == 1 and doc[0]["aliases"] == ["production"]
    # a second version, rejected: predicting with it by number works, with a warning
    assert r.invoke(app, ["invoke", "train", "events/local/train.json", *home]).exit_code == 0  # same data: same v1
    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime
    from skyloop.ports.registry import Status

    rt = LocalRuntime(Settings(home=tmp_path))
    rt.registry.set_status("churn", 1, Status.REJECTED, actor="test", note="bad")
    rt.close()
    out = tmp_path / "p.csv"
    res = r.invoke(app, ["predict", "churn", "events/local/data/churn.csv", "--version", "1", "--out", str(out), *home])
    assert res.exit_code == 0 and "warning churn v1 is REJECTED" in res.stderr
    assert json.loads(res.stdout)["status"] == "REJECTED"


def test_invoke_help_names_every_handler() -> None:
    from skyloop.handlers import HANDLERS

    res = CliRunner().invoke(app, ["invoke", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and all(h in res.stdout for h in HANDLERS) and len(HANDLERS) == 8  # analyze: issue 18; score: issue 34
