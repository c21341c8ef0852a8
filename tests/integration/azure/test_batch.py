"""Batch scoring above the size rule on Azure: the train app (functions/azure/function_app.py, its
Event Grid events converted as the host converts them) starts an Azure ML pipeline job with one
parallel step, at a fake ``MLClient`` that takes the SDK's own entities and serialises them as the
SDK would send them (Azure ML has no emulator); Blob Storage is Azurite.

The parallel step's data plane is run here as Azure ML runs it: the MLTable the job reads (written
by the scorer beside the outputs) resolved to the CSV through the datastore, the CSV split into
mini-batches of rows (pandas DataFrames with the header's names), the step's own entry script
(``init`` with ``--model`` and the job's environment variables, ``run`` per mini-batch), and what
``run`` returns appended to the step's output blob. Then the workspace's ``RunStatusChanged``
reaches the train app and writes the manifest. Not emulated: nodes, concurrency, retries."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.functions")
pytest.importorskip("azure.ai.ml")

from .test_functions import EVENTS, GROUP, ROOT, _app, _fn, _grid, _sample  # noqa: E402

CHURN = ROOT / "events/local/data/churn.csv"


def _uploaded(env: Any, name: str, data: bytes) -> dict[str, Any]:
    """The BlobCreated event of ``name``, written now."""
    url = env.adapters.store.put(name, data)
    props = env.adapters.store.service.get_blob_client(env.azure.container, name).get_blob_properties()
    [doc] = _sample("eventgrid-batch-upload-created.json", env)
    doc["subject"] = f"/blobServices/default/containers/{env.azure.container}/blobs/{name}"
    doc["data"].update(url=url, contentLength=len(data), eTag=props.etag)
    doc["id"] = f"created-{props.etag}"
    return doc


def _production(env: Any, tmp_path: Path, max_in_function_bytes: int) -> Any:
    """The train app with version 1 trained, approved and production (as a rollout leaves it), then
    rebuilt under a size rule the test's files are above."""
    from skyloop.config import Settings
    from skyloop.ports.registry import approve

    module = _app(env)
    _fn(module, "train")(_grid(_uploaded(env, f"datasets/{GROUP}.csv", CHURN.read_bytes())))
    approve(env.adapters.registry, env.adapters.events, GROUP, 1, actor="reviewer@example.com")
    env.adapters.registry.set_alias(GROUP, "production", 1)
    env.adapters = env.rebuilt(Settings(home=tmp_path / "home2", batch={"max_in_function_bytes": max_in_function_bytes}),
                               env.azure)
    module.use(env.adapters, env.azure)
    return module


def _run_parallel(env: Any, name: str, workdir: Path, rows_per_batch: int = 37) -> None:
    """What Azure ML does with the pipeline's parallel step (see the module's docstring)."""
    import pandas as pd
    import yaml

    from .ml_fake import readable

    step = env.ml.jobs.jobs[name].jobs["score"]
    table = yaml.safe_load(env.adapters.store.get(readable(str(step.inputs["data"].path), env.ml.datastores) + "MLTable"))
    [source] = [p["file"] for p in table["paths"]]
    assert table["transformations"][0]["read_delimited"]["header"] == "all_files_same_headers"
    model_dir = workdir / "model"
    model_dir.mkdir(parents=True)
    _, mname, mversion = str(step.inputs["model"].path).split(":")
    model = env.ml.models.get(mname, mversion)
    (model_dir / "model.joblib").write_bytes(env.adapters.store.get(f"{readable(model.path, env.ml.datastores)}/model.joblib"))
    script = Path(step.task.code) / step.task.entry_script
    spec = importlib.util.spec_from_file_location("skyloop_batch_entry", script)
    assert spec is not None and spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    saved_argv = sys.argv
    sys.argv = ["driver", *step.task.program_arguments.replace("${{inputs.model}}", str(model_dir)).split()]
    old = {k: __import__("os").environ.get(k) for k in step.environment_variables}
    __import__("os").environ.update(step.environment_variables)
    try:
        entry.init()
        out: list[str] = []
        data = env.adapters.store.get(readable(source, env.ml.datastores))
        for chunk in pd.read_csv(io.BytesIO(data), chunksize=rows_per_batch):
            out += entry.run(chunk)
    finally:
        sys.argv = saved_argv
        for k, v in old.items():
            __import__("os").environ.pop(k, None) if v is None else __import__("os").environ.__setitem__(k, v)
    assert step.task.append_row_to == "${{outputs.scored}}"
    env.adapters.store.put(readable(str(step.outputs["scored"].path), env.ml.datastores), ("\n".join(out) + "\n").encode())
    env.ml.jobs.jobs[name]._status = "Completed"


