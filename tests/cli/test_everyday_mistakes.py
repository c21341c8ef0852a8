"""Everyday mistakes, each answered with one line that says what to do, exit code 2 and no
traceback (``--debug`` shows it). They once ended in 45-line boxes or tracebacks, or were
silently accepted."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyloop.app.cli import app

REPO = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(app, args, env=env)


def lines(res) -> list[str]:
    return [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]


def one_line_error(res, *fragments: str) -> str:
    out = lines(res)
    assert res.exit_code == 2, (res.exit_code, out)
    assert len(out) == 1 and out[0].startswith("error ["), out
    assert "Traceback" not in res.stdout + res.stderr and not isinstance(res.exception, (TypeError, KeyError))
    for f in fragments:
        assert f in out[0], out[0]
    return out[0]


@pytest.fixture
def home(tmp_path: Path) -> list[str]:
    return ["--home", str(tmp_path / "home")]


@pytest.fixture
def metrics(tmp_path: Path) -> Path:
    f = tmp_path / "m.csv"
    f.write_text("timestamp,cpu_usage\n" + "".join(f"{1767225600 + 60 * i},{40 + i % 3}\n" for i in range(30)))
    return f


def test_invalid_setting_value_names_the_variable(home) -> None:
    res = run(["models", *home], env={"SKYLOOP_GUARDRAILS__MAX_REPLICAS": "ten"})
    one_line_error(res, "[invalid_setting]", "SKYLOOP_GUARDRAILS__MAX_REPLICAS", "valid integer", "'ten'")


def test_min_replicas_above_max_replicas_is_refused(home) -> None:
    res = run(["models", *home], env={"SKYLOOP_GUARDRAILS__MIN_REPLICAS": "8", "SKYLOOP_GUARDRAILS__MAX_REPLICAS": "3"})
    one_line_error(res, "min_replicas (8) is above max_replicas (3)")


def test_typoed_setting_is_named_with_the_closest_key(home) -> None:
    res = run(["models", "--json", *home], env={"SKYLOOP_GUARDRAILS__MAX_REPLICA": "20"})
    assert res.exit_code == 0 and res.stdout.strip() == "[]"
    assert res.stderr.strip().splitlines() == [
        "warning SKYLOOP_GUARDRAILS__MAX_REPLICA is not a Skyloop setting and is ignored; "
        "did you mean SKYLOOP_GUARDRAILS__MAX_REPLICAS?"]


def test_port_out_of_range(home) -> None:
    one_line_error(run(["serve", "--port", "99999", *home]), "[usage]", "--port", "65535")


def test_port_in_use(home) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        one_line_error(run(["serve", "--port", str(port), *home]), f"cannot listen on 127.0.0.1:{port}", "--port")


def test_home_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    one_line_error(run(["models", "--home", str(f)]), "is a file", "--home")


def test_unwritable_home() -> None:
    # /sys refuses new entries even to root (a chmod'ed folder would not stop root)
    one_line_error(run(["models", "--home", "/sys/kernel/skyloop-test"]), "not writable", "--home")


def test_report_into_a_missing_folder(tmp_path: Path, home) -> None:
    one_line_error(run(["report", "--out", str(tmp_path / "nope" / "r.html"), *home]), "does not exist", "--out")


def test_non_utf8_metrics(tmp_path: Path, home) -> None:
    f = tmp_path / "m.csv"
    f.write_bytes(b"timestamp,cpu\n1767225600,\xff\xfe\n")
    one_line_error(run(["detect", str(f), *home]), "[invalid_metrics]", "not UTF-8")


def test_empty_service_name(metrics: Path, home) -> None:
    one_line_error(run(["detect", str(metrics), "--service", "", *home]), "not a service name")


def test_contamination_out_of_range(metrics: Path, home) -> None:
    one_line_error(run(["fit-detector", str(metrics), "--contamination", "7", *home]), "--contamination", "0.5")


def test_metrics_without_a_time_column(tmp_path: Path, home) -> None:
    f = tmp_path / "m.csv"
    f.write_text("cpu_usage,latency_ms\n97,120\n98,121\n")
    one_line_error(run(["detect", str(f), *home]), "no time column", "--time-column")


def test_unknown_command_and_bad_log_level(home) -> None:
    one_line_error(run(["demoo"]), "No such command 'demoo'")
    one_line_error(run(["--log-level", "LOUD", "models", *home]), "--log-level", "LOUD")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    res = run(["--debug", "models", "--home", str(f)])
    assert res.exit_code != 0 and type(res.exception).__name__ == "InvalidRequest"


def test_a_real_process_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    """Through the installed entry point, as a user meets it (no CliRunner in between)."""
    f = tmp_path / "afile"
    f.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "skyloop.app.cli", "models", "--home", str(f)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error [invalid_request] the state folder {f} is a file; point --home or SKYLOOP_HOME at a folder"]


def test_a_dry_run_leaves_the_request_for_the_live_run(home, tmp_path: Path) -> None:
    """The README's "skyloop remediate; add --live to act" did nothing: the dry run consumed the request."""
    event = Path(__file__).resolve().parents[2] / "events" / "local" / "remediate.json"
    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime

    rt = LocalRuntime(Settings(home=tmp_path / "home"))
    rt.adapters.remediation.send(event.read_text(), message_id="m1")
    rt.close()
    dry = run(["remediate", *home])
    assert dry.exit_code == 0 and "dry_run" in dry.stdout, dry.stdout
    live = run(["remediate", "--live", *home])
    assert live.exit_code == 0 and "executed" in live.stdout, live.stdout


