"""The ``automl`` model family on Google Cloud: the train function (functions/gcp/main.py, through
functions-framework, events as Eventarc delivers them) turns an upload whose sidecar says
``"model": "automl"`` into a managed ``TabularDataset`` and an AutoML tabular ``TrainingPipeline``,
at fake ``DatasetServiceClient`` / ``PipelineServiceClient`` / ``ModelServiceClient``s that take
the SDK's own request types (Vertex has no emulator); Cloud Storage is fake-gcs-server.

The pipeline's end is seen by Cloud Scheduler's tick (``events/gcp/pubsub-training-check-tick.json``)
at the same function: the version AutoML uploaded into the group's model is registered PENDING with
Vertex's evaluation as its metrics and gated, once; a failed pipeline is recorded and told. Not
modelled: AutoML's training itself, its real metrics and its quotas."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

pytest.importorskip("functions_framework")
pytest.importorskip("google.cloud.aiplatform_v1")

from skyloop.ports.registry import Status  # noqa: E402

from . import harness  # noqa: E402

ROOT = harness.ROOT
GROUP = "churn-2026"
CHURN = ROOT / "events/local/data/churn.csv"
# Vertex's classification metrics schema: a 2x2 confusion matrix over 100 test rows, AUC and log loss
CLASSIFICATION = {"auRoc": 0.91, "auPrc": 0.88, "logLoss": 0.36,
                  "confusionMatrix": {"annotationSpecs": [{"displayName": "0"}, {"displayName": "1"}],
                                      "rows": [[50, 10], [6, 34]]}}


def _upload(env: Any, sidecar: dict[str, Any], name: str = f"datasets/{GROUP}.csv", deliveries: int = 1) -> Any:
    bucket = env.gcs.client.bucket(env.gcs.bucket)
    bucket.blob(name[:-4] + ".skyloop.json").upload_from_string(json.dumps(sidecar))
    blob = bucket.blob(name)
    blob.upload_from_filename(str(CHURN))
    event = harness.finalized(env.gcs.bucket, blob)
    for _ in range(deliveries):  # at least once: Eventarc may deliver one event twice
        answer = harness.deliver("train", event, env.adapters, env.gcp)
    return answer


def _tick(env: Any, n: int = 1) -> dict[str, Any]:
    """Cloud Scheduler's tick through the training-check topic, as the sample carries it."""
    raw = json.loads((harness.EVENTS / "pubsub-training-check-tick.json").read_text())
    raw["id"] = raw["data"]["message"]["messageId"] = f"tick-{n}"
    answer = harness.deliver("train", raw, env.adapters, env.gcp)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return env.adapters.kv  # type: ignore[no-any-return]


def _dead(env: Any) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in env.pull("dead_letter_topic")]


