"""The Terraform module (infra/gcp) passes checkov (each suppressed finding carries its reason) and
``terraform fmt -check`` where the binary exists, and its promises hold on the parsed HCL: every
function is an entry point of functions/gcp/main.py with the triggers the decoder takes, retries
on, the remediation subscription dead-letters, one service account per function with grants on
resources, and every setting it writes is one Skyloop reads. ``terraform validate`` needs the
Google provider, which cannot be downloaded here (README, "Deploy to GCP")."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .iac import checkov, failed

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra" / "gcp"


def _hcl() -> dict[str, Any]:
    hcl2 = pytest.importorskip("hcl2")
    merged: dict[str, Any] = {}
    for tf in sorted(MODULE.glob("*.tf")):
        with tf.open() as fh:
            for key, blocks in hcl2.load(fh).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def _resources(kind: str) -> dict[str, Any]:
    out = {}
    for block in _hcl()["resource"]:
        for k, named in block.items():
            if k == kind:
                out.update(named)
    return out


def _locals() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in _hcl()["locals"]:
        out.update(block)
    return out


def _a(value: Any) -> Any:
    """An attribute's value (this python-hcl2 wraps each in a one-item list; blocks stay lists)."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _text() -> str:
    return "\n".join(tf.read_text() for tf in sorted(MODULE.glob("*.tf")))


