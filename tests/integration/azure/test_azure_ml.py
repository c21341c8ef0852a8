"""The Azure ML adapters (clouds/azure/ml.py) against a fake ``MLClient`` at its operations edge
(ml_fake.py: the SDK's own entities, Azure ML's rules), with models and cards on Azurite: the
entities the SDK would send, approval as tags, slots as deployments of one managed online
endpoint, provisioning that takes time, predictions from the real scoring script, and the command
job whose program trains for real."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skyloop.errors import ArtifactIntegrityError, DeploymentFailed, EndpointBusy, ForeignModel
from skyloop.ports.registry import Status

from .conftest import ENDPOINT_IDENTITY

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def fitted() -> Any:
    from skyloop.config import Settings
    from skyloop.training.usecase import fit

    return fit((ROOT / "events/local/data/churn.csv").read_bytes(), source_uri="x", settings=Settings())


def test_azure_ml_keeps_the_deployer_contract(azure_env: Any, fitted: Any) -> None:
    """The one Deployer contract (tests/contract/ports/deployer_contract.py), on one endpoint's deployments."""
    from skyloop.config import Settings
    from skyloop.serving.deployment import smoke_rows
    from skyloop.training.usecase import fit
    from tests.contract.ports.deployer_contract import check_deployer

    data = (ROOT / "events/local/data/churn.csv").read_bytes()
    other = fit(b"\n".join(data.splitlines()[:-20]) + b"\n", source_uri="y", settings=Settings())
    v1, v2, v3 = _register(azure_env, fitted, "c1"), _register(azure_env, fitted, "c2"), _register(azure_env, other, "c3")
    check_deployer(azure_env.adapters.deployer, "churn-2026", v1, v2, v3, smoke_rows(v1.lineage, 4),
                   settle=azure_env.ml.finish_all, store=azure_env.adapters.store)


def _register(env: Any, fitted: Any, key: str, group: str = "churn-2026") -> Any:
    from skyloop.ports.artifacts import write_artifact

    art = write_artifact(env.adapters.store, group, fitted.model_bytes)
    return env.adapters.registry.register(group, artifact_uri=art.uri, artifact_sha256=art.sha256, metrics=fitted.metrics,
                                          params=fitted.params, lineage=fitted.lineage, idempotency_key=key)


def test_versions_carry_skyloops_tags_and_approval_is_a_tag(azure_env: Any, fitted: Any) -> None:
    env, reg = azure_env, azure_env.adapters.registry
    v1, v2 = _register(env, fitted, "d1"), _register(env, fitted, "d2")
    assert (v1.version, v2.version, v1.status) == (1, 2, Status.PENDING)
    assert _register(env, fitted, "d1").version == 1  # a redelivered upload
    m = env.ml.models.requests[0]
    assert (m.name, m.version, m.type) == ("churn-2026", "1", "custom_model")
    # through the datastore, never the blob's URL: Azure ML has no key to Skyloop's account
    assert m.path == f"azureml://datastores/skyloopdatasets/paths/models/churn-2026/serving/{v1.artifact_sha256}"
    assert env.adapters.store.get(f"{m.path.split('/paths/', 1)[1]}/model.joblib") == fitted.model_bytes
    assert m.tags["skyloop-status"] == "pending" and m.tags["skyloop-artifact-sha256"] == v1.artifact_sha256
    assert reg.groups() == ["churn-2026"]

    reg.set_status("churn-2026", 1, Status.APPROVED, actor="reviewer")
    tags = env.ml.models.requests[-1].tags
    assert (tags["skyloop-status"], tags["approval"]) == ("approved", "approved")  # what Event Grid's filter reads
    assert env.ml.models.requests[-1].path == m.path  # only the tags changed
    # a version registered pre-approved (a pipeline's tag) is approved
    stored = env.ml.models.versions["churn-2026"]["2"]
    stored.tags = {**stored.tags, "approval": "approved"}
    assert reg.get("churn-2026", 2).status is Status.APPROVED

    from azure.ai.ml.entities import Model

    env.ml.models.create_or_update(Model(name="theirs", version="1", path="azureml://datastores/workspaceblobstore/paths/y", tags={}))
    with pytest.raises(ForeignModel):
        reg.get("theirs", 1)
    card = env.ml.models.versions["churn-2026"]["1"].tags["skyloop-card-uri"]
    env.adapters.store.put(card, json.dumps({"artifact_uri": v1.artifact_uri, "metrics": {}, "params": {}, "lineage": {}}).encode())
    with pytest.raises(ArtifactIntegrityError, match="card"):
        reg.get("churn-2026", 1)


