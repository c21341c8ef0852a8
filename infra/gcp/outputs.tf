output "training_bucket" {
  description = "Upload training CSVs here (datasets/<group>.csv)."
  value       = google_storage_bucket.bucket["training"].name
}

output "alerts_notification_channel" {
  description = "Add this channel to an alerting policy (with user label skyloop-service=<service>) to send its incidents to detect."
  value       = google_monitoring_notification_channel.alerts.id
}

output "events_topic" {
  description = "Publish a ModelVersionApproved here to approve without audit logs."
  value       = google_pubsub_topic.topic["events"].id
}

output "rollout_workflow" {
  value = google_workflows_workflow.rollout.id
}

output "functions" {
  value = { for k, f in google_cloudfunctions2_function.fn : k => f.service_config[0].uri }
}

output "skyloop_settings" {
  description = "The SKYLOOP_GCP_* settings every function reads: skyloop connect gcp --outputs <terraform output -json> points the CLI here."
  value       = local.env
}
