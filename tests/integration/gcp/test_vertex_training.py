"""The Vertex AI training backend (clouds/gcp/jobs.py): the CustomJob it submits (the SDK's own
request type, to a fake JobServiceClient: Vertex has no emulator), idempotent submission, and the
job's program run for real on this machine, with a folder standing in for Vertex's ``/gcs``
Cloud Storage mount: it trains on the dataset and writes a result that the train function reads,
or the reason it failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.aiplatform_v1")

from .vertex_fake import FakeJobService  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def backend(gcs: Any) -> Any:
    from skyloop.clouds.gcp.jobs import VertexTrainingBackend

    jobs = FakeJobService()
    gcp = gcs.settings(serving_image="us-docker.pkg.dev/p/r/serving:7")
    return VertexTrainingBackend(gcp, gcs.store, gcs.kv, client=jobs), jobs, gcs.store, gcs.bucket


def _run_job(container: Any, mount: Path, store: Any) -> subprocess.CompletedProcess[str]:
    """Run the job's command as Vertex would, with ``/gcs/`` as a local folder (the FUSE mount)."""
    args = [a.replace("/gcs/", f"{mount}/") for a in container.args]
    code_path = Path(args[0])
    code_path.parent.mkdir(parents=True, exist_ok=True)
    bucket, name = code_path.relative_to(mount).parts[0], "/".join(code_path.relative_to(mount).parts[1:])
    code_path.write_bytes(store.get(f"gs://{bucket}/{name}"))
    assert container.command[:2] == ["python", "-c"]
    return subprocess.run([sys.executable, "-I", "-c", container.command[2], *args], capture_output=True, text=True,
                          timeout=300, cwd=mount)


def test_a_large_dataset_becomes_one_custom_job_that_trains(backend: Any, tmp_path: Path) -> None:
    from skyloop.training.usecase import read_job_output

    vertex, jobs, store, bucket = backend
    dataset = f"gs://{bucket}/datasets/churn.csv"
    spec = {"target": "churned", "model_group": "churn", "params": {}}
    job = vertex.submit(dataset, spec)
    assert (job.backend, job.status) == ("vertex", "JOB_STATE_PENDING")
    assert vertex.submit(dataset, spec).job_id == job.job_id and len(jobs.jobs) == 1  # a redelivered upload
    [request] = jobs.requests
    assert request.parent == "projects/skyloop-test/locations/us-central1"
    pool = request.custom_job.job_spec.worker_pool_specs[0]
    assert (pool.replica_count, pool.machine_spec.machine_type) == (1, "n1-standard-8")
    container = pool.container_spec
    assert container.image_uri == "us-docker.pkg.dev/p/r/serving:7"  # the serving image: what it trains, serves
    out = f"/gcs/{bucket}/training-jobs/churn/{job.job_id}"
    assert container.args[2:] == [f"/gcs/{bucket}/datasets/churn.csv", out]
    assert request.custom_job.labels["skyloop-job"] == job.job_id

    mount = tmp_path / "gcs"
    (mount / bucket / "datasets").mkdir(parents=True)
    (mount / bucket / "datasets" / "churn.csv").write_bytes((ROOT / "events/local/data/churn.csv").read_bytes())
    done = _run_job(container, mount, store)
    assert done.returncode == 0, done.stderr[-3000:]
    result = mount / out.removeprefix("/gcs/") / "model.tar.gz"
    fitted = read_job_output(result.read_bytes())
    assert fitted.lineage["target"] == "churned" and fitted.lineage["data_uri"] == dataset
    assert fitted.metrics["holdout_roc_auc"] > 0.5


def test_a_failing_job_writes_its_reason_and_a_crashed_submission_is_found(backend: Any, tmp_path: Path) -> None:
    vertex, jobs, store, bucket = backend
    dataset = f"gs://{bucket}/datasets/broken.csv"
    job = vertex.submit(dataset, {"target": "nope", "model_group": "churn"})
    mount = tmp_path / "gcs"
    (mount / bucket / "datasets").mkdir(parents=True)
    (mount / bucket / "datasets" / "broken.csv").write_text("a,b\n1,2\n")
    pool = jobs.requests[0].custom_job.job_spec.worker_pool_specs[0]
    done = _run_job(pool.container_spec, mount, store)
    assert done.returncode == 1
    failed = json.loads((mount / bucket / "training-jobs" / "churn" / job.job_id / "failed.json").read_text())
    assert "nope" in failed["reason"]

    from skyloop.clouds.gcp.jobs import VertexTrainingBackend

    fresh = VertexTrainingBackend(vertex.gcp, store, _Forgetful(), client=jobs)  # type: ignore[arg-type]
    assert fresh.submit(dataset, {"target": "nope", "model_group": "churn"}).job_id == job.job_id
    assert len(jobs.jobs) == 1  # found by its label, not created again


class _Forgetful:
    """State that lost every record (a crash between create and record, or a wiped bucket)."""

    def get(self, key: str) -> None:
        return None

    def put(self, key: str, value: bytes) -> None:
        pass