def test_held_requests_are_listed_with_the_commands_that_decide_them(home, tmp_path: Path) -> None:
    import json as _json

    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime

    rt = LocalRuntime(Settings(home=tmp_path / "home"))
    rt.adapters.remediation.send(_json.dumps({"type": "RemediationRequested", "event_id": "e1", "request_id": "crit-1",
                                              "action": "restart_service", "target": "api", "severity": "critical"}))
    rt.close()
    res = run(["remediate", "--live", *home])
    assert "held crit-1: restart_service on api" in res.stdout and "--approve crit-1" in res.stdout, res.stdout
    res = run(["remediate", "--live", "--approve", "crit-1", "--note", "checked the dashboards", *home])
    assert res.exit_code == 0 and "crit-1: approved by" in res.stdout and "executed" in res.stdout, res.stdout
    res = run(["remediate", "--reject", "crit-1", *home])
    assert res.exit_code == 2 and "already approved" in res.stdout + res.stderr


def test_fit_detector_applies_the_out_of_range_guard(home, tmp_path: Path) -> None:
    """fit-detector fed the detector directly: a history with ±1e308 bypassed the detect path's
    guard, and the saved state went non-finite."""
    from skyloop.config import Settings
    from skyloop.detection import load_detector
    from skyloop.detection.base import state_is_sound
    from skyloop.local.runtime import LocalRuntime

    rows = ["timestamp,cpu,latency"] + [f"2026-11-24T{i // 60:02d}:{i % 60:02d}:00Z,{40 + i % 7},{'1e308' if i % 3 else 120 + i % 5}"
                                         for i in range(300)]
    (tmp_path / "hist.csv").write_text("\n".join(rows) + "\n")
    res = run(["fit-detector", str(tmp_path / "hist.csv"), *home])
    assert res.exit_code == 0 and "200 value(s) beyond ±1e150 treated as missing (latency)" in res.stdout + res.stderr
    rt = LocalRuntime(Settings(home=tmp_path / "home"))
    try:
        saved = rt.adapters.kv.get("detector:api")
        assert saved and state_is_sound(saved, load_detector(saved).tags.nan_ok)
    finally:
        rt.close()


@pytest.fixture
def trained(tmp_path: Path, home) -> Path:
    """A home with churn v1 approved and in production; returns its training CSV."""
    from skyloop.app.demo_data import churn_csv

    data = tmp_path / "churn.csv"
    data.write_bytes(churn_csv(300, label_noise=0.1, seed=1))
    assert run(["train", str(data), *home]).exit_code == 0
    assert run(["approve", "churn", "1", *home]).exit_code == 0
    return data


def test_approving_an_approved_version_says_so_instead_of_a_stale_rollout(trained, home) -> None:
    res = run(["approve", "churn", "1", *home])
    assert res.exit_code == 0 and "already approved (in production)" in res.stdout and "skyloop deploy churn 1" in res.stdout
    assert "promoted" not in res.stdout and "duplicate" not in res.stdout


