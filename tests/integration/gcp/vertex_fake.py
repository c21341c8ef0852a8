"""A stand-in for Vertex AI's generated ``ModelServiceClient`` (aiplatform_v1): Vertex has no
emulator, so the tests replace the client at its transport edge. Every request is (or is turned
into) the SDK's own request type, so a misspelt field fails as it would against the service, and
every answer is the SDK's own ``Model``. The service's behaviour modelled: versions under one model
(``parent_model``), ``@version`` and ``@alias`` names, version aliases unique within a model and
``-alias`` removal, label rules, label updates under an update mask, ``labels.k="v"`` list filters, NotFound
and AlreadyExists. Not modelled: long-running operation polling (``result()`` returns at once),
IAM, quotas, and the resource's other fields."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1


class _Done:
    def __init__(self, response: Any) -> None:
        self.response = response

    def result(self, timeout: float | None = None) -> Any:
        return self.response


class FakeModelService:
    def __init__(self) -> None:
        self.models: dict[str, list[aiplatform_v1.Model]] = {}  # "…/models/<id>" -> its versions
        self.evaluations: dict[str, list[aiplatform_v1.ModelEvaluation]] = {}  # "…/models/<id>@<v>" -> its evaluations
        self.requests: list[Any] = []
        self.lock = threading.Lock()

    @staticmethod
    def _check_labels(labels: Any) -> None:
        """Google Cloud's label rules: keys and values lowercase letters, digits, '_' and '-', at
        most 63 characters, a key starting with a letter."""
        for k, v in dict(labels).items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", k) or not re.fullmatch(r"[a-z0-9_-]{0,63}", v):
                raise gexc.InvalidArgument(f"invalid label {k}={v!r}")

    @staticmethod
    def _typed(kind: type, request: Any) -> Any:
        return request if isinstance(request, kind) else kind(**request)

    def _find(self, name: str) -> aiplatform_v1.Model:
        base, _, at = name.partition("@")
        versions = self.models.get(base)
        if not versions:
            raise gexc.NotFound(f"Model {base} not found")
        if not at:
            at = "default"
        for m in versions:
            if m.version_id == at or at in m.version_aliases:
                return m
        raise gexc.NotFound(f"Model {name} not found")

    def upload_model(self, request: Any) -> _Done:
        r = self._typed(aiplatform_v1.UploadModelRequest, request)
        self.requests.append(r)
        self._check_labels(r.model.labels)
        with self.lock:
            if r.parent_model:
                if r.parent_model not in self.models:
                    raise gexc.NotFound(f"parent model {r.parent_model} not found")
                base = r.parent_model
            else:
                base = f"{r.parent}/models/{r.model_id}"
                if base in self.models:
                    raise gexc.AlreadyExists(f"Model {base} already exists")
                self.models[base] = []
            versions = self.models[base]
            m = aiplatform_v1.Model(r.model)
            m.name, m.version_id = base, str(len(versions) + 1)
            m.version_create_time = datetime.now(timezone.utc)
            aliases = list(r.model.version_aliases) + (["default"] if not versions else [])
            del m.version_aliases[:]
            m.version_aliases.extend(aliases)
            versions.append(m)
            return _Done(aiplatform_v1.UploadModelResponse(model=base, model_version_id=m.version_id))

    def get_model(self, request: Any) -> aiplatform_v1.Model:
        r = self._typed(aiplatform_v1.GetModelRequest, request)
        with self.lock:
            return aiplatform_v1.Model(self._find(r.name))

    def list_model_versions(self, request: Any) -> list[aiplatform_v1.Model]:
        r = self._typed(aiplatform_v1.ListModelVersionsRequest, request)
        with self.lock:
            if r.name not in self.models:
                raise gexc.NotFound(f"Model {r.name} not found")
            return [aiplatform_v1.Model(m) for m in self.models[r.name]]

    def list_models(self, request: Any) -> list[aiplatform_v1.Model]:
        r = self._typed(aiplatform_v1.ListModelsRequest, request)
        wanted = dict(re.findall(r'labels\.([\w-]+)="([^"]*)"', r.filter))
        with self.lock:
            defaults = [self._find(base) for base in self.models if base.startswith(r.parent + "/")]
            return [aiplatform_v1.Model(m) for m in defaults if all(m.labels.get(k) == v for k, v in wanted.items())]

    def update_model(self, request: Any) -> aiplatform_v1.Model:
        r = self._typed(aiplatform_v1.UpdateModelRequest, request)
        self.requests.append(r)
        paths = set(r.update_mask.paths)
        assert paths and paths <= {"labels", "version_description"}, "label and version-description updates are modelled"
        if "version_description" in paths and "@" not in r.model.name:
            raise gexc.FailedPrecondition("version_description is a version's field: name the version (models/<id>@<v>)")
        self._check_labels(r.model.labels)
        with self.lock:
            m = self._find(r.model.name)
            if "labels" in paths:
                m.labels.clear()
                m.labels.update(dict(r.model.labels))
            if "version_description" in paths:
                m.version_description = r.model.version_description
            return aiplatform_v1.Model(m)

    def list_model_evaluations(self, request: Any) -> list[aiplatform_v1.ModelEvaluation]:
        r = self._typed(aiplatform_v1.ListModelEvaluationsRequest, request)
        with self.lock:
            m = self._find(r.parent)
            return [aiplatform_v1.ModelEvaluation(e) for e in self.evaluations.get(f"{m.name}@{m.version_id}", [])]

    def merge_version_aliases(self, request: Any) -> aiplatform_v1.Model:
        r = self._typed(aiplatform_v1.MergeVersionAliasesRequest, request)
        self.requests.append(r)
        with self.lock:
            m = self._find(r.name)
            base = r.name.partition("@")[0]
            for alias in r.version_aliases:
                if alias.startswith("-"):
                    if alias[1:] not in m.version_aliases:
                        raise gexc.InvalidArgument(f"alias {alias[1:]} is not on {r.name}")
                    m.version_aliases.remove(alias[1:])
                    continue
                for other in self.models[base]:  # an alias names one version of a model
                    if alias in other.version_aliases:
                        other.version_aliases.remove(alias)
                m.version_aliases.append(alias)
            return aiplatform_v1.Model(m)


class _Pending:
    """What the SDK's ``google.api_core.operation.Operation`` offers the deployer: the operation's
    name (``.operation.name``); it finishes when ``FakeEndpointService.get_operation`` is asked
    ``polls`` times, as a deployment finishes minutes later."""

    def __init__(self, name: str) -> None:
        from google.longrunning import operations_pb2

        self.operation = operations_pb2.Operation(name=name, done=False)


class FakeEndpointService:
    """A stand-in for ``EndpointServiceClient``: endpoints with caller-chosen IDs, deployed models
    (a model version by ``…/models/<id>@<version>``, resolved in the FakeModelService), traffic
    splits that must name deployed models and add up to 100 (or be empty), undeploy that needs a
    split without the model, update under a ``traffic_split`` mask, and long-running operations
    whose effect lands only when they finish (after ``polls`` reads). A second change while one
    runs on the same endpoint is refused (FailedPrecondition): stricter than Vertex is known to be,
    so the deployer is held to one change at a time. ``fail_next`` makes the next deploy fail."""

    def __init__(self, models: FakeModelService, polls: int = 3) -> None:
        self.models, self.polls = models, polls
        self.endpoints: dict[str, aiplatform_v1.Endpoint] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.requests: list[Any] = []
        self.fail_next = ""
        self.lock = threading.Lock()
        self._ids = 0

    def _get(self, name: str) -> aiplatform_v1.Endpoint:
        if name not in self.endpoints:
            raise gexc.NotFound(f"Endpoint {name} not found")
        return self.endpoints[name]

    def create_endpoint(self, request: Any) -> _Done:
        r = self._typed(aiplatform_v1.CreateEndpointRequest, request)
        self.requests.append(r)
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,61}[a-z0-9]", r.endpoint_id):
            raise gexc.InvalidArgument(f"invalid endpoint id {r.endpoint_id!r}")
        FakeModelService._check_labels(r.endpoint.labels)
        name = f"{r.parent}/endpoints/{r.endpoint_id}"
        with self.lock:
            if name in self.endpoints:
                raise gexc.AlreadyExists(f"Endpoint {name} already exists")
            ep = aiplatform_v1.Endpoint(r.endpoint)
            ep.name = name
            self.endpoints[name] = ep
        return _Done(aiplatform_v1.Endpoint(ep))

    _typed = staticmethod(FakeModelService._typed)

    def get_endpoint(self, request: Any) -> aiplatform_v1.Endpoint:
        r = self._typed(aiplatform_v1.GetEndpointRequest, request)
        with self.lock:
            return aiplatform_v1.Endpoint(self._get(r.name))

    @staticmethod
    def _check_split(split: dict[str, int], ids: set[str]) -> None:
        if split and sum(split.values()) != 100:
            raise gexc.InvalidArgument(f"traffic split {split} does not add up to 100")
        unknown = set(split) - ids
        if unknown:
            raise gexc.InvalidArgument(f"traffic split names {sorted(unknown)}, which are not deployed")

    def _start(self, endpoint: str, effect: Any) -> _Pending:
        with self.lock:
            if any(not op["done"] and op["endpoint"] == endpoint for op in self.operations.values()):
                raise gexc.FailedPrecondition(f"{endpoint} has an operation in progress")
            name = f"{endpoint}/operations/{len(self.operations) + 1}"
            self.operations[name] = {"endpoint": endpoint, "effect": effect, "polls": self.polls, "done": False, "error": ""}
        return _Pending(name)

    def deploy_model(self, request: Any) -> _Pending:
        r = self._typed(aiplatform_v1.DeployModelRequest, request)
        self.requests.append(r)
        ep = self.get_endpoint({"name": r.endpoint})
        d = aiplatform_v1.DeployedModel(r.deployed_model)
        self.models.get_model({"name": d.model})  # NotFound for a version that does not exist
        if not d.dedicated_resources.machine_spec.machine_type or d.dedicated_resources.min_replica_count < 1:
            raise gexc.InvalidArgument("dedicated_resources needs a machine type and at least one replica")
        split = dict(r.traffic_split)
        self._check_split(split, {x.id for x in ep.deployed_models} | {"0"})
        fail, self.fail_next = self.fail_next, ""

        def effect() -> str:
            if fail:
                return fail
            target = self.endpoints[r.endpoint]
            self._ids += 1
            d.id, d.model_version_id = str(self._ids), d.model.rsplit("@", 1)[1]
            d.create_time = datetime.now(timezone.utc)
            target.deployed_models.append(d)
            target.traffic_split.clear()
            target.traffic_split.update({(d.id if k == "0" else k): v for k, v in split.items()})
            return ""

        return self._start(r.endpoint, effect)

    def undeploy_model(self, request: Any) -> _Pending:
        r = self._typed(aiplatform_v1.UndeployModelRequest, request)
        self.requests.append(r)
        ep = self.get_endpoint({"name": r.endpoint})
        ids = {x.id for x in ep.deployed_models}
        if r.deployed_model_id not in ids:
            raise gexc.NotFound(f"deployed model {r.deployed_model_id} is not on {r.endpoint}")
        split = dict(r.traffic_split) if r.traffic_split else {k: v for k, v in ep.traffic_split.items()}
        if split.get(r.deployed_model_id, 0) > 0 and ids != {r.deployed_model_id}:  # the last one may go: the split empties
            raise gexc.FailedPrecondition("a deployed model that takes traffic cannot be undeployed: send a new split")
        split.pop(r.deployed_model_id, None)
        self._check_split({k: v for k, v in split.items() if v}, ids - {r.deployed_model_id})

        def effect() -> str:
            target = self.endpoints[r.endpoint]
            keep = [x for x in target.deployed_models if x.id != r.deployed_model_id]
            del target.deployed_models[:]
            target.deployed_models.extend(keep)
            target.traffic_split.clear()
            target.traffic_split.update({k: v for k, v in split.items() if v})
            return ""

        return self._start(r.endpoint, effect)

    def update_endpoint(self, request: Any) -> aiplatform_v1.Endpoint:
        r = self._typed(aiplatform_v1.UpdateEndpointRequest, request)
        self.requests.append(r)
        assert list(r.update_mask.paths) == ["traffic_split"], "only traffic updates are modelled"
        with self.lock:
            if any(not op["done"] and op["endpoint"] == r.endpoint.name for op in self.operations.values()):
                raise gexc.FailedPrecondition(f"{r.endpoint.name} has an operation in progress")
            ep = self._get(r.endpoint.name)
            split = dict(r.endpoint.traffic_split)
            self._check_split(split, {x.id for x in ep.deployed_models})
            ep.traffic_split.clear()
            ep.traffic_split.update(split)
            return aiplatform_v1.Endpoint(ep)

    def get_operation(self, request: Any) -> Any:
        from google.longrunning import operations_pb2

        name = request["name"] if isinstance(request, dict) else request.name
        with self.lock:
            op = self.operations[name]
            if not op["done"]:
                op["polls"] -= 1
                if op["polls"] < 0:
                    op["error"], op["done"] = op["effect"](), True
            out = operations_pb2.Operation(name=name, done=op["done"])
            if op["error"]:
                out.error.code, out.error.message = 13, op["error"]
            return out

    def finish_all(self) -> None:
        """Let every running operation finish (minutes pass)."""
        for name in list(self.operations):
            while not self.get_operation({"name": name}).done:
                pass


class FakePredictionService:
    """A stand-in for ``PredictionServiceClient.predict`` that serves for real: a deployed model's
    version is read from the FakeModelService, its folder (``model.joblib`` and
    ``code/inference.py``) from Cloud Storage, and the program is run as Skyloop's serving image
    runs it, refusing bytes whose sha256 is not the one in the container's environment. Traffic
    is split by the endpoint's percentages over a fixed permutation of 100 requests."""

    def __init__(self, endpoints: FakeEndpointService, store: Any, workdir: Any) -> None:
        self.endpoints, self.store, self.workdir = endpoints, store, workdir
        self.loaded: dict[str, tuple[Any, Any]] = {}
        self.calls = 0

    def _program(self, model_name: str) -> tuple[Any, Any]:
        import importlib.util

        if model_name not in self.loaded:
            m = self.endpoints.models.get_model({"name": model_name})
            sha = next(e.value for e in m.container_spec.env if e.name == "SKYLOOP_ARTIFACT_SHA256")
            folder = self.workdir / sha
            (folder / "code").mkdir(parents=True, exist_ok=True)
            for name in ("model.joblib", "code/inference.py"):
                (folder / name).write_bytes(self.store.get(f"{m.artifact_uri}/{name}"))
            spec = importlib.util.spec_from_file_location(f"vertex_serving_{sha[:12]}", folder / "code" / "inference.py")
            program = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(program)
            self.loaded[model_name] = (program, program.load_verified((folder / "model.joblib").read_bytes(), sha))
        return self.loaded[model_name]

    def predict(self, request: Any) -> aiplatform_v1.PredictResponse:
        ep = self.endpoints.get_endpoint({"name": request.endpoint})
        split = {k: v for k, v in ep.traffic_split.items() if v > 0}
        if not split:
            raise gexc.FailedPrecondition(f"{request.endpoint} has no traffic split: nothing serves")
        point, self.calls = (self.calls * 61) % 100, self.calls + 1
        for did, pct in sorted(split.items()):
            if point < pct:
                break
            point -= pct
        d = next(x for x in ep.deployed_models if x.id == did)
        program, bundle = self._program(d.model)
        rows = [dict(i) for i in request.instances]
        try:
            preds = program.predict_fn(rows, bundle)
        except ValueError as exc:  # the serving image answers 400: Vertex relays it as InvalidArgument
            raise gexc.InvalidArgument(str(exc)) from None
        response = aiplatform_v1.PredictResponse(deployed_model_id=d.id, model=d.model.split("@")[0],
                                                 model_version_id=d.model_version_id)
        response.predictions.extend(preds)
        return response


