"""A stand-in for azure-ai-ml's ``MLClient`` at its operations edge (Azure ML has no emulator). It
takes and returns the SDK's own entities (``Model``, ``ManagedOnlineEndpoint``,
``ManagedOnlineDeployment``, ``Command``, ``PipelineJob`` of ``Parallel`` steps) and models the service's rules that Skyloop relies on:
model versions are immutable but for tags and description, a version number is taken once
(ResourceExistsError), names of endpoints and deployments follow Azure's pattern, an endpoint's
traffic names only its deployments and adds up to 100 (or 0), a deployment with traffic cannot be
deleted, provisioning takes time (``Creating``/``Updating`` until ``finish_all``), and a job name is
taken once. ``invoke`` serves for real: it runs the deployment's scoring script (``init``/``run``)
on the model's files, read from Blob Storage, with ``AZUREML_MODEL_DIR`` set, as the managed
endpoint's container does. Not modelled: authentication, quotas, compute, and pollers' waiting."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError


class _Poller:
    def __init__(self, result: Any) -> None:
        self._result = result

    def result(self, timeout: float | None = None) -> Any:
        return self._result

    def done(self) -> bool:
        return True


NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")


DATASTORE = re.compile(r"^azureml://datastores/(?P<store>[\w-]+)/paths/(?P<path>.+)$")


def readable(path: str, datastores: set[str]) -> str:
    """A path Azure ML can read in Skyloop's account: only through a datastore the workspace has
    (the account takes no shared keys, so Azure ML has no credential for a bare https URL). The
    blob's name in the datasets container, as the datastore maps it."""
    m = DATASTORE.match(str(path))
    if m is None or m.group("store") not in datastores:
        raise HttpResponseError(f"Azure ML cannot read {str(path)[:80]}: not a path on one of the workspace's "
                                f"datastores ({', '.join(sorted(datastores))}), and the account takes no keys")
    return m.group("path")


class Models:
    def __init__(self, datastores: set[str]) -> None:
        self.versions: dict[str, dict[str, Any]] = {}
        self.requests: list[Any] = []
        self.datastores = datastores

    def create_or_update(self, model: Any) -> Any:
        from azure.ai.ml.entities import Model

        assert isinstance(model, Model)
        readable(model.path, self.datastores)
        self.requests.append(copy.deepcopy(model))
        versions = self.versions.setdefault(model.name, {})
        old = versions.get(str(model.version))
        if old is not None:
            if old.path != model.path or old.type != model.type:
                raise ResourceExistsError(f"model {model.name}:{model.version} exists; only tags and description change")
        elif model.version is None:
            model.version = str(max((int(v) for v in versions), default=0) + 1)
        stored = copy.deepcopy(model)
        versions[str(stored.version)] = stored
        return copy.deepcopy(stored)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        try:
            return copy.deepcopy(self.versions[name][str(version)])
        except KeyError:
            raise ResourceNotFoundError(f"model {name}:{version} not found") from None

    def list(self, name: str | None = None, **kwargs: Any) -> list[Any]:
        if name is None:  # the latest version of each model
            return [copy.deepcopy(v[max(v, key=int)]) for v in self.versions.values() if v]
        if name not in self.versions:
            raise ResourceNotFoundError(f"model {name} not found")
        return [copy.deepcopy(m) for m in self.versions[name].values()]


