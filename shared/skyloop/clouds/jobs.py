"""A managed training job's program and where its result lands, the same on every cloud whose
job platform mounts storage as files (Vertex AI's ``/gcs``, Azure ML's mounted inputs and
outputs): one program, one layout, one decoding rule.

The job unpacks this very ``skyloop`` package from a tarball, trains on the one dataset file with
the neutral entry (``training/entry.py``), and writes ``model.tar.gz`` last, or ``failed.json``
with the reason, under ``training-jobs/<group>/<job key>/`` in the training store. That object's
creation event is the job's completion, decoded here for every cloud and registered by the train
function, as SageMaker's completion event is on AWS.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

JOB_PREFIX = "training-jobs"
RESULT, FAILED = "model.tar.gz", "failed.json"

# argv: code tarball, job spec JSON, dataset file, result folder.
JOB_SCRIPT = """
import io, json, os, pathlib, shutil, sys, tarfile, tempfile, traceback
code, spec, dataset, out = sys.argv[1], json.loads(sys.argv[2]), pathlib.Path(sys.argv[3]), pathlib.Path(sys.argv[4])
work = pathlib.Path(tempfile.mkdtemp(prefix="skyloop-job-"))
out.mkdir(parents=True, exist_ok=True)
try:
    with tarfile.open(code) as tar:
        tar.extractall(work / "src", filter="data")
    sys.path.insert(0, str(work / "src"))
    from skyloop.training.entry import run
    if dataset.is_dir():  # a mounted folder input: the one CSV in it
        [dataset] = [p for p in dataset.rglob("*") if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz"))]
    (work / "train").mkdir()
    shutil.copyfile(dataset, work / "train" / dataset.name)
    run(work / "train", work / "model", spec)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for f in sorted((work / "model").iterdir()):
            tar.add(f, arcname=f.name)
    (out / "model.tar.gz.tmp").write_bytes(raw.getvalue())
    os.replace(out / "model.tar.gz.tmp", out / "model.tar.gz")
except BaseException as exc:
    traceback.print_exc()
    (out / "failed.json").write_text(json.dumps({"reason": f"{type(exc).__name__}: {exc}"[:2000]}))
    raise SystemExit(1)
"""


def job_spec(dataset_uri: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the job's program trains with (``training/entry.run``'s job argument)."""
    return {"target": spec.get("target") or None, "source_uri": dataset_uri, "params": dict(spec.get("params") or {})}


def job_key(dataset_uri: str, spec: Mapping[str, Any], code_uri: str) -> str:
    """Same dataset, spec and code -> the same key: a redelivered upload starts no second job."""
    group = str(spec.get("model_group") or "")
    doc = [dataset_uri, group, job_spec(dataset_uri, spec), code_uri]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:40]


def result_folder(spec: Mapping[str, Any], key: str) -> str:
    return f"{JOB_PREFIX}/{spec.get('model_group') or '_'}/{key}"


def job_result(name: str, uri: str, backend: str) -> list[Any]:
    """What a training job wrote last, as its completion (``name``: the object's path in the
    training store; ``uri``: its address). Anything else under the prefix is acknowledged."""
    from ..events import TrainingJobCompleted

    parts = name.split("/")
    if len(parts) != 4 or parts[0] != JOB_PREFIX or parts[3] not in (RESULT, FAILED):
        return []
    group, key = parts[1], parts[2]
    common = {"backend": backend, "job_id": key, "model_group": None if group == "_" else group,
              "event_id": f"{backend}-job:{key}"}
    if parts[3] == RESULT:
        return [TrainingJobCompleted(status="succeeded", output_uri=uri, **common)]
    return [TrainingJobCompleted(status="failed", reason=f"the job wrote its reason to {uri}", **common)]


def upload_code(store: Any) -> str:
    """This very skyloop package (without the cloud adapters) as a content-addressed tarball in
    the training store: what the job's program unpacks. Returns its URI."""
    from .bundles import skyloop_sources, tar_gz

    bundle = tar_gz(skyloop_sources())
    return str(store.put(f"training-code/{hashlib.sha256(bundle).hexdigest()}.tar.gz", bundle))
