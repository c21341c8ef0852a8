"""Cold start: wall time of a fresh interpreter importing the detect handler vs importing numpy.

Median of N runs each, interleaved so both see the same machine state. Also
records which heavy modules the detect import pulls in (none of pandas,
sklearn, joblib, boto3 may appear).

`import pydantic` alone is lazy (PEP 562) and says little; the floor any pydantic
model sets is `from pydantic import BaseModel`, so that is measured too. The AWS
detect entry point (Powertools, X-Ray, settings) is timed for the record, not
against the budget: it is what a Lambda cold start really pays at init.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402

PYDANTIC_FLOOR = "numpy+pydantic.BaseModel"
AWS_DETECT = "aws functions/detect.py (Powertools, X-Ray, settings)"
FUNCTIONS_AWS = Path(__file__).resolve().parents[1] / "functions" / "aws"

TARGETS = {
    "numpy": "import numpy",
    "pydantic": "import pydantic",
    "numpy+pydantic": "import numpy, pydantic",
    PYDANTIC_FLOOR: "import numpy; from pydantic import BaseModel",
    "skyloop.handlers.detect": "import skyloop.handlers.detect",
    "skyloop.handlers.remediate": "import skyloop.handlers.remediate",
}


def once(code: str, cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd)
    return time.perf_counter() - t0


def _targets() -> dict[str, tuple[str, Path | None]]:
    out: dict[str, tuple[str, Path | None]] = {k: (c, None) for k, c in TARGETS.items()}
    if importlib.util.find_spec("aws_lambda_powertools"):  # the [aws] extra; not imported here
        out[AWS_DETECT] = ("import detect", FUNCTIONS_AWS)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=21)
    args = p.parse_args(argv)
    targets = _targets()
    for code, cwd in targets.values():  # warm the page cache and .pyc files
        once(code, cwd)
    times: dict[str, list[float]] = {k: [] for k in targets}
    for _ in range(args.runs):
        for name, (code, cwd) in targets.items():
            times[name].append(once(code, cwd))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, json, skyloop.handlers.detect; "
         "print(json.dumps([m for m in ('pandas','sklearn','joblib','boto3','google','azure') if m in sys.modules]))"],
        capture_output=True, text=True, check=True).stdout
    ratio = med["skyloop.handlers.detect"] / med["numpy"]
    write("coldstart", {
        "runs": args.runs, "median_ms": {k: round(v, 1) for k, v in med.items()},
        "detect_vs_numpy": round(ratio, 2), "budget": 1.5, "within_budget": ratio <= 1.5,
        "heavy_modules_imported_by_detect": json.loads(heavy),
    })


if __name__ == "__main__":
    main()