def test_an_automl_upload_is_a_dataset_and_a_pipeline_and_its_end_a_pending_version(gcp_env: Any) -> None:
    from google.cloud import aiplatform
    from google.protobuf import json_format

    from skyloop.notify.watch import notices

    env = gcp_env
    sidecar = {"target": "churned", "model": "automl", "params": {"budget_milli_node_hours": 2000}}
    assert _upload(env, sidecar, deliveries=2).status_code == 200  # the second: the same generation redelivered
    assert _dead(env) == []
    [made] = env.datasets.requests
    assert made.dataset.metadata_schema_uri == aiplatform.schema.dataset.metadata.tabular  # the SDK's own
    meta = json_format.MessageToDict(type(made.dataset).pb(made.dataset).metadata)
    assert meta == {"inputConfig": {"gcsSource": {"uri": [f"gs://{env.gcs.bucket}/datasets/{GROUP}.csv"]}}}
    [request] = env.pipelines.requests
    p = request.training_pipeline
    assert p.training_task_definition == aiplatform.schema.training_job.definition.automl_tabular
    inputs = json_format.MessageToDict(type(p).pb(p).training_task_inputs)
    header = CHURN.read_text().splitlines()[0].split(",")
    assert inputs == {"targetColumn": "churned", "predictionType": "classification",
                      "transformations": [{"auto": {"column_name": c}} for c in header if c != "churned"],
                      "trainBudgetMilliNodeHours": 2000.0, "optimizationObjective": "maximize-au-roc",
                      "disableEarlyStopping": False}
    assert f"{request.parent}/datasets/{p.input_data_config.dataset_id}" == list(env.datasets.datasets)[0]
    split = p.input_data_config.fraction_split
    assert (split.training_fraction, split.validation_fraction, split.test_fraction) == pytest.approx((0.8, 0.1, 0.1))
    assert (p.model_id, p.parent_model, p.model_to_upload.display_name) == (GROUP, "", GROUP)  # the group's first version
    assert p.labels["skyloop-job"] == p.model_to_upload.labels["skyloop-automl"]

    _tick(env, 1)  # still running: nothing to register, one question asked
    assert env.pipelines.gets == 1 and env.adapters.registry.versions(GROUP) == []
    [name] = env.pipelines.pipelines
    uploaded = env.pipelines.finish(name, "PIPELINE_STATE_SUCCEEDED", metrics=CLASSIFICATION)
    # uploaded by AutoML, not yet registered: no registry listing shows a version it cannot describe
    assert env.adapters.registry.versions(GROUP) == [] and env.adapters.registry.groups() == [GROUP]

    _tick(env, 2)
    [v] = env.adapters.registry.versions(GROUP)
    assert (v.version, v.status) == (1, Status.PENDING)
    assert v.metrics == pytest.approx({"test_accuracy": 0.84, "test_f1": (100 / 116 + 68 / 84) / 2, "test_roc_auc": 0.91,
                                       "test_pr_auc": 0.88, "test_log_loss": 0.36})
    assert (v.primary_metric, v.score, v.score_source) == ("accuracy", pytest.approx(0.84), "test split")
    assert v.managed == {"service": "Vertex AI AutoML", "model": uploaded, "backend": "vertex-automl",
                         "job": p.labels["skyloop-job"]}
    assert v.lineage["features"] == [c for c in header if c != "churned"] and v.lineage["task"] == "classification"
    assert v.lineage["classes"] == ["0", "1"] and v.lineage["schema"]["numeric"]["tenure_months"]["integer"] is True
    assert v.lineage["train_seconds"] == 5400.0 and "not cross-validation" in v.lineage["evaluation"]
    model = env.models._find(uploaded)
    assert model.labels["skyloop-status"] == "pending"  # the registry's own record, written into AutoML's version
    # its artifact is the descriptor naming Vertex's model: vouched for, and never unpickled
    from skyloop.errors import NotSupported
    from skyloop.ports.artifacts import load_verified, verified_bytes

    assert json.loads(verified_bytes(env.adapters.store, v.artifact_uri, v.artifact_sha256))["model"] == uploaded
    with pytest.raises(NotSupported, match="Vertex AI AutoML trained and serves itself"):
        load_verified(env.adapters.store, v.artifact_uri, v.artifact_sha256)
    [told] = [n for n in notices(env.adapters) if n.kind == "version_pending"]
    assert told.text == "accuracy=0.8400"

    gets = env.pipelines.gets
    _tick(env, 3)  # settled: not asked again, not registered twice
    assert env.pipelines.gets == gets and len(env.adapters.registry.versions(GROUP)) == 1


def test_the_gate_decides_on_the_test_split_and_says_so(gcp_env: Any) -> None:
    from skyloop.config import Settings

    env = gcp_env
    env.adapters = env.rebuilt(Settings(home=env.tmp / "gated", gate={"enabled": True, "min_score": 0.8}), env.gcp)
    assert _upload(env, {"target": "churned", "model": "automl"}).status_code == 200
    [name] = env.pipelines.pipelines
    env.pipelines.finish(name, "PIPELINE_STATE_SUCCEEDED", metrics=CLASSIFICATION)
    _tick(env)
    [v] = env.adapters.registry.versions(GROUP)
    assert v.status is Status.APPROVED
    from skyloop.serving.history import gate_decisions

    [decision] = gate_decisions(env.adapters.kv, GROUP)
    assert decision["checks"] == ["test split accuracy=0.8400 >= min_score 0.8000"]
    approved = [json.loads(m.data) for m in env.pull("events_topic")]
    assert [(e["type"], e["version"]) for e in approved] == [("ModelVersionApproved", 1)]


