"""No secret reaches a log line or the CLI's output.

Credentials and tokens configured in the environment (cloud keys, a webhook
token) are set to unique values, the whole local loop runs (the shared
``demo_run``) with every log record captured at DEBUG, and the captured text
is grepped for each value.
"""

from __future__ import annotations


def test_no_configured_secret_appears_in_logs_or_output(demo_run) -> None:
    captured = demo_run["logs"] + demo_run["output"]
    assert "scale_out" in captured and len(demo_run["logs"]) > 1000  # the loop really ran and logged
    leaked = [name for name, value in demo_run["secrets"].items() if value in captured]
    assert not leaked, f"secret values of {leaked} appear in logs or output"
