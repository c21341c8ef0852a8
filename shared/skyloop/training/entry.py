"""Entry point of a managed training job, cloud-neutral: the dataset is one CSV in a training
directory, the model goes to a model directory that the platform packs and stores.

    SKYLOOP_TRAIN_DIR=/data SKYLOOP_MODEL_DIR=/out SKYLOOP_JOB_PARAMS='{"target": "churned"}' \\
        python -m skyloop.training.entry

Each cloud's job runner maps its own conventions onto ``run`` in a few lines that live with
that cloud's adapter (SageMaker's script-mode variables: ``clouds/aws/sagemaker.py``), so the
core never names them. ``run`` is the same ``fit`` as the in-function path, without the size
rule (that is why the job exists), and writes ``model.joblib`` plus ``skyloop.json`` (metrics,
params, lineage), which the train function registers when the job completes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..ports.artifacts import CARD_FILE, MODEL_FILE


def run(train_dir: Path, model_dir: Path, job: Mapping[str, Any]) -> dict[str, Any]:
    """Train on the one CSV under ``train_dir``; ``job`` holds target, source_uri and params."""
    from ..config import Settings
    from .usecase import fit

    csvs = sorted(p for p in train_dir.rglob("*") if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz")))
    if len(csvs) != 1:
        raise SystemExit(f"expected one CSV in {train_dir}, found {len(csvs)}")
    params = job.get("params") or {}
    fitted = fit(csvs[0].read_bytes(), source_uri=str(job.get("source_uri") or csvs[0]), settings=Settings(),
                 target=job.get("target") or None, params=json.loads(params) if isinstance(params, str) else params,
                 enforce_size_rule=False)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MODEL_FILE).write_bytes(fitted.model_bytes)
    (model_dir / CARD_FILE).write_text(json.dumps(fitted.card(), default=str))
    summary = {"metrics": fitted.metrics, "rows": fitted.lineage["rows"]}
    print(json.dumps(summary))
    return summary


def main() -> None:
    run(Path(os.environ["SKYLOOP_TRAIN_DIR"]), Path(os.environ["SKYLOOP_MODEL_DIR"]),
        json.loads(os.environ.get("SKYLOOP_JOB_PARAMS") or "{}"))


if __name__ == "__main__":
    main()
