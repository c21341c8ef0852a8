# Least privilege: each function's account gets what its adapters call, on the resources they
# call it on (bucket, topic, workflow, service); project-level only where the API has no
# resource-level grant (Vertex AI, Cloud Monitoring).

locals {
  # function -> roles on the training bucket (datasets, models, cards, serving folders)
  training_bucket = {
    train        = "roles/storage.objectAdmin"  # reads the CSV, writes the model, card and serving folder
    deploy       = "roles/storage.objectViewer" # reads a version's card and artifact
    detect       = "roles/storage.objectViewer" # reads cards for RCA
    remediate    = "roles/storage.objectViewer" # a rollback re-verifies the artifact
    rollout-step = "roles/storage.objectViewer" # deploy verifies the artifact's sha256
    notify       = "roles/storage.objectViewer" # reads a version's card, for what waits for approval
  }
  # function -> the topics it publishes to
  publishes = {
    train        = ["events", "dead-letters"]
    deploy       = ["events", "dead-letters"]
    detect       = ["events", "remediation", "dead-letters"]
    remediate    = ["events", "dead-letters"]
    rollout-step = ["events"]
    notify       = ["notices", "notifications", "dead-letters"]
  }
  publish_pairs = merge([for fn, topics in local.publishes : { for t in topics : "${fn}/${t}" => { fn = fn, topic = t } }]...)
  # Vertex AI: registry and endpoints. There is no resource-level IAM for models and endpoints, so
  # the grants are project-wide: read-only where reading is all, and elsewhere a custom role of the
  # exact permissions the function's calls need (the Vertex AI User role holds hundreds more: every
  # dataset, pipeline, notebook and feature store in the project). A long-running operation is
  # polled with the get permission of its resource.
  vertex = {
    deploy = "roles/aiplatform.viewer" # re-reads the approved version before starting the rollout
    detect = "roles/aiplatform.viewer" # reads the registry for RCA and canary state
    notify = "roles/aiplatform.viewer" # the versions waiting for approval, the groups' deployments
  }
  vertex_registry = ["aiplatform.models.get", "aiplatform.models.list", "aiplatform.models.update"]
  vertex_endpoints = ["aiplatform.endpoints.create", "aiplatform.endpoints.get", "aiplatform.endpoints.list",
  "aiplatform.endpoints.update", "aiplatform.endpoints.deploy", "aiplatform.endpoints.undeploy"]
  vertex_roles = {
    train = { title = "Skyloop train: register model versions, run training, AutoML and batch prediction jobs",
      permissions = concat(local.vertex_registry, ["aiplatform.models.upload", "aiplatform.customJobs.create",
        "aiplatform.customJobs.get", "aiplatform.customJobs.list", "aiplatform.batchPredictionJobs.create",
        "aiplatform.batchPredictionJobs.get", "aiplatform.batchPredictionJobs.list",
        # the automl family: the managed dataset over an upload, its AutoML pipeline, the evaluation
        "aiplatform.datasets.create", "aiplatform.datasets.list", "aiplatform.trainingPipelines.create",
    "aiplatform.trainingPipelines.get", "aiplatform.trainingPipelines.list", "aiplatform.modelEvaluations.list"]) }
    remediate = { title = "Skyloop remediate: roll a model group back on its endpoints",
    permissions = concat(local.vertex_registry, local.vertex_endpoints) }
    rollout-step = { title = "Skyloop rollout: deploy, probe and shift traffic between versions",
    permissions = concat(local.vertex_registry, local.vertex_endpoints, ["aiplatform.endpoints.predict"]) }
  }
  # Cloud Run targets: detect reads each (root-cause analysis), remediate changes each
  run_targets = { for k, t in var.targets : k => t.name if t.kind == "cloud-run" }
  run_grants = merge(
    { for k, name in local.run_targets : "detect/${k}" => { fn = "detect", target = name, role = "roles/run.viewer" } },
    { for k, name in local.run_targets : "remediate/${k}" => { fn = "remediate", target = name, role = "roles/run.developer" } },
  )
  # Managed Instance Groups have no IAM resource in the provider: project-wide custom roles of the
  # exact permissions. detect reads them; remediate resizes and rolls them (compute.instanceAdmin.v1
  # also allowed setting instance metadata, so SSH keys, on every VM of the project)
  mig_roles = length([for t in var.targets : t if t.kind == "mig"]) > 0 ? {
    detect    = { title = "Skyloop: read the Managed Instance Groups it remediates", permissions = ["compute.instanceGroupManagers.get"] }
    remediate = { title = "Skyloop: resize and roll the Managed Instance Groups it remediates", permissions = ["compute.instanceGroupManagers.get", "compute.instanceGroupManagers.update", "compute.instanceTemplates.useReadOnly"] }
  } : {}
  custom_roles = merge(
    { for fn, r in local.vertex_roles : "vertex/${fn}" => merge(r, { fn = fn }) },
    { for fn, r in local.mig_roles : "mig/${fn}" => merge(r, { fn = fn }) },
  )
}

