"""Training time, peak memory and CV accuracy per model family at 10k / 100k / 1M rows x 20
columns (5-fold CV + the final fit, all cores), through Skyloop's own train use-case (CSV bytes
in, registered version out: load, validate, train, register).

Each (family, size) runs in a fresh subprocess so its peak RSS is its own. The forest is run up to
``--forest-max`` rows (its 1M-row run takes 40 minutes; the recorded one is kept). The numbers
set the default family and the in-function size rule (README: "Size rule").
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402


def make_csv(n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 20)).astype(np.float32)
    logit = X[:, :5] @ np.array([1.0, -0.8, 0.6, 0.4, -0.3]) + 0.5 * X[:, 5] * X[:, 6]
    y = (logit + rng.normal(0, 1.0, n) > 0).astype(int)
    buf = io.StringIO()
    buf.write(",".join(f"f{i}" for i in range(20)) + ",label\n")
    np.savetxt(buf, np.column_stack([X, y]), fmt=["%.5f"] * 20 + ["%d"], delimiter=",")
    return buf.getvalue().encode()


def _peak_mib() -> float:
    """This process's own peak RSS. Linux's ru_maxrss keeps the high-water mark of the process
    that forked the child (``python -m bench`` had reached 494 MiB by then, and every small run
    reported it); VmHWM belongs to the new address space made by exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n: int, home: str, family: str) -> None:
    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime
    from skyloop.training.usecase import train_and_register

    data = make_csv(n)
    rt = LocalRuntime(Settings(home=home, training={"max_inline_bytes": 10**10, "max_inline_rows": 10**8,
                                                          "max_inline_cells": 10**10}))
    a = rt.adapters
    t0 = time.perf_counter()
    if n > 2_000_000:  # above the in-function rule: what the managed job runs (the same code, no size rule)
        from skyloop.training.usecase import fit

        fitted = fit(data, source_uri=f"bench-{n}.csv", settings=rt.settings, target="label",
                     params={"model": family}, enforce_size_rule=False)
        metrics, path = fitted.metrics, "managed job"
    else:
        out = train_and_register(data, source_uri=f"bench-{n}.csv", settings=rt.settings, store=a.store,
                                 registry=a.registry, events=a.events, target="label", params={"model": family})
        metrics, path = out.model.metrics, "in-function"
    seconds = time.perf_counter() - t0
    peak_mib = _peak_mib()
    print(json.dumps({"family": family, "rows": n, "csv_mib": round(len(data) / 2**20, 1), "seconds": round(seconds, 1),
                      "peak_rss_mib": round(peak_mib), "cv_accuracy": round(metrics["cv_accuracy_mean"], 4), "path": path}))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--families", default="hist_gradient_boosting,random_forest")
    p.add_argument("--forest-max", type=int, default=100_000)
    p.add_argument("--child", type=int)
    p.add_argument("--family", default="hist_gradient_boosting")
    p.add_argument("--home")
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.home, args.family)
    from bench.common import load

    previous = {(r.get("family", "random_forest"), r["rows"]): r for r in (load("training") or {}).get("runs", [])}
    results = []
    for n in map(int, args.sizes.split(",")):
        for family in args.families.split(","):
            if family == "random_forest" and n > args.forest_max:
                if (family, n) in previous:  # too slow to rerun each time: the recorded run, marked as such
                    results.append({**previous[(family, n)], "family": family, "recorded_earlier": True})
                continue
            with tempfile.TemporaryDirectory() as home:
                res = subprocess.run([sys.executable, "-m", "bench.training", "--child", str(n), "--family", family,
                                      "--home", home], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
                if res.returncode != 0:
                    results.append({"family": family, "rows": n, "error": res.stderr.strip().splitlines()[-1:]})
                    continue
                results.append(json.loads(res.stdout.strip().splitlines()[-1]))
                print(results[-1], flush=True)
    ran = {(r.get("family"), r["rows"]) for r in results}
    kept = [r for k, r in previous.items() if k not in ran]  # sizes not rerun this time keep their record
    results = sorted(results + kept, key=lambda r: (r["rows"], r.get("family", "")))
    write("training", {"columns": 20, "folds": 5, "model": "per run: hist_gradient_boosting (scikit-learn defaults, "
                       "early stopping above 10k rows) or random_forest (100 trees), all cores",
                       "budget": "1M rows x 20 within 5 min and 2 GiB with the default family", "runs": results})


if __name__ == "__main__":
    main()
