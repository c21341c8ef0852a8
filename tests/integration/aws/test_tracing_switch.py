"""X-Ray is loaded only where tracing is on: the template's TracingMode decides, through
POWERTOOLS_TRACE_DISABLED, whether an entry point pays the X-Ray SDK's import (~250 ms of a
cold start). Each case imports the detect entry point in a fresh interpreter, as Lambda does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions" / "aws"
PROBE = ("import sys, json, detect, common; print(json.dumps([type(common.tracer).__name__, "
         "'aws_xray_sdk.core' in sys.modules, 'pydantic_settings' in sys.modules]))")


def _import_detect(**env: str) -> list[object]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=FUNCTIONS, env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("env,traced", [
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),  # TracingMode Active
    ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),  # PassThrough
    ({"LAMBDA_TASK_ROOT": "/var/task"}, True),  # Powertools' default in Lambda
    ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),  # sam local invoke
    ({}, False),  # outside Lambda (tests, a laptop)
])
def test_the_xray_sdk_is_loaded_only_when_tracing_is_on(env: dict[str, str], traced: bool) -> None:
    tracer, xray_loaded, settings_lib = _import_detect(**env)
    assert (tracer == "Tracer") is traced
    assert xray_loaded is traced
    assert settings_lib is False  # skyloop.envsettings, not pydantic-settings, on the cold path


def test_the_template_wires_the_switch() -> None:
    from cfnlint.decode import decode

    template, _ = decode(str(FUNCTIONS.parents[1] / "infra" / "aws" / "template.yaml"))
    fn = template["Globals"]["Function"]
    assert fn["Tracing"] == {"Ref": "TracingMode"}
    assert fn["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["Traced", "false", "true"]}
    assert template["Conditions"]["Traced"] == {"Fn::Equals": [{"Ref": "TracingMode"}, "Active"]}
