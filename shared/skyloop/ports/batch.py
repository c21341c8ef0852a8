"""Where batch scoring reads and writes in a store: the one naming every storage trigger and every
runtime keeps. Rows to score land under ``batch/<group>/``; what scoring writes goes under
``predictions/<group>/`` (the predictions and a manifest beside them), which no trigger trains on."""

from __future__ import annotations

from pathlib import PurePosixPath

BATCH_PREFIX = "batch/"
PREDICTIONS_PREFIX = "predictions/"
FAILED = "batch-failed:"  # key-value store: the batches that could not be scored, for the watch to tell


def outputs(uri: str, group: str) -> tuple[str, str]:
    """(predictions key, manifest key) for an input: ``predictions/<group>/<stem>.csv`` and
    ``predictions/<group>/<stem>.manifest.json``, the stem without ``.csv`` or ``.csv.gz``."""
    name = PurePosixPath(uri.split("?", 1)[0]).name
    stem = name[: -len(".csv.gz")] if name.lower().endswith(".csv.gz") else name.rsplit(".", 1)[0]
    return f"{PREDICTIONS_PREFIX}{group}/{stem}.csv", f"{PREDICTIONS_PREFIX}{group}/{stem}.manifest.json"


__all__ = ["BATCH_PREFIX", "FAILED", "PREDICTIONS_PREFIX", "outputs"]
