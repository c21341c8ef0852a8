"""The ``automl`` model family: Vertex AI AutoML tabular trains, evaluates and serves the model.

An upload whose sidecar says ``"model": "automl"`` is handed over whatever its size:
1. the managed ``TabularDataset`` over the object (``CreateDataset``, tabular metadata schema,
   ``inputConfig.gcsSource``), which is what AutoML reads;
2. an AutoML tabular ``TrainingPipeline`` on it: the target, the prediction type, an ``auto``
   transformation per feature, the node-hour budget from the sidecar, an 80/10/10 split, and the
   model uploaded as a new version of the group's Vertex model (``parent_model``), labelled as
   Skyloop's and in flight (``skyloop-automl``) until it is registered.
Both carry the run's key as their ``skyloop-job`` label, where a redelivery finds what a crashed
attempt created, as a custom job is found. These are the requests the SDK's
``TabularDataset.create`` and ``AutoMLTabularTrainingJob.run`` send, made with the generated
clients so that nothing waits on a pipeline inside a function.

A training pipeline announces no end. The train function looks on a schedule (``TrainingCheckDue``,
from Cloud Scheduler): ``ended`` asks Vertex about each run still open (one
``GetTrainingPipeline``) and reports the ended ones as facts (``training.managed.ManagedTraining``)
with the service's own evaluation mapped onto Skyloop's metric names. The core registers them and
gates them. The run record is ``vertex:automl:<key>`` in the state store; ``settle`` closes it.

What the registry keeps of the data (features, task, classes, the schema smoke tests draw rows
from) is profiled by the core from the object's first 1 MiB, which ``sample`` reads with one ranged
request: the function never holds the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from ...errors import InProgress, InvalidDataset
from ...ports import BlobStore, KeyValueStore, ManagedTraining, TrainingJob
from .config import GcpSettings
from .gcs import split_uri, storage_client
from .vertex import MANAGED_LABEL, vertex_client

# The SDK's own constants (aiplatform.schema.*): a test holds these to them.
TABULAR_DATASET_SCHEMA = "gs://google-cloud-aiplatform/schema/dataset/metadata/tabular_1.0.0.yaml"
AUTOML_TABULAR_DEFINITION = "gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_tabular_1.0.0.yaml"
BACKEND, SERVICE = "vertex-automl", "Vertex AI AutoML"
RECORD = "vertex:automl:"
JOB_LABEL, AUTOML_LABEL = "skyloop-job", "skyloop-automl"
SAMPLE_BYTES = 1024 * 1024
SPLIT = (0.8, 0.1, 0.1)  # training, validation, test: the test split is what the evaluation scores
EVALUATION = ("Vertex AI AutoML's own evaluation on its test split (10 % of the rows, chosen by Vertex): "
              "not cross-validation, and not comparable row for row with a Skyloop-trained version")
# Budget in milli node hours, as AutoMLTabularTrainingJob.run takes it: 1,000 (one node hour) to 72,000.
BUDGET_DEFAULT, BUDGET_RANGE = 1000, (1000, 72000)
OBJECTIVES = {  # what Vertex accepts per prediction type; the first is its default
    "binary": ("maximize-au-roc", "minimize-log-loss", "maximize-au-prc", "maximize-precision-at-recall",
               "maximize-recall-at-precision"),
    "multiclass": ("minimize-log-loss",),
    "regression": ("minimize-rmse", "minimize-mae", "minimize-rmsle"),
}
COLUMN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
KNOBS = {"model", "budget_milli_node_hours", "optimization_objective", "disable_early_stopping"}
OPEN_STATES = {"PIPELINE_STATE_UNSPECIFIED", "PIPELINE_STATE_QUEUED", "PIPELINE_STATE_PENDING",
               "PIPELINE_STATE_RUNNING", "PIPELINE_STATE_CANCELLING", "PIPELINE_STATE_PAUSED"}


def automl_params(params: Mapping[str, Any], task: str, n_classes: int) -> dict[str, Any]:
    """The sidecar's AutoML knobs, checked before anything is created: a typo or an objective the
    prediction type cannot take is a one-line refusal, not a failed pipeline an hour later."""
    unknown = set(params) - KNOBS
    if unknown:
        raise InvalidDataset(f"unknown training parameter {sorted(unknown)[0]!r} for automl; allowed: "
                             f"{', '.join(sorted(KNOBS - {'model'}))}")
    budget = params.get("budget_milli_node_hours", BUDGET_DEFAULT)
    low, high = BUDGET_RANGE
    if not isinstance(budget, int) or isinstance(budget, bool) or not low <= budget <= high:
        raise InvalidDataset(f"budget_milli_node_hours must be an integer from {low:,} to {high:,} "
                             "(1,000 is one node hour)")
    kind = "regression" if task == "regression" else "binary" if n_classes <= 2 else "multiclass"
    objective = params.get("optimization_objective", OBJECTIVES[kind][0])
    if objective not in OBJECTIVES[kind]:
        raise InvalidDataset(f"optimization_objective {objective!r} does not fit {kind} "
                             f"{'regression' if kind == 'regression' else 'classification'}; one of "
                             f"{', '.join(OBJECTIVES[kind])}")
    early = params.get("disable_early_stopping", False)
    if not isinstance(early, bool):
        raise InvalidDataset("disable_early_stopping must be true or false")
    return {"model": "automl", "budget_milli_node_hours": budget, "optimization_objective": objective,
            "disable_early_stopping": early}


def check_columns(profile: Mapping[str, Any]) -> None:
    """Vertex AI's published rules for a tabular dataset that the first rows can show, checked before
    anything is created (else the pipeline fails an hour later): column names of letters, digits
    and underscores, not starting with an underscore; no missing target value."""
    bad = [c for c in [*profile["features"], profile["target"]] if not COLUMN_NAME.fullmatch(c)]
    if bad:
        raise InvalidDataset(f"Vertex AI AutoML takes column names of letters, digits and '_' (not first): "
                             f"{', '.join(repr(c) for c in bad[:5])} {'is' if len(bad) == 1 else 'are'} not")
    if profile.get("target_missing"):
        raise InvalidDataset(f"target column {profile['target']!r} has {profile['target_missing']} missing "
                             "value(s) in the first rows: Vertex AI AutoML takes none")


def evaluation_metrics(metrics: Mapping[str, Any], task: str) -> dict[str, float]:
    """Vertex's evaluation (the classification or regression metrics schema) on Skyloop's names,
    prefixed ``test_``: accuracy and macro F1 from the confusion matrix, ROC AUC and log loss as
    given; R², RMSE and MAE (RMSE positive, as Vertex gives it)."""
    if task == "regression":
        names = {"rSquared": "r2", "rootMeanSquaredError": "rmse", "meanAbsoluteError": "mae"}
        return {f"test_{ours}": float(metrics[theirs]) for theirs, ours in names.items() if theirs in metrics}
    out = {f"test_{ours}": float(metrics[theirs]) for theirs, ours in
           {"auRoc": "roc_auc", "logLoss": "log_loss", "auPrc": "pr_auc"}.items() if theirs in metrics}
    rows = [[float(v) for v in row] for row in (metrics.get("confusionMatrix") or {}).get("rows", [])]
    total = sum(map(sum, rows))
    if rows and total > 0:
        out["test_accuracy"] = sum(rows[i][i] for i in range(len(rows))) / total
        f1 = []
        for i in range(len(rows)):
            tp, actual, predicted = rows[i][i], sum(rows[i]), sum(r[i] for r in rows)
            f1.append(2 * tp / (actual + predicted) if actual + predicted else 0.0)
        out["test_f1"] = sum(f1) / len(f1)
    return out


class VertexAutoML:
    name = BACKEND

    def __init__(self, gcp: GcpSettings, store: BlobStore, kv: KeyValueStore, *, pipelines: Any = None,
                 datasets: Any = None, models: Any = None, storage: Any = None) -> None:
        self.gcp, self.store, self.kv = gcp, store, kv
        self.pipelines = pipelines or vertex_client("PipelineServiceClient", gcp.region)
        self.datasets = datasets or vertex_client("DatasetServiceClient", gcp.region)
        self.models = models or vertex_client("ModelServiceClient", gcp.region)
        self._storage = storage
        self.location = f"projects/{gcp.project}/locations/{gcp.region}"

    @property
    def storage(self) -> Any:
        if self._storage is None:
            self._storage = storage_client(self.gcp.project)
        return self._storage

    # -- submission --------------------------------------------------------------------------------
    def submit(self, dataset_uri: str, spec: Mapping[str, Any]) -> TrainingJob:
        group, target = str(spec.get("model_group") or ""), spec.get("target") or None
        key = hashlib.sha256(json.dumps([dataset_uri, spec.get("data_version"), group, target,
                                         spec.get("params") or {}], sort_keys=True, default=str).encode()).hexdigest()[:40]
        known = self.kv.get(RECORD + key)
        if known is not None:  # a redelivered upload: the run already exists
            rec = json.loads(known)
            return TrainingJob(backend=BACKEND, job_id=key, status="submitted", result={"pipeline": rec["pipeline"]})
        profile = spec.get("profile")  # the core profiled the first rows (training/managed.sample_profile)
        if not isinstance(profile, dict):
            raise InvalidDataset("an AutoML request carries the dataset's profile; none was given")
        check_columns(profile)
        params = automl_params(spec.get("params") or {}, profile["task"], len(profile["classes"]))
        dataset = self._dataset(key, group, dataset_uri)
        pipeline = self._pipeline(key, group, dataset, profile, params)
        rec = {"key": key, "group": group, "pipeline": pipeline, "dataset": dataset, "data_uri": dataset_uri,
               "data_version": spec.get("data_version"), "params": params, "profile": profile,
               "manual": bool(spec.get("manual")), "submitted_at": datetime.now(timezone.utc).isoformat()}
        self.kv.put(RECORD + key, json.dumps(rec, sort_keys=True).encode())
        return TrainingJob(backend=BACKEND, job_id=key, status="submitted",
                           result={"pipeline": pipeline, "dataset": dataset})

    def sample(self, uri: str) -> bytes:
        """The object's first MiB (one ranged read), for the core to profile."""
        bucket, name = split_uri(uri, self.gcp.bucket)
        if name.lower().endswith(".gz"):
            raise InvalidDataset(f"{uri}: Vertex AI AutoML reads plain CSV from Cloud Storage, not gzip")
        data: bytes = self.storage.bucket(bucket).blob(name).download_as_bytes(start=0, end=SAMPLE_BYTES - 1)
        return data

    def _dataset(self, key: str, group: str, uri: str) -> str:
        from google.cloud import aiplatform_v1
        from google.protobuf import json_format, struct_pb2

        found = list(self.datasets.list_datasets(request=aiplatform_v1.ListDatasetsRequest(
            parent=self.location, filter=f'labels.{JOB_LABEL}="{key}"')))
        if found:
            return str(found[0].name)
        bucket, name = split_uri(uri, self.gcp.bucket)
        metadata = json_format.ParseDict({"inputConfig": {"gcsSource": {"uri": [f"gs://{bucket}/{name}"]}}},
                                         struct_pb2.Value())
        dataset = aiplatform_v1.Dataset(display_name=f"skyloop-{group}-{key[:12]}"[:128],
                                        metadata_schema_uri=TABULAR_DATASET_SCHEMA, metadata=metadata,
                                        labels={JOB_LABEL: key, MANAGED_LABEL: "true"})
        made = self.datasets.create_dataset(request=aiplatform_v1.CreateDatasetRequest(
            parent=self.location, dataset=dataset)).result(timeout=self.gcp.operation_timeout_seconds)
        return str(made.name)

    def _pipeline(self, key: str, group: str, dataset: str, profile: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform_v1
        from google.protobuf import json_format, struct_pb2

        found = list(self.pipelines.list_training_pipelines(request=aiplatform_v1.ListTrainingPipelinesRequest(
            parent=self.location, filter=f'labels.{JOB_LABEL}="{key}"')))
        if found:
            return str(found[0].name)
        inputs = {
            "targetColumn": profile["target"],
            "predictionType": "regression" if profile["task"] == "regression" else "classification",
            "transformations": [{"auto": {"column_name": c}} for c in profile["features"]],
            "trainBudgetMilliNodeHours": params["budget_milli_node_hours"],
            "optimizationObjective": params["optimization_objective"],
            "disableEarlyStopping": params["disable_early_stopping"],
        }
        model = aiplatform_v1.Model(display_name=group, labels={MANAGED_LABEL: "true", AUTOML_LABEL: key})
        pipeline = aiplatform_v1.TrainingPipeline(
            display_name=f"skyloop-{group}-automl-{key[:12]}"[:128],
            training_task_definition=AUTOML_TABULAR_DEFINITION,
            training_task_inputs=json_format.ParseDict(inputs, struct_pb2.Value()),
            input_data_config=aiplatform_v1.InputDataConfig(
                dataset_id=dataset.rsplit("/", 1)[-1],
                fraction_split=aiplatform_v1.FractionSplit(training_fraction=SPLIT[0], validation_fraction=SPLIT[1],
                                                           test_fraction=SPLIT[2])),
            model_to_upload=model, labels={JOB_LABEL: key, MANAGED_LABEL: "true"})
        parent = f"{self.location}/models/{group}"
        try:
            self.models.get_model(request={"name": parent})
            pipeline.parent_model = parent  # a new version of the group's model
        except gexc.NotFound:
            pipeline.model_id = group  # the group's first version
        made = self.pipelines.create_training_pipeline(request=aiplatform_v1.CreateTrainingPipelineRequest(
            parent=self.location, training_pipeline=pipeline))
        return str(made.name)

    # -- the scheduled look ------------------------------------------------------------------------
    def ended(self) -> Iterator[ManagedTraining]:
        """The recorded runs that ended and are not settled yet, as facts (still running: skipped)."""
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform_v1

        for _, raw in self.kv.items(RECORD):
            rec = json.loads(raw)
            if rec.get("settled"):
                continue
            try:
                p = self.pipelines.get_training_pipeline(request={"name": rec["pipeline"]})
            except gexc.NotFound:  # deleted by hand: it ended without a model, and is said so once
                p = aiplatform_v1.TrainingPipeline(name=rec["pipeline"], state="PIPELINE_STATE_FAILED")
                p.error.message = f"{rec['pipeline']} no longer exists (deleted)"
            state = p.state.name
            if state in OPEN_STATES:
                continue
            yield self._fact(rec, p, state)

    def _fact(self, rec: Mapping[str, Any], p: Any, state: str) -> ManagedTraining:
        profile = rec["profile"]
        base = {"backend": BACKEND, "job_id": rec["key"], "group": rec["group"], "service": SERVICE,
                "params": rec["params"], "manual": bool(rec.get("manual"))}
        lineage = {"data_uri": rec["data_uri"], "data_version": rec.get("data_version"), **profile,
                   "model_family": "automl", "requested_params": rec["params"],
                   "primary_metric": "r2" if profile["task"] == "regression" else "accuracy",
                   "evaluation": EVALUATION, "vertex_pipeline": rec["pipeline"], "vertex_dataset": rec["dataset"]}
        started, ended = p.start_time, p.end_time
        if isinstance(started, datetime) and isinstance(ended, datetime) and started.year > 1970:
            lineage["train_seconds"] = round((ended - started).total_seconds(), 1)
        if state != "PIPELINE_STATE_SUCCEEDED":
            return ManagedTraining(status="stopped" if state == "PIPELINE_STATE_CANCELLED" else "failed", reason=p.error.message or f"the pipeline ended {state}",
                                   lineage=lineage, **base)
        model = f"{p.model_to_upload.name}@{p.model_to_upload.version_id}"
        return ManagedTraining(status="succeeded", model=model, metrics=self._metrics(model, profile["task"]),
                               lineage=lineage, **base)

    def _metrics(self, model: str, task: str) -> dict[str, float]:
        from google.cloud import aiplatform_v1
        from google.protobuf import json_format

        evaluations = list(self.models.list_model_evaluations(request=aiplatform_v1.ListModelEvaluationsRequest(
            parent=model)))
        if not evaluations:
            raise InProgress(f"{model} has no evaluation listed yet")
        found = json_format.MessageToDict(aiplatform_v1.ModelEvaluation.pb(evaluations[0]).metrics)
        metrics = evaluation_metrics(found, task)
        if not metrics:
            raise InvalidDataset(f"{model}'s evaluation has none of the metrics Skyloop compares")
        return metrics

    def settle(self, run: ManagedTraining) -> None:
        """Close a run's record: the next look does not ask Vertex about it again."""
        raw = self.kv.get(RECORD + run.job_id)
        if raw is not None:
            rec = json.loads(raw)
            if not rec.get("settled"):
                rec["settled"] = run.status
                self.kv.put(RECORD + run.job_id, json.dumps(rec, sort_keys=True).encode())


__all__ = ["AUTOML_TABULAR_DEFINITION", "BACKEND", "OBJECTIVES", "TABULAR_DATASET_SCHEMA", "VertexAutoML",
           "automl_params", "check_columns", "evaluation_metrics"]