class OnlineEndpoints:
    def __init__(self, ml: "FakeMLClient") -> None:
        self.ml = ml
        self.endpoints: dict[str, Any] = {}
        self.requests: list[Any] = []

    def get(self, name: str) -> Any:
        if name not in self.endpoints:
            raise ResourceNotFoundError(f"endpoint {name} not found")
        return copy.deepcopy(self.endpoints[name])

    def begin_create_or_update(self, endpoint: Any) -> _Poller:
        from azure.ai.ml.entities import ManagedOnlineEndpoint

        assert isinstance(endpoint, ManagedOnlineEndpoint) and NAME.match(endpoint.name), endpoint.name
        self.requests.append(copy.deepcopy(endpoint))
        current = self.endpoints.get(endpoint.name)
        if current is not None and current.provisioning_state not in ("Succeeded", "Failed"):
            raise ResourceExistsError(f"endpoint {endpoint.name} is {current.provisioning_state}: one operation at a time")
        traffic = {k: int(v) for k, v in dict(endpoint.traffic or {}).items()}
        names = set(self.ml.online_deployments.deployments.get(endpoint.name, {}))
        if set(traffic) - names:
            raise ValueError(f"traffic names {sorted(set(traffic) - names)}, which are not deployments of {endpoint.name}")
        if traffic and sum(traffic.values()) not in (0, 100):
            raise ValueError(f"traffic {traffic} does not add up to 100")
        stored = copy.deepcopy(endpoint)
        stored.traffic = traffic
        stored._provisioning_state = "Creating" if current is None else "Updating"
        self.endpoints[endpoint.name] = stored
        self.ml.pending.append(("endpoint", endpoint.name))
        return _Poller(copy.deepcopy(stored))

    def invoke(self, endpoint_name: str, *, request_file: str | None = None, deployment_name: str | None = None,
               **kwargs: Any) -> str:
        ep = self.get(endpoint_name)
        deployments = self.ml.online_deployments.deployments.get(endpoint_name, {})
        if deployment_name is None:  # the router: the deployment with the most traffic (deterministic)
            live = {k: v for k, v in (ep.traffic or {}).items() if v > 0}
            if not live:
                raise ValueError(f"endpoint {endpoint_name} has no traffic: name a deployment")
            deployment_name = max(sorted(live), key=lambda k: live[k])
        d = deployments[deployment_name]
        assert request_file is not None
        return json.dumps(self.ml.run_scoring(d, Path(request_file).read_text()))


class OnlineDeployments:
    def __init__(self, ml: "FakeMLClient") -> None:
        self.ml = ml
        self.deployments: dict[str, dict[str, Any]] = {}
        self.requests: list[Any] = []

    def begin_create_or_update(self, deployment: Any, **kwargs: Any) -> _Poller:
        from azure.ai.ml.entities import ManagedOnlineDeployment

        assert isinstance(deployment, ManagedOnlineDeployment) and NAME.match(deployment.name), deployment.name
        if deployment.endpoint_name not in self.ml.online_endpoints.endpoints:
            raise ResourceNotFoundError(f"endpoint {deployment.endpoint_name} not found")
        _, name, version = str(deployment.model).split(":")
        self.ml.models.get(name, version)  # the version must exist
        code = Path(deployment.code_configuration.code) / deployment.code_configuration.scoring_script
        assert code.exists(), "the scoring script is uploaded from a local folder"
        self.requests.append(copy.deepcopy(deployment))
        stored = copy.deepcopy(deployment)
        stored.code_text = code.read_text()  # what the SDK uploads
        existing = self.deployments.setdefault(deployment.endpoint_name, {}).get(deployment.name)
        stored._provisioning_state = "Creating" if existing is None else "Updating"
        self.deployments[deployment.endpoint_name][deployment.name] = stored
        self.ml.pending.append(("deployment", deployment.endpoint_name, deployment.name))
        return _Poller(copy.deepcopy(stored))

    def list(self, endpoint_name: str, **kwargs: Any) -> list[Any]:
        return [copy.deepcopy(d) for d in self.deployments.get(endpoint_name, {}).values()]

    def get(self, name: str, endpoint_name: str) -> Any:
        try:
            return copy.deepcopy(self.deployments[endpoint_name][name])
        except KeyError:
            raise ResourceNotFoundError(f"deployment {name} not found") from None

    def begin_delete(self, name: str, endpoint_name: str, **kwargs: Any) -> _Poller:
        ep = self.ml.online_endpoints.endpoints[endpoint_name]
        if (ep.traffic or {}).get(name, 0) > 0:
            raise ValueError(f"deployment {name} takes traffic: set it to 0 first")
        self.requests.append(("delete", endpoint_name, name))
        self.deployments[endpoint_name].pop(name)
        ep.traffic = {k: v for k, v in (ep.traffic or {}).items() if k != name}
        return _Poller(None)


