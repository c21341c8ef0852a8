"""No secret reaches a log line or the CLI's output.

Credentials and tokens configured in the environment (cloud keys, a webhook
token) are set to unique values, the whole local loop runs with logging
captured at DEBUG, and the captured text is grepped for each value.
"""

from __future__ import annotations

import logging
import secrets

from typer.testing import CliRunner

from skyloop.cli import app

SECRET_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET", "GOOGLE_API_KEY",
               "SKYLOOP_WEBHOOK_TOKEN")


def test_no_configured_secret_appears_in_logs_or_output(tmp_path, monkeypatch, caplog) -> None:
    values = {name: f"s3cr3t-{secrets.token_hex(12)}" for name in SECRET_VARS}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SKYLOOP_HOME", str(tmp_path / "home"))
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(app, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    captured = caplog.text + result.output
    assert "scale_out" in captured  # the loop really ran and logged
    leaked = [name for name, value in values.items() if value in captured]
    assert not leaked, f"secret values of {leaked} appear in logs or output"