def test_checkov_passes_with_every_skip_explained() -> None:
    report = checkov("-d", str(MODULE), "--framework", "terraform")
    assert report["summary"]["failed"] == 0, failed(report)
    assert report["summary"]["passed"] > 50
    for skip in re.findall(r"#checkov:skip=([A-Z_0-9]+):?(.*)", _text()):
        assert len(skip[1].strip()) > 20, f"checkov skip {skip[0]} has no reason"


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed (no package registry has it); checkov and the HCL checks still run")
    res = subprocess.run([terraform, "fmt", "-check", "-diff", str(MODULE)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def _entry_points() -> dict[str, str]:
    """functions/gcp/main.py's decorated functions -> their signature."""
    tree = ast.parse((ROOT / "functions/gcp/main.py").read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                if isinstance(d, ast.Attribute) and isinstance(d.value, ast.Name) and d.value.id == "functions_framework":
                    out[node.name] = d.attr
    return out


def test_every_function_is_an_entry_point_with_its_trigger() -> None:
    fn = _resources("google_cloudfunctions2_function")["fn"]
    local = _locals()
    entry = _a(local["entry_points"])
    assert set(entry.values()) == set(_entry_points()) and _entry_points()["rollout_step"] == "http"
    assert _a(fn["build_config"][0]["runtime"]) == "python312"
    triggers = {}
    topics = _a(local["trigger_topics"])
    for dyn in fn["dynamic"]:
        body = dyn["event_trigger"]
        condition = _a(body["for_each"])
        content = body["content"][0]
        if "local.trigger_topics" in condition:
            for name, topic in topics.items():
                triggers[name] = {**content, "pubsub_topic": topic}
        else:
            triggers[re.search(r'each.key == "([\w-]+)"', condition).group(1)] = content
    assert set(triggers) == {"train", "deploy", "detect", "notify"}
    assert all(_a(t["retry_policy"]) == "RETRY_POLICY_RETRY" for t in triggers.values())  # a raise is redelivered
    assert _a(triggers["train"]["event_type"]) == "google.cloud.storage.object.v1.finalized"
    assert "training" in _a(triggers["train"]["event_filters"][0]["value"])
    assert "events" in _a(triggers["deploy"]["pubsub_topic"]) and "alerts" in _a(triggers["detect"]["pubsub_topic"])
    assert "notices" in _a(triggers["notify"]["pubsub_topic"])  # the scheduler's ticks and the queued notices


def test_vertex_approvals_reach_deploy_for_every_method_the_decoder_takes() -> None:
    """Every approving call under every surface that logs it: the console logs
    google.cloud.aiplatform.ui.ModelService.*, gcloud beta v1beta1; matching v1 alone, console
    approvals never reached deploy."""
    from skyloop.clouds.gcp.events import APPROVAL_METHODS, APPROVAL_SURFACES

    trigger = _resources("google_eventarc_trigger")["approval"]
    assert _a(trigger["for_each"]) == "${local.approval_calls}"
    calls = _a(_locals()["approval_calls"])
    surfaces = set(re.findall(r"\[([^\]]*)\]", calls)[0].replace('"', "").replace("'", "").replace(" ", "").split(","))
    methods = set(re.findall(r"\[([^\]]*)\]", calls)[1].replace('"', "").replace("'", "").replace(" ", "").split(","))
    assert surfaces == set(APPROVAL_SURFACES) and {f"ModelService.{m}" for m in methods} == set(APPROVAL_METHODS), calls
    assert "google.cloud.aiplatform.${pair[0]}.ModelService.${pair[1]}" in calls
    values = {_a(c["attribute"]): _a(c["value"]) for c in trigger["matching_criteria"]}
    assert values["type"] == "google.cloud.audit.log.v1.written" and values["serviceName"] == "aiplatform.googleapis.com"
    assert 'fn[\\"deploy\\"]' in json.dumps(trigger["destination"])


def test_remediation_is_pushed_with_a_dead_letter_policy_and_oidc() -> None:
    sub = _resources("google_pubsub_subscription")["remediation_push"]
    assert "dead-letters" in _a(sub["dead_letter_policy"][0]["dead_letter_topic"])
    assert "remediate" in _a(sub["push_config"][0]["push_endpoint"])
    assert "push" in _a(sub["push_config"][0]["oidc_token"][0]["service_account_email"])
    default = _a(next(v for b in _hcl()["variable"] for k, v in b.items() if k == "max_delivery_attempts")["default"])
    assert 5 <= default <= 100  # Pub/Sub's bounds


def test_least_privilege() -> None:
    text = _text()
    assert "allUsers" not in text and "allAuthenticatedUsers" not in text
    assert not re.search(r'roles/(owner|editor|viewer)"', text), "no basic roles"
    project_roles = re.findall(r'resource "google_project_iam_member" "(\w+)" \{[^}]*?role\s*=\s*([^\n]+)', text, flags=re.S)
    allowed = {"vertex": "no resource-level IAM for Vertex AI models and endpoints: read-only viewers",
               "exact": "custom roles of the exact permissions each function calls, for APIs with no resource-level "
                        "IAM: Vertex AI's models and endpoints, Managed Instance Groups",
               "detect_reads_metrics": "time series have no resource-level IAM",
               "trigger_receives": "Eventarc's receiver role is project-level",
               "gcs_agent_publishes": "the GCS service agent publishes the bucket's events",
               "deploy_starts_rollouts": "Workflows has no per-workflow IAM resource in the provider; the invoker role only starts and reads executions",
               }
    assert {name for name, _ in project_roles} <= set(allowed), project_roles
    # detect may read every target it analyses (a denied describe once lost the incident)
    assert "run.viewer" in text and "compute.instanceGroupManagers.get" in text
    assert "target" in _resources("google_cloud_run_v2_service_iam_member") and "roles/run.viewer" in text
    # remediate changes its targets alone: no project-wide run.developer, no instanceAdmin (SSH keys on every VM)
    assert "roles/compute.instanceAdmin" not in text and "run.developer" not in {r.strip('"') for _, r in project_roles}
    assert "roles/aiplatform.user" not in text and "roles/aiplatform.admin" not in text
    assert '"remediate/${k}"' in text and '"detect/${k}"' in text
    # bucket and topic grants are on the bucket and the topic (the GCS agent's publisher role aside)
    assert not [n for n, r in project_roles if ("storage" in r or "pubsub" in r) and n != "gcs_agent_publishes"]
    accounts = _resources("google_service_account")
    assert "fn" in accounts and {"trigger", "push", "workflow", "training_job"} <= set(accounts)


def test_every_setting_it_writes_is_one_skyloop_reads() -> None:
    from skyloop.clouds.gcp.config import GcpSettings

    names = set(re.findall(r"\b(SKYLOOP_GCP_[A-Z_]+)\s*=", _text()))
    known = {f"SKYLOOP_GCP_{f.upper()}" for f in GcpSettings.model_fields}
    assert names and names <= known, names - known


def test_the_workflow_source_is_the_generated_file() -> None:
    wf = _resources("google_workflows_workflow")["rollout"]
    assert "workflows/rollout.json" in _a(wf["source_contents"])
    assert "ROLLOUT_STEP_URL" in _a(wf["user_env_vars"])


def test_every_resource_and_argument_is_in_the_google_provider_schema() -> None:
    """`terraform plan` would refuse what the provider lacks; the schema ships in a registry package
    (tests/contract/gcp_schema.py). google_workflows_workflow_iam_member is not a resource of it."""
    from .gcp_schema import problems

    assert problems(sorted((ROOT / "infra" / "gcp").glob("*.tf"))) == []


def test_the_schema_check_catches_a_broken_configuration(tmp_path: Path) -> None:
    from .gcp_schema import problems

    (tmp_path / "broken.tf").write_text('''
resource "google_workflows_workflow_iam_member" "x" {
  workflow = "rollout"
  role     = "roles/workflows.invoker"
  member   = "user:someone@example.com"
}

resource "google_storage_bucket" "b" {
  name    = "b"
  lokation = "US"
  lifecycle_rule {
    condition { age = 30 }
    acton { type = "Delete" }
  }
}
''')
    found = problems([tmp_path / "broken.tf"])
    assert any("google_workflows_workflow_iam_member.x: the Google provider" in p for p in found), found
    assert any("google_storage_bucket.b: the provider has no argument 'lokation'" in p for p in found), found
    assert any("google_storage_bucket.b.lifecycle_rule: the provider has no argument 'acton'" in p for p in found), found


# every Vertex AI client method the adapters call -> the permission it needs (a long-running
# operation is polled with its resource's get)
VERTEX_CALLS = {
    "upload_model": "aiplatform.models.upload", "get_model": "aiplatform.models.get",
    "list_models": "aiplatform.models.list", "list_model_versions": "aiplatform.models.list",
    "update_model": "aiplatform.models.update", "merge_version_aliases": "aiplatform.models.update",
    "create_custom_job": "aiplatform.customJobs.create", "get_custom_job": "aiplatform.customJobs.get",
    "list_custom_jobs": "aiplatform.customJobs.list", "create_endpoint": "aiplatform.endpoints.create",
    "get_endpoint": "aiplatform.endpoints.get", "list_endpoints": "aiplatform.endpoints.list",
    "update_endpoint": "aiplatform.endpoints.update", "deploy_model": "aiplatform.endpoints.deploy",
    "undeploy_model": "aiplatform.endpoints.undeploy", "predict": "aiplatform.endpoints.predict",
    "get_operation": "aiplatform.endpoints.get",  # settled() reads the endpoint's own operations
    "create_batch_prediction_job": "aiplatform.batchPredictionJobs.create",
    "get_batch_prediction_job": "aiplatform.batchPredictionJobs.get",
    "list_batch_prediction_jobs": "aiplatform.batchPredictionJobs.list",
    "create_dataset": "aiplatform.datasets.create", "list_datasets": "aiplatform.datasets.list",
    "create_training_pipeline": "aiplatform.trainingPipelines.create",
    "get_training_pipeline": "aiplatform.trainingPipelines.get",
    "list_training_pipelines": "aiplatform.trainingPipelines.list",
    "list_model_evaluations": "aiplatform.modelEvaluations.list",
}
AUTOML = {VERTEX_CALLS[c] for c in ("create_dataset", "list_datasets", "create_training_pipeline", "get_training_pipeline",
                                    "list_training_pipelines", "list_model_evaluations")}


def test_vertex_grants_are_the_permissions_the_adapters_call() -> None:
    """roles/aiplatform.user, project-wide, let train, remediate and rollout-step touch every
    Vertex AI resource in the project. Each now holds a custom role: every client method the
    adapters call maps to a permission, and each function's role holds what its calls need."""
    calls = set()
    for f in ("vertex.py", "endpoints.py", "jobs.py", "batch.py", "automl.py"):
        src = (ROOT / "shared/skyloop/clouds/gcp" / f).read_text()
        calls |= set(re.findall(r"\.(?:client|endpoints|prediction|pipelines|datasets|models)\.(\w+)\(", src))
    assert calls and calls <= set(VERTEX_CALLS), calls - set(VERTEX_CALLS)
    text = (ROOT / "infra/gcp/iam.tf").read_text()
    registry = {"aiplatform.models.get", "aiplatform.models.list", "aiplatform.models.update"}
    endpoints = {VERTEX_CALLS[c] for c in ("create_endpoint", "get_endpoint", "list_endpoints", "update_endpoint",
                                             "deploy_model", "undeploy_model")}
    need = {"train": registry | {"aiplatform.models.upload", "aiplatform.customJobs.create", "aiplatform.customJobs.get",
                                 "aiplatform.customJobs.list", "aiplatform.batchPredictionJobs.create",
                                 "aiplatform.batchPredictionJobs.get", "aiplatform.batchPredictionJobs.list"} | AUTOML,
            "remediate": registry | endpoints, "rollout-step": registry | endpoints | {"aiplatform.endpoints.predict"}}
    block = text.split("vertex_roles = {", 1)[1].split("\n  }\n", 1)[0]
    for fn, perms in need.items():
        entry = block.split(f"{fn} = {{", 1)[1].split("}", 1)[0]
        named = set(re.findall(r'"(aiplatform\.[\w.]+)"', entry))
        refs = {"vertex_registry": registry, "vertex_endpoints": endpoints}
        granted = named | set().union(*(refs[r] for r in re.findall(r"local\.(vertex_\w+)", entry)))
        assert granted == perms, (fn, granted ^ perms)
