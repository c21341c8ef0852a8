# Skyloop on Google Cloud: Cloud Functions (2nd gen) on Eventarc and Pub/Sub, Vertex AI, Cloud
# Workflows for the rollout. Build first: `python infra/gcp/package.py`, then push the serving
# image (build/gcp/serving-image) to Artifact Registry and `terraform apply -var project=...
# -var serving_image=...`. See README.md, "Deploy to GCP".

data "google_project" "this" {}

locals {
  number    = data.google_project.this.number
  functions = toset(["train", "deploy", "detect", "remediate", "rollout-step", "notify"])
  topics    = toset(["events", "alerts", "remediation", "dead-letters", "notices", "notifications", "training-checks"])
  # the settings every function reads (skyloop.clouds.gcp.config.GcpSettings)
  env = {
    SKYLOOP_GCP_PROJECT                  = var.project
    SKYLOOP_GCP_REGION                   = var.region
    SKYLOOP_GCP_BUCKET                   = google_storage_bucket.bucket["training"].name
    SKYLOOP_GCP_STATE_BUCKET             = google_storage_bucket.bucket["state"].name
    SKYLOOP_GCP_EVENTS_TOPIC             = google_pubsub_topic.topic["events"].name
    SKYLOOP_GCP_REMEDIATION_TOPIC        = google_pubsub_topic.topic["remediation"].name
    SKYLOOP_GCP_DEAD_LETTER_TOPIC        = google_pubsub_topic.topic["dead-letters"].name
    SKYLOOP_GCP_REMEDIATION_SUBSCRIPTION = google_pubsub_subscription.remediation_pull.name
    SKYLOOP_GCP_DEAD_LETTER_SUBSCRIPTION = google_pubsub_subscription.dead_letters.name
    SKYLOOP_GCP_SERVING_IMAGE            = var.serving_image
    SKYLOOP_GCP_TRAINING_SERVICE_ACCOUNT = google_service_account.training_job.email
    SKYLOOP_GCP_ENDPOINT_PREFIX          = var.name
    SKYLOOP_GCP_TARGETS                  = jsonencode(var.targets)
  }
  # the rollout steps poll instead of waiting; only the rollout-step function knows the workflow
  function_env = {
    train        = {}
    deploy       = { SKYLOOP_GCP_ROLLOUT_WORKFLOW = local.workflow_id }
    detect       = {}
    remediate    = {}
    rollout-step = { SKYLOOP_GCP_ENDPOINT_WAIT_SECONDS = "0" }
    # people are told: the notices it queues and delivers, the topic people subscribe to
    notify = { SKYLOOP_GCP_NOTICES_TOPIC = google_pubsub_topic.topic["notices"].name,
    SKYLOOP_GCP_NOTIFICATIONS_TOPIC = google_pubsub_topic.topic["notifications"].name }
  }
  # the channels' secrets, as Secret Manager references in the notify function's environment
  notify_secrets = { for k, v in {
    SKYLOOP_NOTIFICATIONS__WEBHOOK_URL           = var.webhook_secret
    SKYLOOP_NOTIFICATIONS__PAGERDUTY_ROUTING_KEY = var.pagerduty_secret
  } : k => v if v != "" }
  trigger_topics = { deploy = "events", detect = "alerts", notify = "notices" }
  # by name, not by reference: the workflow refers to the rollout-step function, another instance of the same resource
  workflow_id  = "projects/${var.project}/locations/${var.region}/workflows/${var.name}-rollout"
  entry_points = { train = "train", deploy = "deploy", detect = "detect", remediate = "remediate", rollout-step = "rollout_step", notify = "notify" }
}

# ---- storage ---------------------------------------------------------------------------------
# Datasets, models and cards; state and idempotency records (objects written with
# if_generation_match) in a bucket of their own, since the train function's trigger watches the
# training bucket and each state write there would invoke it for nothing; the functions' source.
resource "google_storage_bucket" "bucket" {
  for_each                    = toset(["training", "state", "sources"])
  name                        = "${var.name}-${each.key}-${var.project}"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  dynamic "encryption" {
    for_each = var.kms_key == "" ? [] : [var.kms_key]
    content {
      default_kms_key_name = encryption.value
    }
  }
  logging {
    log_bucket = google_storage_bucket.logs.name
  }
}

