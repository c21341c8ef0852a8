"""Entry point of a managed training job (SageMaker script mode, and any runner with the
same conventions): the dataset is a file in the ``train`` channel, the model goes to the
model directory, which the platform packs into ``model.tar.gz``.

    SM_CHANNEL_TRAIN=/data SM_MODEL_DIR=/out SM_HPS='{"target": "churned"}' python -m skyloop.training.entry

It runs the same ``fit`` as the in-function path, without the size rule (that is why
the job exists), and writes ``model.joblib`` plus ``skyloop.json`` (metrics, params,
lineage), which the train function registers when the job completes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MODEL_FILE, CARD_FILE = "model.joblib", "skyloop.json"


def main() -> None:
    from ..config import Settings
    from .usecase import fit

    hps = json.loads(os.environ.get("SM_HPS") or "{}")
    train_dir = Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    csvs = sorted(p for p in train_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if len(csvs) != 1:
        raise SystemExit(f"expected one CSV in {train_dir}, found {len(csvs)}")
    params = hps.get("params") or {}
    fitted = fit(csvs[0].read_bytes(), source_uri=str(hps.get("source_uri") or csvs[0]), settings=Settings(),
                 target=hps.get("target") or None, params=json.loads(params) if isinstance(params, str) else params,
                 enforce_size_rule=False)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MODEL_FILE).write_bytes(fitted.model_bytes)
    (model_dir / CARD_FILE).write_text(json.dumps(fitted.card(), default=str))
    print(json.dumps({"metrics": fitted.metrics, "rows": fitted.lineage["rows"]}))


if __name__ == "__main__":
    main()
