variable "project" {
  description = "The Google Cloud project Skyloop runs in."
  type        = string
}

variable "region" {
  description = "Region of the functions, buckets, topics, Vertex AI and the workflow."
  type        = string
  default     = "us-central1"
}

variable "name" {
  description = "Prefix of every resource's name (several Skyloop stacks can share a project)."
  type        = string
  default     = "skyloop"
}

variable "source_zip" {
  description = "The functions' source, made by `python infra/gcp/package.py`."
  type        = string
  default     = "../../build/gcp/source.zip"
}

variable "serving_image" {
  description = "Skyloop's serving image in Artifact Registry (build/gcp/serving-image), pinned to the functions' model libraries; on Vertex AI it also runs training jobs."
  type        = string
}

variable "targets" {
  description = "Services remediation acts on, by the name incidents and metrics use: kind cloud-run or mig, the resource name, and the model group a service serves (if any)."
  type = map(object({
    kind        = string
    name        = string
    model_group = optional(string)
  }))
  default = {}
}

variable "cloud_run_runtime_service_accounts" {
  description = "Runtime service accounts of the Cloud Run targets (updating a service acts as its runtime account)."
  type        = list(string)
  default     = []
}

variable "max_delivery_attempts" {
  description = "Deliveries of a remediation request before the subscription dead-letters it (5..100)."
  type        = number
  default     = 10
}

variable "kms_key" {
  description = "Optional Cloud KMS key for the buckets and topics (customer-managed encryption); empty: Google-managed keys."
  type        = string
  default     = ""
}

variable "ingress" {
  description = "Who may reach the functions: ALLOW_INTERNAL_ONLY takes Eventarc, Pub/Sub push and Workflows of this project (Cloud Run counts them as internal); ALLOW_ALL also takes direct HTTP invocations from outside (still IAM-checked)."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB", "ALLOW_ALL"], var.ingress)
    error_message = "ingress is ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB or ALLOW_ALL."
  }
}

variable "webhook_secret" {
  description = "A Secret Manager secret (its id) holding a Slack-compatible incoming webhook URL; empty: no webhook."
  type        = string
  default     = ""
}

variable "pagerduty_secret" {
  description = "A Secret Manager secret (its id) holding a PagerDuty Events API v2 routing key; empty: no PagerDuty."
  type        = string
  default     = ""
}