def test_a_huge_version_number_is_one_line(trained, home) -> None:
    for args in (["approve", "churn", "9" * 25], ["deploy", "churn", "9" * 25]):
        one_line_error(run([*args, *home]), "out of range")


def test_a_binary_file_in_drift_is_one_line(trained, home, tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes(bytes(range(128)) * 30)
    one_line_error(run(["drift", "churn", str(f), *home]), "[invalid_csv]", "does not parse as CSV")


def test_a_failed_retrain_is_not_hidden_behind_the_drift_table(trained, home, tmp_path: Path) -> None:
    import pandas as pd

    recent = pd.read_csv(trained)
    recent["monthly_charges"] *= 3  # drift
    recent.drop(columns=[recent.columns[-1]]).to_csv(tmp_path / "recent.csv", index=False)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    res = run(["drift", "churn", str(tmp_path / "recent.csv"), "--retrain-on", str(tmp_path / "bad.csv"), *home])
    assert res.exit_code == 2 and "the retrain on" in res.stderr and "failed" in res.stderr, (res.exit_code, res.stderr)


def test_predict_never_replaces_a_symlink_a_device_or_its_input(trained, home, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "link.csv").symlink_to(target)
    one_line_error(run(["predict", "churn", str(trained), "--out", str(tmp_path / "link.csv"), *home]), "symlink")
    assert target.read_text() == "keep me"
    one_line_error(run(["predict", "churn", str(trained), "--out", "/dev/null", *home]), "not a regular file")
    before = trained.read_bytes()
    one_line_error(run(["predict", "churn", str(trained), "--out", str(trained), *home]), "is the input file")
    assert trained.read_bytes() == before


def test_a_negative_demo_seed_is_a_usage_error(home) -> None:
    one_line_error(run(["demo", "--seed", "-1", *home]), "--seed")


def test_debug_after_the_subcommand_is_the_global_flag(home) -> None:
    res = run(["models", *home, "--debug"])
    assert res.exit_code == 0, res.stdout + res.stderr


def test_errors_a_user_meets_are_named_not_called_bugs() -> None:
    """A full disk (even for `audit verify`), and an AI command without the [ai] extra, printed
    "internal_error ... (a bug)"."""
    import sqlite3

    from skyloop.app.cli_errors import describe

    assert describe(sqlite3.OperationalError("database or disk is full")) == (
        "os_error", "the disk is full: the state database cannot be written (free space, or --home elsewhere)")
    code, reason = describe(ModuleNotFoundError("No module named 'PIL'", name="PIL"))
    assert code == "missing_dependency" and "pip install 'skyloop[ai]'" in reason
    assert describe(OverflowError("Python int too large to convert to SQLite INTEGER"))[0] == "invalid_number"


@pytest.mark.parametrize("raised, permission", [
    # botocore's ClientError, by its shape: response["Error"]["Code"] and the message IAM writes
    (type("ClientError", (Exception,), {"response": {"Error": {"Code": "AccessDeniedException"}}})(
        "User: arn:aws:sts::1:assumed-role/dev/bob is not authorized to perform: dynamodb:Query on resource: "
        "arn:aws:dynamodb:us-east-1:1:table/skyloop-state"), "dynamodb:Query"),
    # google.api_core.exceptions.PermissionDenied
    (type("PermissionDenied", (Exception,), {"code": 403})(
        "403 Permission 'aiplatform.models.list' denied on resource '//aiplatform.googleapis.com/projects/p'"),
     "aiplatform.models.list"),
    # azure.core.exceptions.HttpResponseError with status 403
    (type("HttpResponseError", (Exception,), {"status_code": 403})(
        "The client 'x' does not have authorization to perform action "
        "'Microsoft.Storage/storageAccounts/tableServices/tables/entities/read' over scope '/s'"),
     "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read"),
])
def test_a_missing_cloud_permission_is_one_line_naming_it(raised: Exception, permission: str) -> None:
    from skyloop.app.cli_errors import describe

    code, reason = describe(raised)
    assert code == "access_denied" and f"the permission {permission}" in reason and "\n" not in reason
    assert describe(ValueError("x"))[0] == "internal_error"