def _listed(items: dict[str, Any], parent: str, filter_: str) -> list[Any]:
    """A list call's answer: copies of the resources under ``parent`` whose labels match every
    ``labels.k="v"``."""
    wanted = dict(re.findall(r'labels\.([\w-]+)="([^"]*)"', filter_))
    return [type(j)(j) for j in items.values()
            if j.name.startswith(parent + "/") and all(j.labels.get(k) == v for k, v in wanted.items())]


def _got(items: dict[str, Any], name: str, kind: type) -> Any:
    """A get call's answer: a copy of the resource named, or NotFound as the service says it."""
    if name not in items:
        raise gexc.NotFound(f"{kind.__name__} {name} not found")
    return kind(items[name])


class FakeJobService:
    """A stand-in for ``JobServiceClient``'s custom jobs and batch prediction jobs: create (the SDK's
    request type, a server-made name, state PENDING), get, and list with ``labels.k="v"`` filters;
    a batch job's model must exist in the registry's fake, when given one."""

    def __init__(self, models: "FakeModelService | None" = None) -> None:
        self.jobs: dict[str, aiplatform_v1.CustomJob] = {}
        self.batch_jobs: dict[str, aiplatform_v1.BatchPredictionJob] = {}
        self.models = models
        self.requests: list[Any] = []

    def create_custom_job(self, request: Any) -> aiplatform_v1.CustomJob:
        r = FakeModelService._typed(aiplatform_v1.CreateCustomJobRequest, request)
        self.requests.append(r)
        FakeModelService._check_labels(r.custom_job.labels)
        if not r.custom_job.job_spec.worker_pool_specs:
            raise gexc.InvalidArgument("a custom job needs a worker pool")
        job = aiplatform_v1.CustomJob(r.custom_job)
        job.name = f"{r.parent}/customJobs/{4000 + len(self.jobs)}"
        job.state = aiplatform_v1.JobState.JOB_STATE_PENDING
        self.jobs[job.name] = job
        return aiplatform_v1.CustomJob(job)

    def get_custom_job(self, request: Any) -> aiplatform_v1.CustomJob:
        r = FakeModelService._typed(aiplatform_v1.GetCustomJobRequest, request)
        return _got(self.jobs, r.name, aiplatform_v1.CustomJob)

    def list_custom_jobs(self, request: Any) -> list[aiplatform_v1.CustomJob]:
        r = FakeModelService._typed(aiplatform_v1.ListCustomJobsRequest, request)
        return _listed(self.jobs, r.parent, r.filter)

    # -- batch prediction jobs: created PENDING with a server-made name; ``finish`` is the service's
    # side (what the job's run leaves: state, output directory, completion stats, error)
    def create_batch_prediction_job(self, request: Any) -> aiplatform_v1.BatchPredictionJob:
        r = FakeModelService._typed(aiplatform_v1.CreateBatchPredictionJobRequest, request)
        self.requests.append(r)
        job = aiplatform_v1.BatchPredictionJob(r.batch_prediction_job)
        FakeModelService._check_labels(job.labels)
        if not job.model or not job.input_config.instances_format or not job.output_config.predictions_format:
            raise gexc.InvalidArgument("a batch prediction job needs a model, an input format and an output format")
        if job.input_config.instances_format not in ("jsonl", "csv", "tf-record", "tf-record-gzip", "bigquery", "file-list"):
            raise gexc.InvalidArgument(f"unknown instances format {job.input_config.instances_format}")
        if self.models is not None:
            self.models._find(job.model)  # NotFound for a model or version the registry lacks
        job.name = f"{r.parent}/batchPredictionJobs/{7000 + len(self.batch_jobs)}"
        job.state = aiplatform_v1.JobState.JOB_STATE_PENDING
        self.batch_jobs[job.name] = job
        return aiplatform_v1.BatchPredictionJob(job)

    def get_batch_prediction_job(self, request: Any) -> aiplatform_v1.BatchPredictionJob:
        r = FakeModelService._typed(aiplatform_v1.GetBatchPredictionJobRequest, request)
        return _got(self.batch_jobs, r.name, aiplatform_v1.BatchPredictionJob)

    def list_batch_prediction_jobs(self, request: Any) -> list[aiplatform_v1.BatchPredictionJob]:
        r = FakeModelService._typed(aiplatform_v1.ListBatchPredictionJobsRequest, request)
        return _listed(self.batch_jobs, r.parent, r.filter)

    def finish(self, name: str, state: str, *, output_directory: str = "", successful: int = 0, failed: int = 0,
               error: str = "") -> None:
        job = self.batch_jobs[name]
        job.state = getattr(aiplatform_v1.JobState, state)
        if output_directory:
            job.output_info = aiplatform_v1.BatchPredictionJob.OutputInfo(gcs_output_directory=output_directory)
        job.completion_stats = aiplatform_v1.CompletionStats(successful_count=successful, failed_count=failed)
        if error:
            from google.rpc import status_pb2

            job.error = status_pb2.Status(code=3, message=error)


