"""Batch scoring above the size rule on Google Cloud: the train function (functions/gcp/main.py,
through functions-framework, events as Eventarc delivers them) starts a Vertex AI
``BatchPredictionJob`` on the version's model, at a fake ``JobServiceClient`` that takes the SDK's
own request types (Vertex has no emulator); Cloud Storage is fake-gcs-server.

The job's data plane is run here as Vertex runs it, on Skyloop's serving image (serve.py, its own
process on 127.0.0.1): the model's artifact folder loaded, the CSV's records sent as arrays of the
values Vertex read (strings) with the job's ``model_parameters`` as ``parameters``, the answers
written as ``predictions_00001.jsonl`` (``{"instance", "prediction"}``) under the job's output
prefix. Its finalize event reaches the train function, which asks the job: still running is a 500
(Eventarc redelivers), ended writes the manifest. Not emulated: Vertex's sharding into several
files, replicas and retries."""

from __future__ import annotations

import csv
import http.client
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("functions_framework")
pytest.importorskip("google.cloud.aiplatform_v1")

from skyloop.ports.registry import Status  # noqa: E402

from . import harness  # noqa: E402

ROOT = harness.ROOT
GROUP = "churn-2026"
CHURN = ROOT / "events/local/data/churn.csv"


def _production(env: Any) -> None:
    from skyloop.ports.registry import approve

    blob = env.gcs.client.bucket(env.gcs.bucket).blob(f"datasets/{GROUP}.csv")
    blob.upload_from_filename(str(CHURN))
    assert harness.deliver("train", harness.finalized(env.gcs.bucket, blob), env.adapters, env.gcp).status_code == 200
    approve(env.adapters.registry, env.adapters.events, GROUP, 1, actor="reviewer@example.com")
    env.adapters.registry.set_alias(GROUP, "production", 1)  # as a rollout leaves it


def _run_vertex_job(env: Any, job: Any, workdir: Path) -> str:
    """What Vertex does with the job: returns the output directory it wrote."""
    from bench.serving import start_image

    model = env.models._find(job.model)
    folder = workdir / "model"
    bucket, prefix = model.artifact_uri.removeprefix("gs://").split("/", 1)
    for blob in env.gcs.client.list_blobs(bucket, prefix=prefix + "/"):
        dest = folder / blob.name[len(prefix) + 1:]
        dest.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(dest))
    env_vars = {e.name: e.value for e in model.container_spec.env}
    [source] = job.input_config.gcs_source.uris
    assert job.input_config.instances_format == "csv" and job.output_config.predictions_format == "jsonl"
    sb, sname = source.removeprefix("gs://").split("/", 1)
    rows = list(csv.reader(io.StringIO(env.gcs.client.bucket(sb).blob(sname).download_as_text())))[1:]  # header dropped
    parameters = json.loads(type(job).to_json(job))["modelParameters"]
    proc, port = start_image(folder, env_vars["SKYLOOP_ARTIFACT_SHA256"], workers=1)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", model.container_spec.predict_route,
                     body=json.dumps({"instances": rows, "parameters": parameters}).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        assert resp.status == 200, answer
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    stamp = datetime.now(timezone.utc).strftime("%Y_%m_%dT%H_%M_%S_%fZ")
    out_dir = f"{job.output_config.gcs_destination.output_uri_prefix}/prediction-{GROUP}-{stamp}"
    ob, oname = out_dir.removeprefix("gs://").split("/", 1)
    lines = "".join(json.dumps({"instance": r, "prediction": p}) + "\n" for r, p in zip(rows, answer["predictions"]))
    blob = env.gcs.client.bucket(ob).blob(f"{oname}/predictions_00001.jsonl")
    blob.upload_from_string(lines)
    return out_dir


