"""mypy over the core, the adapters and the Lambda and Cloud Functions entry points (configured in pyproject.toml).

It runs inside the suite so CI's one test command covers it: an adapter that drifts from
its port, or a core function called with the wrong type, fails here."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_is_clean() -> None:
    pytest.importorskip("mypy", reason="mypy comes with the [dev] extra")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
