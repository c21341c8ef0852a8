"""Rows above the in-function size rule, scored by an Azure ML parallel job on the compute cluster.

The job is a one-step pipeline: a parallel step whose input is an MLTable over the uploaded CSV
(written beside the job's outputs; Azure ML splits the file into mini-batches of
``batch_mini_batch_size``, each a pandas DataFrame with the header's column names), its model the
registered version (``azureml:<group>:<version>``), and its entry script Skyloop's serving core with
a parallel-run contract appended (``init`` loads ``model.joblib`` only if it hashes to the registry's
sha256; ``run`` answers every row, a bad one refused with its reason). What ``run`` returns is
appended to one ``predictions.csv`` under ``predictions/<group>/jobs/<key>/``: each row's values,
its prediction and its refusal, no header (the manifest names the columns).

Azure ML reports the pipeline run's end on the workspace's Event Grid topic
(``Microsoft.MachineLearningServices.RunStatusChanged``, the job's ``skyloop-batch`` tag in
``runTags``): that event is the completion, as SageMaker's state change is on AWS. Nothing polls.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterator

from ...ports.batch import HEAD_BYTES, BatchJob, BatchOutcome, csv_answers
from .blob import AzureBlobStore
from .config import AzureSettings
from .ml import _client, _not_found, datastore_path

TAG = "skyloop-batch"
PREFIX = "skyloop-batch-"
OUTPUT = "predictions.csv"
ENTRY = "batch_score.py"
STATES = {"Completed": "succeeded", "Failed": "failed", "Canceled": "failed", "NotResponding": "failed"}

# Azure ML's parallel-run contract, appended to the serving core (ports/inference.py)
PARALLEL_CONTRACT = b"""

# ---- Azure ML parallel job contract (appended by skyloop.clouds.azure.batch) ----
import argparse  # noqa: E402
import csv as _csv  # noqa: E402
import os  # noqa: E402

_BUNDLE = None


def init():
    global _BUNDLE
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=os.environ.get("AZUREML_MODEL_DIR", "."))
    args, _ = parser.parse_known_args()
    folders = [d for d, _, files in os.walk(args.model) if MODEL_FILE in files]
    if len(folders) != 1:
        raise RuntimeError(f"expected one {MODEL_FILE} under {args.model}, found {len(folders)}")
    with open(os.path.join(folders[0], MODEL_FILE), "rb") as fh:
        _BUNDLE = load_verified(fh.read(), os.environ.get("SKYLOOP_ARTIFACT_SHA256", ""))


def run(mini_batch):
    frame = mini_batch.astype(object).where(mini_batch.notna(), None)
    records = frame.to_dict("records")
    answers = score_batch(_BUNDLE, [BatchRow(r) for r in records])
    out = []
    for record, (kind, value) in zip(records, answers):
        buf = io.StringIO()
        tail = [value, ""] if kind == "ok" else ["", value]
        _csv.writer(buf, lineterminator="").writerow([*("" if v is None else v for v in record.values()), *tail])
        out.append(buf.getvalue())
    return out
"""


def batch_script() -> bytes:
    from ...ports.serving import PROGRAM, serving_files

    return serving_files(b"")[PROGRAM] + PARALLEL_CONTRACT


def mltable(source: str, compressed: bool) -> bytes:
    """The MLTable over one CSV: read as delimited text, the header's names as columns."""
    encoding = "\n      compression: gzip" if compressed else ""
    return (f"type: mltable\npaths:\n  - file: {source}\ntransformations:\n  - read_delimited:\n"
            f"      delimiter: ','\n      header: all_files_same_headers\n      encoding: utf8\n"
            f"      empty_as_string: false{encoding}\n").encode()


class AzureMLBatchScorer:
    name = "azureml"

    def __init__(self, azure: AzureSettings, store: AzureBlobStore, client: Any = None) -> None:
        self.azure, self.store = azure, store
        self.client = client or _client(azure)

    def head(self, uri: str) -> bytes:
        data: bytes = self._blob(uri).download_blob(offset=0, length=HEAD_BYTES).readall()
        return data

    def submit(self, job: BatchJob) -> str:
        from azure.ai.ml import Input, Output
        from azure.ai.ml.entities import PipelineJob, UserIdentityConfiguration
        from azure.ai.ml.parallel import RunFunction, parallel_run_function

        name = PREFIX + job.key
        try:
            self.client.jobs.get(name)
            return name  # the same key again: the job exists
        except Exception as exc:
            if not _not_found(exc):
                raise
        folder = job.output_folder.rstrip("/")
        self.store.put(f"{folder}/input/MLTable", mltable(datastore_path(self.azure, self.store, job.input_uri), job.compressed))
        code = Path(tempfile.mkdtemp(prefix="skyloop-batch-"))
        (code / ENTRY).write_bytes(batch_script())
        ds = f"azureml://datastores/{self.azure.datastore}/paths"
        step = parallel_run_function(
            name="score", display_name=f"skyloop score {job.version.group} v{job.version.version}",
            inputs={"data": Input(type="mltable", path=f"{ds}/{folder}/input/", mode="direct"),
                    "model": Input(type="custom_model", path=f"azureml:{job.version.group}:{job.version.version}")},
            outputs={"scored": Output(type="uri_file", path=f"{ds}/{folder}/{OUTPUT}")},
            input_data="${{inputs.data}}", instance_count=self.azure.batch_instances, max_concurrency_per_instance=2,
            mini_batch_size=self.azure.batch_mini_batch_size, mini_batch_error_threshold=-1, error_threshold=-1,
            environment_variables={"SKYLOOP_ARTIFACT_SHA256": job.version.artifact_sha256},
            task=RunFunction(code=str(code), entry_script=ENTRY, program_arguments="--model ${{inputs.model}}",
                             environment=self.azure.serving_environment, append_row_to="${{outputs.scored}}"),
            identity=UserIdentityConfiguration())  # reads and writes as the functions' identity, as training does
        pipeline = PipelineJob(name=name, display_name=f"skyloop batch {job.version.group}", jobs={"score": step},
                               compute=self.azure.training_compute, tags={TAG: job.key, "skyloop-managed": "true"})
        self.client.jobs.create_or_update(pipeline)
        return name

    def _blob(self, uri: str) -> Any:
        return self.store.service.get_blob_client(*self.store.locate(uri))

    def outcome(self, job_id: str) -> BatchOutcome:
        """The pipeline job's state, and its step's output as a blob URL (the datastore's path mapped
        back to the datasets container)."""
        job = self.client.jobs.get(job_id)
        path = str(job.jobs["score"].outputs["scored"].path)
        prefix = f"azureml://datastores/{self.azure.datastore}/paths/"
        out = self._blob(path[len(prefix):]).url if path.startswith(prefix) else path
        return BatchOutcome(state=STATES.get(str(job.status), "running"), outputs=[str(out)])

    def answers(self, outcome: BatchOutcome) -> Iterator[tuple[int | None, str | None]]:
        for uri in outcome.outputs:
            for _, why in csv_answers(_lines(self._blob(uri).download_blob().chunks())):
                yield None, why  # rows come back in mini-batch order, not the file's: no line numbers


def _lines(chunks: Any) -> Iterator[bytes]:
    """Lines of a downloaded blob, chunk by chunk: memory stays flat. A first empty line stands in
    for the header csv_answers skips (the appended output has none)."""
    yield b""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *lines, rest = rest.split(b"\n")
        yield from lines
    if rest:
        yield rest
