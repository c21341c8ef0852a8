"""Where batch scoring reads and writes in a store: the one naming every storage trigger and every
runtime keeps. Rows to score land under ``batch/<group>/``; what scoring writes goes under
``predictions/<group>/`` (the predictions and a manifest beside them), which no trigger trains on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..versions import ModelVersion

BATCH_PREFIX = "batch/"
PREDICTIONS_PREFIX = "predictions/"
FAILED = "batch-failed:"  # key-value store: the batches that could not be scored, for the watch to tell
JOB = "batch-job:"  # key-value store: a cloud batch job's record, written before it starts (handlers/score.py)
JOBS = "jobs"  # predictions/<group>/jobs/<key>/: where a cloud batch job writes
HEAD_BYTES = 64 * 1024  # what is read of an input above the size rule: its header line


def outputs(uri: str, group: str) -> tuple[str, str]:
    """(predictions key, manifest key) for an input: ``predictions/<group>/<stem>.csv`` and
    ``predictions/<group>/<stem>.manifest.json``, the stem without ``.csv`` or ``.csv.gz``."""
    name = PurePosixPath(uri.split("?", 1)[0]).name
    stem = name[: -len(".csv.gz")] if name.lower().endswith(".csv.gz") else name.rsplit(".", 1)[0]
    return f"{PREDICTIONS_PREFIX}{group}/{stem}.csv", f"{PREDICTIONS_PREFIX}{group}/{stem}.manifest.json"


def job_key(uri: str, version: str | None, group: str, model_version: int) -> str:
    """One job per input object version and model version: a redelivered upload starts none."""
    return hashlib.sha256(f"{uri}\0{version}\0{group}\0{model_version}".encode()).hexdigest()[:40]


def job_folder(group: str, key: str) -> str:
    return f"{PREDICTIONS_PREFIX}{group}/{JOBS}/{key}/"


def key_of_output(name: str) -> str | None:
    """The job key of an object a batch job wrote (``predictions/<group>/jobs/<key>/...``), else None."""
    parts = name.split("/")
    if len(parts) >= 5 and parts[0] + "/" == PREDICTIONS_PREFIX and parts[2] == JOBS and len(parts[3]) == 40:
        return parts[3]
    return None


def header(head: bytes, compressed: bool = False) -> list[str]:
    """The column names on an input's first line, from its first bytes (inflated if gzip)."""
    import csv
    import zlib

    from ..errors import InvalidRequest

    if compressed:
        head = zlib.decompressobj(wbits=31).decompress(head)
    first = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig", errors="replace")
    if b"\n" not in head and len(head) >= HEAD_BYTES:
        raise InvalidRequest(f"the file's first line is longer than {HEAD_BYTES:,} bytes: no header to read")
    [columns] = list(csv.reader([first])) or [[]]
    if not columns or any(not c.strip() for c in columns):
        raise InvalidRequest("the file's first line is no header of column names")
    return columns


@dataclass(frozen=True)
class BatchJob:
    """What a cloud batch service is asked to score, and where the answers go."""

    key: str
    input_uri: str
    columns: list[str]  # the input's header: the serving container maps each record by it
    version: "ModelVersion"
    output_folder: str  # job_folder(group, key), in the store the input is in
    compressed: bool = False  # .csv.gz


@dataclass(frozen=True)
class BatchOutcome:
    """A batch job as its service reports it. ``rows``: what the service counted, if it does."""

    state: str  # "running", "succeeded" or "failed"
    reason: str = ""
    outputs: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class BatchScorer(Protocol):
    """A cloud's batch-scoring service, on the serving image built for the trained version.

    ``submit`` starts the job (the same key again starts none) and returns the service's name for
    it; ``outcome`` asks once, never waits; ``answers`` streams, record by record, the refusal reason
    (None for a record scored) and its line in the input where the output keeps it."""

    name: str

    def head(self, uri: str) -> bytes: ...

    def submit(self, job: BatchJob) -> str: ...

    def outcome(self, job_id: str) -> BatchOutcome: ...

    def answers(self, outcome: BatchOutcome) -> Iterable[tuple[int | None, str | None]]: ...


def tally(answers: Iterable[tuple[int | None, str | None]], max_listed: int) -> dict[str, Any]:
    """Rows out, rows refused and the first refusals, streamed: memory stays flat at any size."""
    out = refused = 0
    listed: list[dict[str, Any]] = []
    for line, why in answers:
        if why is None:
            out += 1
            continue
        refused += 1
        if len(listed) < max_listed:
            listed.append({"line": line, "reason": why} if line is not None else {"reason": why})
    return {"rows_in": out + refused, "rows_out": out, "refused": refused, "refused_rows": listed}


def csv_answers(lines: Iterator[bytes]) -> Iterator[tuple[int | None, str | None]]:
    """A joined CSV output (each input record with ``prediction,refused`` appended, the header
    first, in the input's order): the last field of each line is the refusal, its line the input's."""
    import csv

    for n, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if n == 1 or not line.strip():
            continue  # the header, answered with the output's header
        [fields] = list(csv.reader([line])) or [[""]]
        yield n, (fields[-1] or None) if fields else None


__all__ = ["BATCH_PREFIX", "FAILED", "HEAD_BYTES", "JOB", "JOBS", "PREDICTIONS_PREFIX", "BatchJob", "BatchOutcome",
           "BatchScorer", "csv_answers", "header", "job_folder", "job_key", "key_of_output", "outputs", "tally"]