def test_a_failed_pipeline_is_recorded_and_told_once(gcp_env: Any) -> None:
    from skyloop.notify.watch import notices

    env = gcp_env
    assert _upload(env, {"target": "churned", "model": "automl"}).status_code == 200
    [name] = env.pipelines.pipelines
    env.pipelines.finish(name, "PIPELINE_STATE_FAILED", error="Training budget too small for 1,001 rows")
    _tick(env, 1)
    _tick(env, 2)
    assert env.adapters.registry.versions(GROUP) == [] and env.pipelines.gets == 1
    [told] = [n for n in notices(env.adapters) if n.kind == "training_failed"]
    assert told.subject == GROUP and told.text == "Training budget too small for 1,001 rows"
    assert "Vertex AI AutoML trained no model" in told.title
    # a pipeline someone deleted by hand ends the run too, said once; the look goes on
    assert _upload(env, {"target": "churned", "model": "automl", "params": {"budget_milli_node_hours": 3000}}).status_code == 200
    gone = list(env.pipelines.pipelines)[-1]
    del env.pipelines.pipelines[gone]
    _tick(env, 3)
    reasons = sorted(n.text for n in notices(env.adapters) if n.kind == "training_failed")
    assert reasons == sorted([f"{gone} no longer exists (deleted)", "Training budget too small for 1,001 rows"])


def test_a_bad_request_is_refused_before_vertex_is_asked(gcp_env: Any) -> None:
    env = gcp_env
    cases = [({"budget_milli_node_hours": 10}, "budget_milli_node_hours must be an integer from 1,000 to 72,000"),
             ({"optimization_objective": "minimize-rmse"}, "optimization_objective 'minimize-rmse' does not fit binary"),
             ({"max_depth": 4}, "unknown training parameter 'max_depth' for automl")]
    for params, why in cases:
        assert _upload(env, {"target": "churned", "model": "automl", "params": params}).status_code == 200
        [dead] = _dead(env)
        assert dead["error"] == "invalid_dataset" and why in dead["reason"], dead
    # Vertex's own data rules that the first rows show: column names, and no missing target
    header, *rows = CHURN.read_text().splitlines()
    bucket = env.gcs.client.bucket(env.gcs.bucket)
    for name, text, why in [
            ("dashes", "\n".join([header.replace("monthly_charges", "monthly-charges"), *rows]) + "\n",
             "Vertex AI AutoML takes column names of letters, digits and '_' (not first): 'monthly-charges' is not"),
            ("holes", "\n".join([header, *rows[:20], rows[20].rsplit(",", 1)[0] + ",", *rows[21:]]) + "\n",
             "target column 'churned' has 1 missing value(s) in the first rows")]:
        bucket.blob(f"datasets/{name}.skyloop.json").upload_from_string(json.dumps({"target": "churned", "model": "automl"}))
        blob = bucket.blob(f"datasets/{name}.csv")
        blob.upload_from_string(text)
        assert harness.deliver("train", harness.finalized(env.gcs.bucket, blob), env.adapters, env.gcp).status_code == 200
        [dead] = _dead(env)
        assert dead["error"] == "invalid_dataset" and why in dead["reason"], dead
    assert env.datasets.requests == [] and env.pipelines.requests == []


def test_the_profile_is_as_lenient_as_automl(gcp_env: Any) -> None:
    """AutoML imputes missing feature values and takes text columns of any cardinality; Skyloop's
    own training refuses both. The profile keeps what a smoke row needs and refuses neither."""
    from skyloop.training.managed import sample_profile

    header, *rows = CHURN.read_text().splitlines()
    wide = ["id," + header] + [f"user{i}," + (r if i % 7 else ",".join([""] + r.split(",")[1:]))
                               for i, r in enumerate(rows)]
    profile = sample_profile(("\n".join(wide) + "\n").encode(), "churned")
    assert profile["features"][0] == "id" and len(profile["schema"]["categorical"]["id"]) == 50  # 50 commonest of 300
    assert profile["task"] == "classification" and profile["target_missing"] == 0
    first = header.split(",")[0]
    assert profile["schema"]["numeric"][first]["integer"] is True  # its gaps left out, not refused
    env = gcp_env
    bucket = env.gcs.client.bucket(env.gcs.bucket)
    bucket.blob("datasets/wide.skyloop.json").upload_from_string(json.dumps({"target": "churned", "model": "automl"}))
    blob = bucket.blob("datasets/wide.csv")
    blob.upload_from_string("\n".join(wide) + "\n")
    assert harness.deliver("train", harness.finalized(env.gcs.bucket, blob), env.adapters, env.gcp).status_code == 200
    assert _dead(env) == [] and len(env.pipelines.requests) == 1