def test_rows_above_the_size_rule_are_scored_by_a_vertex_batch_prediction_job(gcp_env: Any, tmp_path: Path) -> None:
    from skyloop.config import Settings

    env = gcp_env
    _production(env)
    adapters = env.rebuilt(Settings(home=tmp_path / "home2", batch={"max_in_function_bytes": 2000}), env.gcp)
    text = CHURN.read_text().splitlines()
    header = text[0].split(",")[:-1]  # scoring rows carry no target
    body = [",".join(header)] + [",".join(line.split(",")[:-1]) for line in text[1:]]
    body[5] = body[5].replace(body[5].split(",")[1], "", 1)  # line 6: a hole, refused by the container alone
    data = ("\n".join(body) + "\n").encode()
    assert len(data) > 2000
    blob = env.gcs.client.bucket(env.gcs.bucket).blob(f"batch/{GROUP}/customers-2026-12.csv")
    blob.upload_from_string(data)
    upload = harness.finalized(env.gcs.bucket, blob)
    assert harness.deliver("train", upload, adapters, env.gcp).status_code == 200
    [request] = [r for r in env.jobs.requests if type(r).__name__ == "CreateBatchPredictionJobRequest"]
    job = request.batch_prediction_job
    assert job.model == f"projects/skyloop-test/locations/us-central1/models/{GROUP}@1"
    assert job.input_config.gcs_source.uris == [f"gs://{env.gcs.bucket}/batch/{GROUP}/customers-2026-12.csv"]
    assert json.loads(type(job).to_json(job))["modelParameters"] == {"columns": header}
    assert job.output_config.gcs_destination.output_uri_prefix.startswith(f"gs://{env.gcs.bucket}/predictions/{GROUP}/jobs/")
    assert job.dedicated_resources.machine_spec.machine_type == "n1-standard-4"
    assert harness.deliver("train", upload, adapters, env.gcp).status_code == 200  # redelivered
    [name] = env.jobs.batch_jobs  # no second job

    out_dir = _run_vertex_job(env, env.jobs.batch_jobs[name], tmp_path)
    out_blob = env.gcs.client.bucket(env.gcs.bucket).blob(out_dir.split("/", 3)[3] + "/predictions_00001.jsonl")
    written = harness.finalized(env.gcs.bucket, out_blob)
    answer = harness.deliver("train", written, adapters, env.gcp)
    assert answer.status_code == 500  # the output is there, the job not yet ended: Eventarc asks again later
    env.jobs.finish(name, "JOB_STATE_SUCCEEDED", output_directory=out_dir, successful=len(body) - 1)
    assert harness.deliver("train", written, adapters, env.gcp).status_code == 200
    manifest = json.loads(adapters.store.get(f"predictions/{GROUP}/customers-2026-12.manifest.json"))
    assert (manifest["status"], manifest["backend"], manifest["version"]) == ("scored", "vertex", 1)
    assert (manifest["rows_in"], manifest["rows_out"], manifest["refused"]) == (len(body) - 1, len(body) - 2, 1)
    assert manifest["refused_rows"] == [{"reason": f"feature {header[1]!r} is missing or not a finite number"}]
    assert manifest["service_counts"]["successful"] == len(body) - 1
    assert manifest["input_version"] == str(blob.generation)
    assert harness.deliver("train", written, adapters, env.gcp).status_code == 200  # a second output's event: nothing twice
    assert [v.status for v in adapters.registry.versions(GROUP)] == [Status.APPROVED]  # predictions/ is never trained on


def test_a_failed_vertex_job_writes_why_where_the_manifest_would_be(gcp_env: Any, tmp_path: Path) -> None:
    from skyloop.config import Settings

    env = gcp_env
    _production(env)
    adapters = env.rebuilt(Settings(home=tmp_path / "home2", batch={"max_in_function_bytes": 100}), env.gcp)
    blob = env.gcs.client.bucket(env.gcs.bucket).blob(f"batch/{GROUP}/rows.csv")
    blob.upload_from_filename(str(CHURN))
    assert harness.deliver("train", harness.finalized(env.gcs.bucket, blob), adapters, env.gcp).status_code == 200
    [name] = env.jobs.batch_jobs
    job = env.jobs.batch_jobs[name]
    env.jobs.finish(name, "JOB_STATE_FAILED", error="the container exited with code 137")
    partial = env.gcs.client.bucket(env.gcs.bucket).blob(
        job.output_config.gcs_destination.output_uri_prefix.split("/", 3)[3] + "/prediction-x/errors_00001.jsonl")
    partial.upload_from_string('{"instance": [], "status": "INTERNAL"}\n')
    assert harness.deliver("train", harness.finalized(env.gcs.bucket, partial), adapters, env.gcp).status_code == 200
    failed = json.loads(adapters.store.get(f"predictions/{GROUP}/rows.manifest.json"))
    assert failed["status"] == "failed" and "code 137" in failed["reason"] and failed["job_id"] == name
    assert adapters.kv.items("batch-failed:")  # what the watch tells the on-call from