def _run_ended(env: Any, name: str, key: str, status: str = "Completed") -> dict[str, Any]:
    [doc] = json.loads((EVENTS / "eventgrid-ml-batch-run-completed.json").read_text())
    doc["data"].update(runId=name, runStatus=status, runTags={"skyloop-batch": key, "skyloop-managed": "true"})
    doc["subject"] = f"experiments/{doc['data']['experimentId']}/runs/{name}"
    doc["id"] = f"{name}-{status}"
    return doc


def test_rows_above_the_size_rule_are_scored_by_an_azure_ml_parallel_job(azure_env: Any, tmp_path: Path) -> None:
    import pandas as pd

    env = azure_env
    module = _production(env, tmp_path, 2000)
    rows = pd.read_csv(CHURN).drop(columns=["churned"]).astype(object)
    rows.loc[4, "usage_gb"] = "lots"
    data = rows.to_csv(index=False).encode()
    upload = _uploaded(env, f"batch/{GROUP}/customers-2026-12.csv", data)
    _fn(module, "train")(_grid(upload))
    [name] = env.ml.jobs.jobs
    pipeline = env.ml.jobs.jobs[name]
    step = pipeline.jobs["score"]
    assert pipeline.compute == env.azure.training_compute and pipeline.tags["skyloop-batch"] == name.removeprefix("skyloop-batch-")
    assert str(step.inputs["model"].path) == f"azureml:{GROUP}:1" and step.mini_batch_size == 50 * 1024 * 1024  # "50mb"
    assert step.environment_variables["SKYLOOP_ARTIFACT_SHA256"] == env.adapters.registry.get(GROUP, 1).artifact_sha256
    _fn(module, "train")(_grid(upload))  # redelivered: no second job
    assert len(env.ml.jobs.jobs) == 1

    _run_parallel(env, name, tmp_path)
    _fn(module, "train")(_grid(_run_ended(env, name, pipeline.tags["skyloop-batch"])))
    manifest = json.loads(env.adapters.store.get(f"predictions/{GROUP}/customers-2026-12.manifest.json"))
    assert (manifest["status"], manifest["backend"], manifest["version"]) == ("scored", "azureml", 1)
    assert (manifest["rows_in"], manifest["rows_out"], manifest["refused"]) == (len(rows), len(rows) - 1, 1)
    assert manifest["refused_rows"] == [{"reason": "feature 'usage_gb' is missing or not a finite number"}]
    assert manifest["columns"][-2:] == ["prediction", "refused"]
    [out] = manifest["predictions"]
    scored = pd.read_csv(io.BytesIO(env.adapters.store.get(out)), header=None, names=manifest["columns"])
    assert len(scored) == len(rows) and set(scored["prediction"].dropna()) <= {0, 1}
    _fn(module, "train")(_grid(_run_ended(env, name, pipeline.tags["skyloop-batch"])))  # redelivered: once
    assert env.dead_letters() == []


def test_a_failed_azure_ml_job_writes_why_where_the_manifest_would_be(azure_env: Any, tmp_path: Path) -> None:
    env = azure_env
    module = _production(env, tmp_path, 100)
    _fn(module, "train")(_grid(_uploaded(env, f"batch/{GROUP}/rows.csv", CHURN.read_bytes())))
    [name] = env.ml.jobs.jobs
    env.ml.jobs.jobs[name]._status = "Failed"
    _fn(module, "train")(_grid(_run_ended(env, name, env.ml.jobs.jobs[name].tags["skyloop-batch"], "Failed")))
    failed = json.loads(env.adapters.store.get(f"predictions/{GROUP}/rows.manifest.json"))
    assert failed["status"] == "failed" and failed["job_id"] == name and "ended Failed" in failed["reason"]
    assert [d["function"] for d in env.dead_letters()] == ["train"]
    assert env.adapters.kv.items("batch-failed:")
