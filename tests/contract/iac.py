"""checkov, as the infrastructure tests run it: offline, only the venv's tools on PATH."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def checkov(*args: str) -> dict[str, Any]:
    """checkov's JSON report for ``args`` (the target and framework)."""
    tool = shutil.which("checkov") or str(Path(sys.executable).parent / "checkov")
    res = subprocess.run([tool, *args, "--quiet", "--compact", "--skip-download", "--output", "json"],
                         capture_output=True, text=True,
                         env={"PATH": str(Path(sys.executable).parent), "HOME": str(Path.home()),
                              "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    report: dict[str, Any] = json.loads(res.stdout[res.stdout.index("{"):])
    return report


def failed(report: dict[str, Any]) -> list[str]:
    return [c["check_id"] + " " + c["resource"] for c in report["results"]["failed_checks"]]
