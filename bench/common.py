"""Shared by the benchmarks: machine facts and result files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    import numpy

    info: dict[str, Any] = {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "python": sys.version.split()[0],
        "numpy": numpy.__version__, "platform": platform.platform(),
    }
    try:
        import sklearn

        info["scikit_learn"] = sklearn.__version__
    except ImportError:
        pass
    try:
        info["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        pass
    return info


def write(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(), **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "machine"}, indent=2))
    return path


def load(name: str) -> dict[str, Any] | None:
    """A recorded result (bench/results/<name>.json), or None."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