class Jobs:
    def __init__(self, datastores: set[str], models: "Models") -> None:
        self.jobs: dict[str, Any] = {}
        self.datastores, self.models = datastores, models

    def create_or_update(self, job: Any, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import Command, PipelineJob, UserIdentityConfiguration

        if isinstance(job, PipelineJob):
            return self._pipeline(job)
        assert isinstance(job, Command)
        for put in [*job.inputs.values(), *job.outputs.values()]:
            readable(put.path, self.datastores)
        # a credential-less datastore is read with the job's identity: the submitter's, or the
        # compute's, which the template grants nothing
        assert isinstance(job.identity, UserIdentityConfiguration), job.identity
        if job.name in self.jobs:
            raise ResourceExistsError(f"job {job.name} exists")
        job._status = "Queued"  # the service's answer (a Command does not deep-copy: kept as sent)
        self.jobs[job.name] = job
        return job

    def get(self, name: str) -> Any:
        if name not in self.jobs:
            raise ResourceNotFoundError(f"job {name} not found")
        return self.jobs[name]

    def _pipeline(self, job: Any) -> Any:
        """A pipeline job of parallel steps: serialised as the SDK sends it (its own validation), every
        data input and output on a datastore, a model input a registered version, the submitter's
        identity; the name taken once; Running until the test runs its data plane."""
        from azure.ai.ml.entities import Parallel, UserIdentityConfiguration

        job._to_rest_object()  # what the SDK would send: fails here as it would there
        for step in job.jobs.values():
            assert isinstance(step, Parallel), type(step)
            assert isinstance(step.identity, UserIdentityConfiguration), step.identity
            for put in [*step.inputs.values(), *step.outputs.values()]:
                path = str(put.path)
                if path.startswith("azureml:") and not path.startswith("azureml://"):
                    _, name, version = path.split(":")
                    self.models.get(name, version)  # ResourceNotFoundError for a version the registry lacks
                else:
                    readable(path, self.datastores)
        if job.name in self.jobs:
            raise ResourceExistsError(f"job {job.name} exists")
        job._status = "Running"
        self.jobs[job.name] = job
        return job


class DataAssets:
    """Data assets: a version is immutable once made, its path on a datastore."""

    def __init__(self, datastores: set[str]) -> None:
        self.versions: dict[tuple[str, str], Any] = {}
        self.requests: list[Any] = []
        self.datastores = datastores

    def create_or_update(self, data: Any) -> Any:
        from azure.ai.ml.entities import Data

        assert isinstance(data, Data)
        readable(str(data.path), self.datastores)
        data._to_rest_object()  # what the SDK would send
        self.requests.append(data)
        if (data.name, str(data.version)) in self.versions:
            raise ResourceExistsError(f"data {data.name}:{data.version} exists and is immutable")
        self.versions[(data.name, str(data.version))] = copy.deepcopy(data)
        return data

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        try:
            return copy.deepcopy(self.versions[(name, str(version))])
        except KeyError:
            raise ResourceNotFoundError(f"data {name}:{version} not found") from None


class FakeMLClient:
    def __init__(self, store: Any, workdir: Path) -> None:
        self.store, self.workdir = store, workdir
        self.pending: list[tuple[str, ...]] = []
        self.datastores = {"skyloopdatasets", "workspaceblobstore"}  # the second: every workspace has it
        self.models = Models(self.datastores)
        self.online_endpoints = OnlineEndpoints(self)
        self.online_deployments = OnlineDeployments(self)
        self.jobs = Jobs(self.datastores, self.models)
        self.data = DataAssets(self.datastores)
        self.fail_next = ""
        self._loaded: dict[str, Any] = {}

    def finish_all(self) -> None:
        """Minutes pass: every provisioning ends (Failed for a deployment when ``fail_next`` is set)."""
        for item in self.pending:
            if item[0] == "endpoint":
                self.online_endpoints.endpoints[item[1]]._provisioning_state = "Succeeded"
            elif item[2] in self.online_deployments.deployments.get(item[1], {}):
                d = self.online_deployments.deployments[item[1]][item[2]]
                d._provisioning_state = "Failed" if self.fail_next else "Succeeded"
                self.fail_next = ""
        self.pending.clear()

    def run_scoring(self, deployment: Any, body: str) -> Any:
        """The managed endpoint's container: AZUREML_MODEL_DIR holds the model's files, init(), run()."""
        key = f"{deployment.endpoint_name}/{deployment.name}/{deployment.model}"
        if key not in self._loaded:
            _, name, version = str(deployment.model).split(":")
            model = self.models.get(name, version)
            root = self.workdir / re.sub(r"\W", "_", key)
            (root / "model").mkdir(parents=True, exist_ok=True)
            (root / "model" / "model.joblib").write_bytes(self.store.get(f"{readable(model.path, self.datastores)}/model.joblib"))
            (root / "score.py").write_text(deployment.code_text)
            spec = importlib.util.spec_from_file_location(f"score_{len(self._loaded)}", root / "score.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            saved = {k: os.environ.get(k) for k in ("AZUREML_MODEL_DIR", "SKYLOOP_ARTIFACT_SHA256")}
            os.environ.update({"AZUREML_MODEL_DIR": str(root), **deployment.environment_variables})
            try:
                module.init()
            finally:
                for k, v in saved.items():
                    os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
            self._loaded[key] = module
        return self._loaded[key].run(body)


__all__ = ["FakeMLClient"]