def test_a_later_version_goes_under_the_groups_model_and_a_regression_reads_r2(gcp_env: Any) -> None:
    """The second AutoML run of a group uploads under ``parent_model``; a numeric target with many
    values is a regression, whose primary metric is R² from Vertex's regression schema."""
    env = gcp_env
    rows = ["load,hour,latency_ms"] + [f"{(i * 7) % 100},{i % 24},{120 + (i * 13) % 97}.5" for i in range(200)]
    bucket = env.gcs.client.bucket(env.gcs.bucket)
    bucket.blob("datasets/latency.skyloop.json").upload_from_string(json.dumps(
        {"target": "latency_ms", "model": "automl", "params": {"optimization_objective": "minimize-mae"}}))
    for generation in (1, 2):
        blob = bucket.blob("datasets/latency.csv")
        blob.upload_from_string("\n".join(rows[: 100 + generation * 50]) + "\n")
        assert harness.deliver("train", harness.finalized(env.gcs.bucket, blob), env.adapters, env.gcp).status_code == 200
        name = list(env.pipelines.pipelines)[-1]
        env.pipelines.finish(name, "PIPELINE_STATE_SUCCEEDED",
                             metrics={"rSquared": 0.7 + generation / 10, "rootMeanSquaredError": 9.5, "meanAbsoluteError": 7.0})
        _tick(env, generation)
    first, second = [r.training_pipeline for r in env.pipelines.requests]
    assert (first.model_id, second.parent_model) == ("latency", f"{env.pipelines.requests[1].parent}/models/latency")
    inputs = json.loads(type(second).to_json(second))["trainingTaskInputs"]
    assert (inputs["predictionType"], inputs["optimizationObjective"]) == ("regression", "minimize-mae")
    versions = env.adapters.registry.versions("latency")
    assert [(v.version, v.score, v.primary_metric) for v in versions] == [(1, pytest.approx(0.8), "r2"), (2, pytest.approx(0.9), "r2")]
    assert versions[1].metrics["test_rmse"] == 9.5


def test_an_automl_production_is_deployed_as_vertexs_own_model_and_answers_in_skyloops_terms(gcp_env: Any) -> None:
    """The rollout's deployer deploys the version Vertex made (no upload, no serving image) and reads
    AutoML's answers ({classes, scores}) as the class the smoke test checks; batch scoring refuses it."""
    from google.cloud import aiplatform_v1

    from skyloop.errors import NotSupported
    from skyloop.events import BatchPredictionRequested
    from skyloop.handlers.score import on_batch
    from skyloop.serving.deployment import check_predictions, smoke_rows

    env = gcp_env
    assert _upload(env, {"target": "churned", "model": "automl"}).status_code == 200
    [name] = env.pipelines.pipelines
    uploaded = env.pipelines.finish(name, "PIPELINE_STATE_SUCCEEDED", metrics=CLASSIFICATION)
    _tick(env)
    v = env.adapters.registry.get(GROUP, 1)
    env.adapters.deployer.deploy(GROUP, "staging", v)
    env.endpoints.finish_all()
    [deployed] = [d for ep in env.endpoints.endpoints.values() for d in ep.deployed_models]
    assert deployed.model == uploaded

    class AutoMLAnswers:  # Vertex's tabular classification answer for each instance
        def predict(self, request: Any) -> Any:
            out = aiplatform_v1.PredictResponse(deployed_model_id=deployed.id)
            out.predictions.extend([{"classes": ["0", "1"], "scores": [0.2, 0.8] if i % 2 else [0.7, 0.3]}
                                    for i, _ in enumerate(request.instances)])
            return out

    env.adapters.deployer.prediction = AutoMLAnswers()
    rows = smoke_rows(v.lineage, 4)
    answers = env.adapters.deployer.predict(GROUP, rows, slot="staging")
    assert answers == ["0", "1", "0", "1"] and check_predictions(v, answers, 4) is None

    env.adapters.registry.set_alias(GROUP, "production", 1)
    env.gcs.client.bucket(env.gcs.bucket).blob(f"batch/{GROUP}/rows.csv").upload_from_filename(str(CHURN))
    with pytest.raises(NotSupported, match=r"v1 is a model Vertex AI AutoML serves itself"):
        on_batch(BatchPredictionRequested(uri=f"gs://{env.gcs.bucket}/batch/{GROUP}/rows.csv", size=10), env.adapters)


def test_the_sdk_constants_and_a_tick_with_nothing_recorded() -> None:
    from google.cloud import aiplatform

    from skyloop.clouds.gcp import automl

    assert automl.TABULAR_DATASET_SCHEMA == aiplatform.schema.dataset.metadata.tabular
    assert automl.AUTOML_TABULAR_DEFINITION == aiplatform.schema.training_job.definition.automl_tabular
    sample = json.loads((harness.EVENTS / "pubsub-training-check-tick.json").read_text())
    assert json.loads(base64.b64decode(sample["data"]["message"]["data"])) == {"type": "TrainingCheckDue"}