class FakeDatasetService:
    """A stand-in for ``DatasetServiceClient``: create (the SDK's request type; a tabular dataset's
    metadata must name its source, as the service checks), and list with ``labels.k="v"`` filters."""

    def __init__(self) -> None:
        self.datasets: dict[str, aiplatform_v1.Dataset] = {}
        self.requests: list[Any] = []

    def create_dataset(self, request: Any) -> _Done:
        from google.protobuf import json_format

        r = FakeModelService._typed(aiplatform_v1.CreateDatasetRequest, request)
        self.requests.append(r)
        FakeModelService._check_labels(r.dataset.labels)
        meta = json_format.MessageToDict(aiplatform_v1.Dataset.pb(r.dataset).metadata)
        if not r.dataset.display_name or not (meta.get("inputConfig") or {}).get("gcsSource", {}).get("uri"):
            raise gexc.InvalidArgument("a tabular dataset needs a display name and an input source")
        made = aiplatform_v1.Dataset(r.dataset)
        made.name = f"{r.parent}/datasets/{9100 + len(self.datasets)}"
        self.datasets[made.name] = made
        return _Done(aiplatform_v1.Dataset(made))

    def list_datasets(self, request: Any) -> list[aiplatform_v1.Dataset]:
        r = FakeModelService._typed(aiplatform_v1.ListDatasetsRequest, request)
        return _listed(self.datasets, r.parent, r.filter)