def test_slots_are_deployments_of_one_endpoint(azure_env: Any, fitted: Any) -> None:
    from skyloop.serving.deployment import smoke_rows

    env, d = azure_env, azure_env.adapters.deployer
    v1 = _register(env, fitted, "d1")
    d.deploy("churn-2026", "production", v1)  # the endpoint is created (and waited for), the deployment started
    assert [e.name for e in env.ml.online_endpoints.requests] == ["skyloop-churn-2026"]
    # it runs as the identity the template let read the datasets container (not a system-assigned
    # one, which exists only once the endpoint does: too late for any role)
    [made] = env.ml.online_endpoints.requests
    assert made.identity.type == "user_assigned"
    assert [i.resource_id for i in made.identity.user_assigned_identities] == [ENDPOINT_IDENTITY]
    assert not d.settled("churn-2026")  # the deployment provisions for minutes: nothing waits for it
    with pytest.raises(EndpointBusy):
        d.deploy("churn-2026", "staging", v1)  # one change at a time
    env.ml.finish_all()
    assert d.settled("churn-2026") and d.slots("churn-2026") == {"production": 1}
    [dep] = env.ml.online_deployments.requests
    assert (dep.name, dep.endpoint_name, dep.model) == ("production", "skyloop-churn-2026", "azureml:churn-2026:1")
    assert dep.environment_variables == {"SKYLOOP_ARTIFACT_SHA256": v1.artifact_sha256}
    assert dep.code_configuration.scoring_script == "score.py"
    d.set_traffic("churn-2026", {"production": 1.0})
    env.ml.finish_all()
    rows = smoke_rows(v1.lineage, 4)
    assert len(d.predict("churn-2026", rows)) == 4  # the real scoring script on the real model

    v2 = _register(env, fitted, "d2")
    d.deploy("churn-2026", "staging", v2)
    env.ml.finish_all()
    assert len(d.predict("churn-2026", rows, slot="staging")) == 4  # invoked by deployment name, at 0 % traffic
    d.deploy("churn-2026", "canary", v2)
    env.ml.finish_all()
    d.set_traffic("churn-2026", {"production": 0.9, "canary": 0.1})
    env.ml.finish_all()
    assert d.traffic("churn-2026") == {"production": 0.9, "canary": 0.1}
    assert env.ml.online_endpoints.endpoints["skyloop-churn-2026"].traffic == {"production": 90, "staging": 0, "canary": 10}

    # abort: the canary's share back to production first, then the deployment goes
    with pytest.raises(EndpointBusy, match="taken out of traffic"):
        d.undeploy("churn-2026", "canary")
    env.ml.finish_all()
    d.undeploy("churn-2026", "canary")
    assert d.slots("churn-2026") == {"production": 1, "staging": 2} and d.traffic("churn-2026") == {"production": 1.0}
    # promote: production's deployment takes the new version (a rolling update)
    d.deploy("churn-2026", "production", v2)
    env.ml.finish_all()
    assert d.slots("churn-2026")["production"] == 2

    env.ml.fail_next = "out of quota"
    d.deploy("churn-2026", "staging", v1)
    env.ml.finish_all()
    with pytest.raises(DeploymentFailed, match="deployment staging Failed"):
        d.settled("churn-2026")
    env.adapters.store.put(v1.artifact_uri, b"swapped")
    with pytest.raises(ArtifactIntegrityError):
        d.deploy("churn-2026", "canary", v1)


