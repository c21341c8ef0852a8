"""Cold start: wall time of a fresh interpreter importing the detect handler vs importing numpy.

Median of N runs each, interleaved so both see the same machine state. Also
records which heavy modules the detect import pulls in (none of pandas,
sklearn, joblib, boto3 may appear).

`import pydantic` alone is lazy (PEP 562) and says little; the floor any pydantic
model sets is `from pydantic import BaseModel`, so that is measured too. The AWS
detect entry point (Powertools, settings, the adapters' modules) is what a Lambda cold
start really pays at init: budget 300 ms with tracing off (the template's default
TracingMode, PassThrough), and timed with tracing on (Active: the X-Ray SDK) for the record.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402

PYDANTIC_FLOOR = "numpy+pydantic.BaseModel"
AWS_DETECT = "aws functions/detect.py (Powertools, settings), tracing off"
AWS_DETECT_TRACED = "aws functions/detect.py, tracing on (X-Ray SDK)"
AWS_PACKAGED = "build/aws/detect, as Lambda runs it (CPython 3.13 -I -S -B), tracing off"
AWS_PACKAGED_NUMPY = "build/aws/detect: import numpy alone (the same interpreter)"
AWS_BUDGET_MS = 300.0
PACKAGE = Path(__file__).resolve().parents[1] / "build" / "aws" / "detect"
# what Lambda sets, and what the template's TracingMode turns into (functions/aws/common.py)
LAMBDA_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "skyloop-detect"}
FUNCTIONS_AWS = Path(__file__).resolve().parents[1] / "functions" / "aws"

TARGETS = {
    "numpy": "import numpy",
    "pydantic": "import pydantic",
    "numpy+pydantic": "import numpy, pydantic",
    PYDANTIC_FLOOR: "import numpy; from pydantic import BaseModel",
    "skyloop.handlers.detect": "import skyloop.handlers.detect",
    "skyloop.handlers.remediate": "import skyloop.handlers.remediate",
}


Target = tuple[list[str], Path | None, dict[str, str] | None]


def once(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, cwd=cwd, env=env)
    return time.perf_counter() - t0


def _python313() -> str | None:
    sys.path.insert(0, str(PACKAGE.parents[2] / "infra" / "aws"))
    try:
        from package import _interpreter  # the packager's own choice of the runtime's CPython

        return _interpreter()
    except (ImportError, SystemExit):
        return None


def _targets() -> dict[str, Target]:
    out: dict[str, Target] = {k: ([sys.executable, "-c", c], None, None) for k, c in TARGETS.items()}
    if importlib.util.find_spec("aws_lambda_powertools"):  # the [aws] extra; not imported here
        base = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
        entry = [sys.executable, "-c", "import detect"]
        out[AWS_DETECT] = (entry, FUNCTIONS_AWS, {**base, **LAMBDA_ENV, "POWERTOOLS_TRACE_DISABLED": "true"})
        out[AWS_DETECT_TRACED] = (entry, FUNCTIONS_AWS, {**base, **LAMBDA_ENV, "POWERTOOLS_TRACE_DISABLED": "false"})
    py313 = _python313()
    if (PACKAGE / "detect.py").exists() and py313:
        # Lambda's /var/task is read-only: -B writes no bytecode cache, so only the package's own
        # .pyc files (infra/aws/package.py) spare the compiler
        env = {"AWS_DEFAULT_REGION": "us-east-1", **LAMBDA_ENV, "LAMBDA_TASK_ROOT": str(PACKAGE),
               "POWERTOOLS_TRACE_DISABLED": "true"}
        for name, mod in ((AWS_PACKAGED, "detect"), (AWS_PACKAGED_NUMPY, "numpy")):
            out[name] = ([py313, "-I", "-S", "-B", "-c", f"import sys; sys.path[:0] = [{str(PACKAGE)!r}]; import {mod}"],
                         PACKAGE, env)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=21)
    args = p.parse_args(argv)
    targets = _targets()
    for argv, cwd, env in targets.values():  # warm the page cache and .pyc files
        once(argv, cwd, env)
    times: dict[str, list[float]] = {k: [] for k in targets}
    for _ in range(args.runs):
        for name, (argv, cwd, env) in targets.items():
            times[name].append(once(argv, cwd, env))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, json; before = set(sys.modules); import skyloop.handlers.detect; "
         "print(json.dumps([m for m in ('pandas','sklearn','joblib','boto3','google','azure') "
         "if m in set(sys.modules) - before]))"],  # an nspkg .pth may create 'google' at start
        capture_output=True, text=True, check=True).stdout
    ratio = med["skyloop.handlers.detect"] / med["numpy"]
    write("coldstart", {
        "runs": args.runs, "median_ms": {k: round(v, 1) for k, v in med.items()},
        "detect_vs_numpy": round(ratio, 2), "budget": 1.5, "within_budget": ratio <= 1.5,
        "heavy_modules_imported_by_detect": json.loads(heavy),
        "aws_budget_ms": AWS_BUDGET_MS,
        # the budget holds for what Lambda runs: the built package (else the entry point in this venv)
        "aws_within_budget": next((med[k] <= AWS_BUDGET_MS for k in (AWS_PACKAGED, AWS_DETECT) if k in med), None),
    })


if __name__ == "__main__":
    main()