resource "google_storage_bucket_iam_member" "training" {
  for_each = local.training_bucket
  bucket   = google_storage_bucket.bucket["training"].name
  role     = each.value
  member   = "serviceAccount:${google_service_account.fn[each.key].email}"
}

resource "google_storage_bucket_iam_member" "state" {
  for_each = local.functions # every function keeps idempotency records and state
  bucket   = google_storage_bucket.bucket["state"].name
  role     = "roles/storage.objectAdmin"
  member   = "serviceAccount:${google_service_account.fn[each.key].email}"
}

resource "google_pubsub_topic_iam_member" "publishes" {
  for_each = local.publish_pairs
  topic    = google_pubsub_topic.topic[each.value.topic].id
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

resource "google_project_iam_member" "vertex" {
  for_each = local.vertex
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.fn[each.key].email}"
}

resource "google_project_iam_member" "detect_reads_metrics" {
  project = var.project
  role    = "roles/monitoring.viewer" # list_time_series for the incident's service window
  member  = "serviceAccount:${google_service_account.fn["detect"].email}"
}

# train submits Vertex AI custom jobs and batch prediction jobs that run as the training-job account
resource "google_service_account_iam_member" "train_acts_as_training_job" {
  service_account_id = google_service_account.training_job.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.fn["train"].email}"
}

resource "google_storage_bucket_iam_member" "training_job_reads_and_writes" {
  bucket = google_storage_bucket.bucket["training"].name
  role   = "roles/storage.objectAdmin" # reads the dataset, code and batch/ rows; writes training-jobs/ and predictions/<group>/jobs/
  member = "serviceAccount:${google_service_account.training_job.email}"
}

# deploy starts executions of the rollout workflow. The Google provider has no IAM resource for a
# single workflow (google_workflows_workflow_iam_member does not exist: `terraform plan` failed),
# and Workflows grants its roles at the project at the lowest; resource attributes in an IAM
# condition are honoured only by the services IAM lists, so a condition on the workflow's name
# could deny instead of narrow. The invoker role is the narrowest there is: start and read
# executions, nothing else (tests/contract/gcp_schema.py checks every type against the provider).
resource "google_project_iam_member" "deploy_starts_rollouts" {
  project = var.project
  role    = "roles/workflows.invoker"
  member  = "serviceAccount:${google_service_account.fn["deploy"].email}"
}