class FakePipelineService:
    """A stand-in for ``PipelineServiceClient``'s training pipelines: create (the SDK's request type:
    the dataset must exist, the model goes under ``model_id`` or ``parent_model``), get, list with
    label filters; ``finish`` is the service's side: a succeeded pipeline uploads its model as a
    version (with ``model_to_upload``'s labels) and leaves an evaluation, a failed one an error."""

    def __init__(self, models: FakeModelService, datasets: FakeDatasetService) -> None:
        self.models, self.datasets = models, datasets
        self.pipelines: dict[str, aiplatform_v1.TrainingPipeline] = {}
        self.requests: list[Any] = []
        self.gets = 0

    def create_training_pipeline(self, request: Any) -> aiplatform_v1.TrainingPipeline:
        r = FakeModelService._typed(aiplatform_v1.CreateTrainingPipelineRequest, request)
        self.requests.append(r)
        p = aiplatform_v1.TrainingPipeline(r.training_pipeline)
        FakeModelService._check_labels(p.labels)
        FakeModelService._check_labels(p.model_to_upload.labels)
        dataset = f"{r.parent}/datasets/{p.input_data_config.dataset_id}"
        if dataset not in self.datasets.datasets:
            raise gexc.NotFound(f"Dataset {dataset} not found")
        if not p.training_task_definition or not p.model_to_upload.display_name:
            raise gexc.InvalidArgument("a training pipeline needs a task definition and a model to upload")
        if p.parent_model and p.parent_model not in self.models.models:
            raise gexc.NotFound(f"parent model {p.parent_model} not found")
        p.name = f"{r.parent}/trainingPipelines/{5200 + len(self.pipelines)}"
        p.state = aiplatform_v1.PipelineState.PIPELINE_STATE_PENDING
        self.pipelines[p.name] = p
        return aiplatform_v1.TrainingPipeline(p)

    def get_training_pipeline(self, request: Any) -> aiplatform_v1.TrainingPipeline:
        r = FakeModelService._typed(aiplatform_v1.GetTrainingPipelineRequest, request)
        self.gets += 1
        return _got(self.pipelines, r.name, aiplatform_v1.TrainingPipeline)

    def list_training_pipelines(self, request: Any) -> list[aiplatform_v1.TrainingPipeline]:
        r = FakeModelService._typed(aiplatform_v1.ListTrainingPipelinesRequest, request)
        return _listed(self.pipelines, r.parent, r.filter)

    def finish(self, name: str, state: str, *, metrics: dict[str, Any] | None = None, error: str = "") -> str:
        """End the pipeline as Vertex would; returns the model version it uploaded ('' if none)."""
        from google.protobuf import json_format, struct_pb2

        p = self.pipelines[name]
        p.state = getattr(aiplatform_v1.PipelineState, state)
        p.start_time, p.end_time = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc), datetime(2026, 12, 7, 4, 30, tzinfo=timezone.utc)
        if state != "PIPELINE_STATE_SUCCEEDED":
            from google.rpc import status_pb2

            p.error = status_pb2.Status(code=9, message=error or "pipeline failed")
            return ""
        parent = name.split("/trainingPipelines/")[0]
        upload = aiplatform_v1.UploadModelRequest(parent=parent, model=aiplatform_v1.Model(p.model_to_upload),
                                                  parent_model=p.parent_model, model_id=p.model_id)
        done = self.models.upload_model(upload).result()
        self.models.requests.remove(upload)  # the service's own upload, not the caller's
        p.model_to_upload.name, p.model_to_upload.version_id = done.model, done.model_version_id
        version = f"{done.model}@{done.model_version_id}"
        evaluation = aiplatform_v1.ModelEvaluation(name=f"{version}/evaluations/1")
        aiplatform_v1.ModelEvaluation.pb(evaluation).metrics.CopyFrom(json_format.ParseDict(metrics or {}, struct_pb2.Value()))
        self.models.evaluations[version] = [evaluation]
        return version
