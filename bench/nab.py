"""Run a Skyloop detector over a checkout of the Numenta Anomaly Benchmark, as the team's outside
measurement runs it (issue 36), and leave the judging to NAB's own scorer.

Every data file gets a fresh detector, fed record by record through ``score_one`` from a cold
start. Nothing looks ahead: NAB hands each detector the file's minimum, maximum and length, and
Skyloop's detectors never read them. The results go where NAB's scorer looks for a detector's
output, ``results/<name>/<category>/<name>_<file>.csv``, with NAB's columns (timestamp, value,
anomaly_score, label). So the official numbers are one command away:

    python -m bench.nab ~/NAB                                        # results/skyloop/...
    python -m bench.nab ~/NAB --name skyloop_bold --params '{"shift_bold_from": 4}'
    cd ~/NAB && python run.py -d skyloop --optimize --score --normalize   # NAB's scorer

It also prints this project's reading of the standard profile (``bench/realdata.py``'s scorer),
with one threshold for the whole corpus as NAB's optimiser picks it:
- over the corpus;
- on the tuning series (the 17 in ``realAWSCloudwatch/``, the copy beside the repository);
- on the rest, held out.

The summary also goes to ``results/<name>/skyloop_summary.json``. The NAB data stays where it
is: nothing here copies it into the project, and nothing tunes on it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench import realdata  # noqa: E402
from bench.realdata import RealSeries  # noqa: E402

TUNING = "realAWSCloudwatch"  # the category the project tunes on (../shared/data/cloud-metrics)


def corpus(nab: Path) -> list[tuple[str, RealSeries]]:
    """Every data file NAB labels (``labels/combined_windows.json``: relative path -> windows)."""
    labels = json.loads((nab / "labels" / "combined_windows.json").read_text())
    return [(rel, realdata.read_series(nab / "data" / rel, labels[rel])) for rel in sorted(labels)]


def _score_file(job: tuple[RealSeries, str, dict[str, Any]]) -> np.ndarray:
    from skyloop.detection import make_detector

    series, detector, params = job
    return realdata.run_streaming(lambda: make_detector(detector, **params), series)


def write_results(nab: Path, name: str, rel: str, series: RealSeries, scores: np.ndarray) -> Path:
    """NAB's results layout and columns; the value and timestamp as the data file has them."""
    category, file = rel.rsplit("/", 1) if "/" in rel else ("", rel)
    out = nab / "results" / name / category / f"{name}_{file}"
    out.parent.mkdir(parents=True, exist_ok=True)
    inside = np.zeros(len(scores), dtype=int)
    for a, b in series.windows:
        inside[a:b + 1] = 1
    with (nab / "data" / rel).open() as src, out.open("w", newline="") as dst:
        rows = csv.DictReader(src)
        w = csv.writer(dst)
        w.writerow(["timestamp", "value", "anomaly_score", "label"])
        for row, score, label in zip(rows, scores, inside):
            w.writerow([row["timestamp"], row["value"], f"{float(score):.6f}", int(label)])
    return out


def summarise(rels: Sequence[str], data: Sequence[RealSeries], scores: Sequence[np.ndarray]) -> dict[str, Any]:
    """The standard profile at the corpus's best threshold (and at MEDIUM): the corpus, the
    tuning category, and the rest."""
    best, threshold, counts = realdata.best_threshold(scores, data)
    parts: dict[str, Any] = {"corpus": {"files": len(data), "score": round(best, 1), "counts": counts}}
    for part, tuning in (("tuning", True), ("held_out", False)):
        chosen = [i for i, r in enumerate(rels) if r.startswith(TUNING + "/") == tuning]
        if not chosen:
            continue
        sub_scores, sub_data = [scores[i] for i in chosen], [data[i] for i in chosen]
        at_thr, sub_counts = realdata.set_score(sub_scores, sub_data, threshold)
        at_medium, _ = realdata.set_score(sub_scores, sub_data, realdata.MEDIUM)
        parts[part] = {"files": len(chosen), "score": round(at_thr, 1), "counts": sub_counts,
                       "score_at_medium": round(at_medium, 1)}
    return {"threshold": round(threshold, 4), **parts}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="python -m bench.nab", description=__doc__.split("\n\n")[0])
    ap.add_argument("nab", type=Path, help="a checkout of github.com/numenta/NAB (data/ and labels/)")
    ap.add_argument("--name", default="skyloop", help="the detector's name in NAB's results/")
    ap.add_argument("--detector", default="default", help="a skyloop.detection name")
    ap.add_argument("--params", default="{}", help="JSON: the detector's parameters")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="files scored at once")
    args = ap.parse_args(argv)
    if not (args.nab / "labels" / "combined_windows.json").is_file():
        ap.error(f"{args.nab} is not a NAB checkout: no labels/combined_windows.json there")
    try:
        params = json.loads(args.params)
    except ValueError as exc:
        ap.error(f"--params is not JSON: {exc}")
    if not isinstance(params, dict):
        ap.error("--params must be a JSON object of the detector's parameters")
    from skyloop.detection import make_detector
    from skyloop.errors import SkyloopError

    try:  # a detector or parameter it does not take fails here, once, not in every file's worker
        make_detector(args.detector, **params)
    except (SkyloopError, TypeError, ValueError) as exc:
        ap.error(f"--detector {args.detector} --params {args.params}: {exc}")
    files = corpus(args.nab)
    jobs = [(s, args.detector, params) for _, s in files]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            scores = list(pool.map(_score_file, jobs))
    else:
        scores = [_score_file(j) for j in jobs]
    for (rel, s), sc in zip(files, scores):
        write_results(args.nab, args.name, rel, s, sc)
    summary = {"detector": args.detector, "params": params,
               **summarise([r for r, _ in files], [s for _, s in files], scores)}
    (args.nab / "results" / args.name / "skyloop_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