# The targets (local.run_grants, local.mig_roles): detect reads each for root-cause analysis (which
# model group a service serves; denied, describe was retried and the incident lost), remediate
# changes each, and nothing else (project-wide run.developer let it change every service).
resource "google_cloud_run_v2_service_iam_member" "target" {
  for_each = local.run_grants
  project  = var.project
  location = element(split("/", each.value.target), 3)
  name     = element(split("/", each.value.target), 5)
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

# The custom roles (local.vertex_roles, local.mig_roles): APIs with no resource-level IAM, granted
# project-wide as exactly the permissions each function's calls need, one role per function and API
resource "google_project_iam_custom_role" "exact" {
  for_each    = local.custom_roles
  project     = var.project
  role_id     = "${replace(var.name, "-", "_")}_${replace(each.key, "/[-/]/", "_")}"
  title       = each.value.title
  permissions = each.value.permissions
}

resource "google_project_iam_member" "exact" {
  for_each = local.custom_roles
  project  = var.project
  role     = google_project_iam_custom_role.exact[each.key].id
  member   = "serviceAccount:${google_service_account.fn[each.value.fn].email}"
}

# remediate: Cloud Run targets (scaling, new revisions) and Managed Instance Groups, each grant on
# the targets alone (a project-wide run.developer let it change every service in the project); the
# Cloud Run grants are google_cloud_run_v2_service_iam_member.target, the MIG role above
resource "google_service_account_iam_member" "remediate_acts_as_run_runtime" {
  for_each           = toset(var.cloud_run_runtime_service_accounts)
  service_account_id = "projects/${var.project}/serviceAccounts/${each.value}"
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.fn["remediate"].email}"
}

# ---- callers: Eventarc, the remediation push subscription, the workflow ------------------------
resource "google_project_iam_member" "trigger_receives" {
  project = var.project
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.trigger.email}"
}

resource "google_cloud_run_service_iam_member" "trigger_invokes" {
  for_each = toset(["train", "deploy", "detect"])
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.trigger.email}"
}

resource "google_cloud_run_service_iam_member" "push_invokes_remediate" {
  location = var.region
  service  = google_cloudfunctions2_function.fn["remediate"].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

resource "google_cloud_run_service_iam_member" "workflow_invokes_rollout_step" {
  location = var.region
  service  = google_cloudfunctions2_function.fn["rollout-step"].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.workflow.email}"
}

# ---- Google's service agents -----------------------------------------------------------------
# Cloud Storage publishes the bucket's events for Eventarc
resource "google_project_iam_member" "gcs_agent_publishes" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${local.number}@gs-project-accounts.iam.gserviceaccount.com"
}

# Pub/Sub: OIDC tokens for the push subscription, and its dead-letter policy (publish to the
# dead-letter topic, acknowledge on the source subscription)
resource "google_service_account_iam_member" "pubsub_agent_signs_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${local.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  topic  = google_pubsub_topic.topic["dead-letters"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${local.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_source" {
  subscription = google_pubsub_subscription.remediation_push.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${local.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# Vertex AI's service agent runs AutoML pipelines: it reads the uploads a managed dataset names
# (only the training bucket's objects, read-only)
resource "google_storage_bucket_iam_member" "vertex_agent_reads_datasets" {
  bucket = google_storage_bucket.bucket["training"].name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:service-${local.number}@gcp-sa-aiplatform.iam.gserviceaccount.com"
}

# Cloud Monitoring publishes incidents to the alerts topic
resource "google_pubsub_topic_iam_member" "monitoring_agent_alerts" {
  topic  = google_pubsub_topic.topic["alerts"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${local.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
}

# the MIG roles' earlier addresses (google_project_iam_custom_role.mig): moved, not recreated (a
# deleted custom role keeps its ID for 7 to 44 days, so a recreate under the same ID would fail)
moved {
  from = google_project_iam_custom_role.mig["detect"]
  to   = google_project_iam_custom_role.exact["mig/detect"]
}

moved {
  from = google_project_iam_custom_role.mig["remediate"]
  to   = google_project_iam_custom_role.exact["mig/remediate"]
}

moved {
  from = google_project_iam_member.mig["detect"]
  to   = google_project_iam_member.exact["mig/detect"]
}

moved {
  from = google_project_iam_member.mig["remediate"]
  to   = google_project_iam_member.exact["mig/remediate"]
}
