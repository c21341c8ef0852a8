"""Batch scoring: rows a second and peak memory for the two local paths (issue 34).

- ``predict_csv`` (``skyloop predict``): a file streamed in chunks, predictions streamed out, memory
  flat whatever the file's size: run on 1M and 5M rows x 20 columns.
- ``score_bytes`` (the in-function path, ``handlers/score.py``): the object's bytes in memory, the
  predictions built in memory: run on 1M rows (about 100 MiB of CSV, under the 256 MiB in-function rule).
- the serving container's batch mode (what each SageMaker Batch Transform or Vertex AI batch worker
  runs, ``ports/inference.py``): 1M rows in 6 MB ``text/csv`` mini-batches through ``parse_request``,
  ``predict`` and ``render``, in-process: one worker's rows a second, without HTTP or the platform's I/O.
- the manifest's count (``ports/batch.tally`` over ``csv_answers``): a 5M-line joined output streamed
  from a file, as the train function streams a job's output from the bucket.

The model is the default family trained on 100k rows of the same shape. Each run is a fresh
subprocess so its peak RSS is its own (VmHWM, as bench/training.py measures it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402
from bench.training import _peak_mib, make_csv  # noqa: E402


def child(path: str, home: str, n: int) -> None:
    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime

    rt = LocalRuntime(Settings(home=home))
    src = Path(home) / f"rows-{n}.csv"  # written by the parent: making it is not the run's memory
    t0 = time.perf_counter()
    if path == "streamed":
        from skyloop.serving.batch import predict_csv

        res = predict_csv(src, Path(home) / f"out-{n}.csv", group="bench", registry=rt.registry,
                          store=rt.adapters.store)
        rows = res.rows
    elif path == "container":
        from skyloop.ports import inference
        from skyloop.ports.artifacts import load_verified

        mv = rt.registry.alias("bench", "production")
        assert mv is not None
        bundle = load_verified(rt.adapters.store, mv.artifact_uri, mv.artifact_sha256)
        rows = 0
        with src.open("rb") as fh:
            columns = fh.readline().decode().strip().split(",")
            t0 = time.perf_counter()  # the model's load is the container's start, not its throughput
            while True:
                batch = fh.read(6 * 2**20)
                if not batch:
                    break
                batch += fh.readline()  # SplitType=Line: whole records only
                answers = inference.render(inference.predict(bundle, inference.parse_request(batch, "text/csv", columns)),
                                           "text/csv")
                rows += answers.count("\n")
    elif path == "tally":
        from skyloop.ports.batch import csv_answers, tally

        joined = Path(home) / f"joined-{n}.csv"
        with src.open("rb") as fin, joined.open("wb") as fout:  # written before the clock starts
            for i, line in enumerate(fin):
                fout.write(line.rstrip(b"\n") + (b",prediction,refused\n" if i == 0 else b",1,\n"))
        t0 = time.perf_counter()
        with joined.open("rb") as fh:
            rows = tally(csv_answers(iter(fh)), 1000)["rows_in"]
    else:
        from skyloop.ports.artifacts import load_verified
        from skyloop.serving.batch import score_bytes

        mv = rt.registry.alias("bench", "production")
        assert mv is not None
        scored = score_bytes(src.read_bytes(), load_verified(rt.adapters.store, mv.artifact_uri, mv.artifact_sha256))
        rows = scored.rows_out
    seconds = time.perf_counter() - t0
    print(json.dumps({"path": path, "rows": rows, "csv_mib": round(src.stat().st_size / 2**20, 1),
                      "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds), "peak_rss_mib": round(_peak_mib())}))


def _model(home: str) -> None:
    from skyloop.config import Settings
    from skyloop.local.runtime import LocalRuntime
    from skyloop.ports.registry import Status
    from skyloop.training.usecase import train_and_register

    rt = LocalRuntime(Settings(home=home))
    a = rt.adapters
    out = train_and_register(make_csv(100_000), source_uri="bench-batch.csv", settings=rt.settings, store=a.store,
                             registry=a.registry, events=a.events, target="label", group="bench")
    v = out.model.version
    if a.registry.get("bench", v).status is not Status.APPROVED:
        a.registry.set_status("bench", v, Status.APPROVED, actor="bench")
    a.registry.set_alias("bench", "production", v)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child", nargs=3)
    p.add_argument("--sizes", default="1000000,5000000")
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    runs = []
    with tempfile.TemporaryDirectory() as home:
        _model(home)
        sizes = {int(s) for s in args.sizes.split(",")} | {1_000_000}
        for n in sorted(sizes):  # one at a time, in a process of its own (5M rows is 820 MiB of CSV)
            subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from bench.training import make_csv; "
                            "Path(sys.argv[1]).write_bytes(make_csv(int(sys.argv[2]), seed=1))", f"{home}/rows-{n}.csv", str(n)],
                           check=True, cwd=Path(__file__).resolve().parents[1])
        plan = [("streamed", int(s)) for s in args.sizes.split(",")] + [("in-function", 1_000_000), ("container", 1_000_000)]
        plan += [("tally", max(int(s) for s in args.sizes.split(",")))]
        for path, n in plan:
            res = subprocess.run([sys.executable, "-m", "bench.batch", "--child", path, home, str(n)],
                                 capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(runs[-1])
    write("batch", {"runs": runs, "model": "the default family on 100k rows x 20 columns"})


if __name__ == "__main__":
    main()
