"""Wall time of ``skyloop demo`` (the console script, fresh state), median of 3 runs."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    exe = shutil.which("skyloop") or f"{sys.executable} -m skyloop.app.cli"
    times = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as home:
            t0 = time.perf_counter()
            subprocess.run([*exe.split(), "demo", "--json", "--home", home], check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    write("demo", {"runs": args.runs, "median_s": round(med, 1), "all_s": [round(t, 1) for t in times],
                   "budget_s": 60, "within_budget": med < 60})


if __name__ == "__main__":
    main()