resource "google_storage_bucket" "logs" {
  #checkov:skip=CKV_GCP_62:the access-log bucket cannot log to itself
  name                        = "${var.name}-access-logs-${var.project}"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
}

resource "google_storage_bucket_object" "source" {
  name   = "functions/source-${filemd5(var.source_zip)}.zip"
  bucket = google_storage_bucket.bucket["sources"].name
  source = var.source_zip
}

# ---- Pub/Sub ---------------------------------------------------------------------------------
resource "google_pubsub_topic" "topic" {
  for_each     = local.topics
  name         = "${var.name}-${each.key}"
  kms_key_name = var.kms_key == "" ? null : var.kms_key
}

# Remediation requests reach the remediate function on this push subscription, which carries the
# dead-letter policy: after max_delivery_attempts the request goes to the dead-letter topic.
resource "google_pubsub_subscription" "remediation_push" {
  name                 = "${var.name}-remediation-push"
  topic                = google_pubsub_topic.topic["remediation"].id
  ack_deadline_seconds = 600
  push_config {
    push_endpoint = google_cloudfunctions2_function.fn["remediate"].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.push.email
    }
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["dead-letters"].id
    max_delivery_attempts = var.max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Pull subscriptions for operators' tools (`skyloop` against this stack): the requests waiting,
# and what was dead-lettered (a topic's messages are kept only by a subscription).
resource "google_pubsub_subscription" "remediation_pull" {
  name                       = "${var.name}-remediation-pull"
  topic                      = google_pubsub_topic.topic["remediation"].id
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "dead_letters" {
  name                       = "${var.name}-dead-letters-pull"
  topic                      = google_pubsub_topic.topic["dead-letters"].id
  message_retention_duration = "604800s"
}

# Cloud Monitoring incidents (schema 1.2) reach detect through the alerts topic.
resource "google_monitoring_notification_channel" "alerts" {
  display_name = "${var.name} detect"
  type         = "pubsub"
  labels = {
    topic = google_pubsub_topic.topic["alerts"].id
  }
}

# ---- identities: one per function, and one per caller ----------------------------------------
resource "google_service_account" "fn" {
  for_each     = local.functions
  account_id   = "${var.name}-${each.key}"
  display_name = "Skyloop ${each.key} function"
}

resource "google_service_account" "trigger" {
  account_id   = "${var.name}-trigger"
  display_name = "Skyloop Eventarc triggers (receive events, invoke the functions)"
}

resource "google_service_account" "push" {
  account_id   = "${var.name}-push"
  display_name = "Skyloop remediation push subscription (invokes remediate)"
}

resource "google_service_account" "workflow" {
  account_id   = "${var.name}-workflow"
  display_name = "Skyloop rollout workflow (invokes rollout-step)"
}

resource "google_service_account" "training_job" {
  account_id   = "${var.name}-training-job"
  display_name = "Skyloop Vertex AI training jobs"
}

# ---- functions ---------------------------------------------------------------------------------
resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions
  name     = "${var.name}-${each.key}"
  location = var.region

  build_config {
    runtime     = "python312"
    entry_point = local.entry_points[each.key]
    source {
      storage_source {
        bucket = google_storage_bucket.bucket["sources"].name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.fn[each.key].email
    available_memory               = each.key == "train" ? "4Gi" : "1Gi"
    available_cpu                  = each.key == "train" ? "2" : "1"
    timeout_seconds                = each.key == "train" ? 540 : 300
    max_instance_count             = each.key == "train" ? 5 : 20
    ingress_settings               = var.ingress # Eventarc, Pub/Sub push and Workflows count as internal
    all_traffic_on_latest_revision = true
    environment_variables          = merge(local.env, local.function_env[each.key])

    dynamic "secret_environment_variables" {
      for_each = each.key == "notify" ? local.notify_secrets : {}
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  dynamic "event_trigger" {
    for_each = each.key == "train" ? [1] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.storage.object.v1.finalized"
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.trigger.email
      event_filters {
        attribute = "bucket"
        value     = google_storage_bucket.bucket["training"].name
      }
    }
  }

  # deploy: domain events (ModelVersionApproved, CanaryPassed); detect: Cloud Monitoring incidents and metric batches
  dynamic "event_trigger" {
    for_each = contains(keys(local.trigger_topics), each.key) ? [local.trigger_topics[each.key]] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = google_pubsub_topic.topic[event_trigger.value].id
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.trigger.email
    }
  }

  depends_on = [google_project_iam_member.gcs_agent_publishes]
}

# Vertex AI approvals reach deploy through Cloud Audit Logs; Eventarc matches a method name
# exactly, so one trigger per approving call (the alias merged, the status label updated).
# Each call under every surface that logs it: the v1 API, v1beta1 (gcloud beta) and the console
# (google.cloud.aiplatform.ui.*); matching v1 alone, console approvals never reached deploy.
locals {
  approval_calls = {
    for pair in setproduct(["v1", "v1beta1", "ui"], ["MergeVersionAliases", "UpdateModel"]) :
    "${pair[0]}-${lower(pair[1])}" => "google.cloud.aiplatform.${pair[0]}.ModelService.${pair[1]}"
  }
}

resource "google_eventarc_trigger" "approval" {
  for_each        = local.approval_calls
  name            = "${var.name}-approval-${each.key}"
  location        = var.region
  service_account = google_service_account.trigger.email
  matching_criteria {
    attribute = "type"
    value     = "google.cloud.audit.log.v1.written"
  }
  matching_criteria {
    attribute = "serviceName"
    value     = "aiplatform.googleapis.com"
  }
  matching_criteria {
    attribute = "methodName"
    value     = each.value
  }
  destination {
    cloud_run_service {
      service = google_cloudfunctions2_function.fn["deploy"].service_config[0].service
      region  = var.region
    }
  }
}

resource "google_workflows_workflow" "rollout" {
  name            = "${var.name}-rollout"
  region          = var.region
  description     = "Skyloop rollout: staging -> smoke -> canary -> probe -> bake | promote, or abort (generated by skyloop.clouds.gcp.workflows)"
  service_account = google_service_account.workflow.id
  source_contents = file("${path.module}/workflows/rollout.json")
  user_env_vars = {
    ROLLOUT_STEP_URL = google_cloudfunctions2_function.fn["rollout-step"].service_config[0].uri
  }
  crypto_key_name = var.kms_key == "" ? null : var.kms_key
}

# ---- Cloud Scheduler's ticks, each on a topic of its own ---------------------------------------
# notify: every minute it looks at the committed state and queues what is new on the notices
# topic, whose messages it then delivers to each channel (skyloop.notify).
# training-check: a Vertex AI AutoML pipeline (the automl family) sends no event when it ends, so
# every ten minutes the train function looks at the runs it recorded (one GetTrainingPipeline
# each, none when nothing is open) and registers what ended (skyloop.clouds.gcp.automl). Its tick
# reaches train through the trigger below, since the function's own trigger is the training bucket's.
locals {
  ticks = {
    notify         = { schedule = "* * * * *", topic = "notices", type = "NotifyTick" }
    training-check = { schedule = "*/10 * * * *", topic = "training-checks", type = "TrainingCheckDue" }
  }
}

resource "google_cloud_scheduler_job" "tick" {
  for_each = local.ticks
  name     = "${var.name}-${each.key}"
  region   = var.region
  schedule = each.value.schedule
  pubsub_target {
    topic_name = google_pubsub_topic.topic[each.value.topic].id
    data       = base64encode(jsonencode({ type = each.value.type }))
  }
}

# the notify tick's earlier address: moved, not recreated
moved {
  from = google_cloud_scheduler_job.notify
  to   = google_cloud_scheduler_job.tick["notify"]
}

resource "google_eventarc_trigger" "training_check" {
  name            = "${var.name}-training-check"
  location        = var.region
  service_account = google_service_account.trigger.email
  matching_criteria {
    attribute = "type"
    value     = "google.cloud.pubsub.topic.v1.messagePublished"
  }
  transport {
    pubsub {
      topic = google_pubsub_topic.topic["training-checks"].id
    }
  }
  destination {
    cloud_run_service {
      service = google_cloudfunctions2_function.fn["train"].service_config[0].service
      region  = var.region
    }
  }
}

resource "google_secret_manager_secret_iam_member" "notify_reads" {
  for_each  = local.notify_secrets
  project   = var.project
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn["notify"].email}"
}