def test_the_scoring_script_refuses_bytes_the_registry_does_not_vouch_for(azure_env: Any, fitted: Any, tmp_path: Path) -> None:
    from skyloop.clouds.azure.ml import scoring_script

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.joblib").write_bytes(fitted.model_bytes)
    (tmp_path / "score.py").write_bytes(scoring_script())
    code = "import score; score.init(); print(score.run('{\"instances\": []}'))"
    bad = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"AZUREML_MODEL_DIR": str(tmp_path), "SKYLOOP_ARTIFACT_SHA256": "0" * 64, "PATH": ""})
    assert bad.returncode != 0 and "refusing to load" in bad.stderr
    sha = hashlib.sha256(fitted.model_bytes).hexdigest()
    ok = subprocess.run([sys.executable, "-c", "import score; score.init(); print('loaded')"], cwd=tmp_path,
                        capture_output=True, text=True, env={"AZUREML_MODEL_DIR": str(tmp_path), "SKYLOOP_ARTIFACT_SHA256": sha})
    assert ok.returncode == 0 and "loaded" in ok.stdout, ok.stderr[-2000:]


def test_a_command_job_trains_once_per_dataset(azure_env: Any, tmp_path: Path) -> None:
    from skyloop.training.usecase import read_job_output

    env = azure_env
    backend = env.adapters.training
    dataset = env.adapters.store.put("datasets/big.csv", (ROOT / "events/local/data/churn.csv").read_bytes())
    spec = {"target": "churned", "model_group": "churn-2026"}
    job = backend.submit(dataset, spec)
    assert backend.submit(dataset, spec).job_id == job.job_id and len(env.ml.jobs.jobs) == 1
    [cmd] = env.ml.jobs.jobs.values()
    assert cmd.name == f"skyloop-{job.job_id}" and cmd.compute == "cpu-cluster"
    assert cmd.inputs["data"].path == "azureml://datastores/skyloopdatasets/paths/datasets/big.csv"
    assert type(cmd.identity).__name__ == "UserIdentityConfiguration"  # reads as the functions' identity
    out = cmd.outputs["result"].path
    assert out == f"azureml://datastores/skyloopdatasets/paths/training-jobs/churn-2026/{job.job_id}/"

    # run the command as the job's container would, inputs and outputs mounted as local paths
    mounts = {"inputs.code": tmp_path / "code.tar.gz", "inputs.data": tmp_path / "big.csv", "outputs.result": tmp_path / "out"}
    mounts["inputs.code"].write_bytes(env.adapters.store.get(cmd.inputs["code"].path.split("/paths/", 1)[1]))
    mounts["inputs.data"].write_bytes(env.adapters.store.get(dataset))
    line = re.sub(r"\$\{\{(\w+\.\w+)\}\}", lambda m: str(mounts[m.group(1)]), cmd.command)
    done = subprocess.run(line.replace("python ", f"{sys.executable} ", 1), shell=True, cwd=cmd.code,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    fitted = read_job_output((mounts["outputs.result"] / "model.tar.gz").read_bytes())
    assert fitted.lineage["data_uri"] == dataset and fitted.lineage["target"] == "churned"


def test_each_training_runs_data_is_a_versioned_data_asset_in_the_lineage(azure_env: Any) -> None:
    """The upload a version learned from, registered once as ``<group>-data`` at the data's sha256
    (through the datastore), and named in the version's lineage; the same data again is the same asset."""
    from skyloop.config import Settings
    from skyloop.training.usecase import fit

    env = azure_env
    data = (ROOT / "events/local/data/churn.csv").read_bytes()
    uri = env.adapters.store.put("datasets/churn-2026.csv", data)
    fitted = fit(data, source_uri=uri, settings=Settings())
    v1, v2 = _register(env, fitted, "e1"), _register(env, fitted, "e2")
    sha = hashlib.sha256(data).hexdigest()
    assert fitted.lineage["data_sha256"] == sha
    assert v1.lineage["data_asset"] == v2.lineage["data_asset"] == f"azureml:churn-2026-data:{sha[:16]}"
    [asset] = env.ml.data.requests  # registered once
    assert (asset.name, asset.version, asset.type, asset.path) == (
        "churn-2026-data", sha[:16], "uri_file", "azureml://datastores/skyloopdatasets/paths/datasets/churn-2026.csv")
    assert asset.tags["skyloop-data-sha256"] == sha
