"""Rows above the in-function size rule, scored by a Vertex AI ``BatchPredictionJob`` on the version's
model (its serving container, Skyloop's serving image), Cloud Storage in and out.

Vertex reads the CSV and sends each record to the container as an array in the file's column
order; the header goes along as the job's ``model_parameters`` (``{"columns": [...]}``), so the
container maps each array to the model's features and answers every record, a bad one with
``{"refused": why}``. Outputs land under ``predictions/<group>/jobs/<key>/`` as JSON lines.

Vertex tells nobody a job ended: the first output object's finalize event is taken as the sign,
and the train function asks the job (one ``GetBatchPredictionJob``). Still running is a transient
error, so Eventarc redelivers the event later; nothing waits in a function. A job that fails
before writing anything writes no object: its reason stays in Vertex (a known gap, in the README).
"""

from __future__ import annotations

from typing import Any, Iterator

from ...ports import KeyValueStore
from ...ports.batch import HEAD_BYTES, BatchJob, BatchOutcome
from .config import GcpSettings
from .gcs import split_uri, storage_client
from .vertex import vertex_client

LABEL = "skyloop-batch"
STATES = {"JOB_STATE_SUCCEEDED": "succeeded", "JOB_STATE_PARTIALLY_SUCCEEDED": "succeeded",
          "JOB_STATE_FAILED": "failed", "JOB_STATE_CANCELLED": "failed", "JOB_STATE_EXPIRED": "failed"}


class VertexBatchScorer:
    name = "vertex"

    def __init__(self, gcp: GcpSettings, kv: KeyValueStore, client: Any = None, storage: Any = None) -> None:
        self.gcp, self.kv = gcp, kv
        self.client = client or vertex_client("JobServiceClient", gcp.region)
        self.storage = storage or storage_client(gcp.project)
        self.location = f"projects/{gcp.project}/locations/{gcp.region}"

    def head(self, uri: str) -> bytes:
        bucket, name = split_uri(uri, self.gcp.bucket)
        data: bytes = self.storage.bucket(bucket).blob(name).download_as_bytes(start=0, end=HEAD_BYTES - 1)
        return data

    def submit(self, job: BatchJob) -> str:
        from google.cloud import aiplatform_v1
        from google.protobuf import struct_pb2

        found = list(self.client.list_batch_prediction_jobs(request=aiplatform_v1.ListBatchPredictionJobsRequest(
            parent=self.location, filter=f'labels.{LABEL}="{job.key}"')))
        if found:  # an earlier attempt created it and crashed before saying so
            return str(found[0].name)
        params = struct_pb2.Value()
        params.struct_value.update({"columns": job.columns})
        B = aiplatform_v1.BatchPredictionJob
        request = B(
            display_name=f"skyloop-batch-{job.version.group}-{job.key[:12]}"[:128],
            model=f"{self.location}/models/{job.version.group}@{job.version.version}",
            labels={LABEL: job.key, "skyloop-managed": "true"},
            input_config=B.InputConfig(instances_format="csv", gcs_source=aiplatform_v1.GcsSource(uris=[job.input_uri])),
            model_parameters=params,
            output_config=B.OutputConfig(predictions_format="jsonl", gcs_destination=aiplatform_v1.GcsDestination(
                output_uri_prefix=f"gs://{self.gcp.bucket}/{job.output_folder.rstrip('/')}")),
            dedicated_resources=aiplatform_v1.BatchDedicatedResources(
                machine_spec=aiplatform_v1.MachineSpec(machine_type=self.gcp.batch_machine_type),
                starting_replica_count=1, max_replica_count=self.gcp.batch_max_replicas),
            service_account=self.gcp.training_service_account,  # the job account: reads batch/, writes predictions/
        )
        created = self.client.create_batch_prediction_job(request=aiplatform_v1.CreateBatchPredictionJobRequest(
            parent=self.location, batch_prediction_job=request))
        return str(created.name)

    def outcome(self, job_id: str) -> BatchOutcome:
        from google.cloud import aiplatform_v1

        j = self.client.get_batch_prediction_job(request=aiplatform_v1.GetBatchPredictionJobRequest(name=job_id))
        state = STATES.get(j.state.name, "running")
        outputs: list[str] = []
        folder = j.output_info.gcs_output_directory
        if state == "succeeded" and folder:
            bucket, prefix = split_uri(folder, self.gcp.bucket)
            outputs = sorted(f"gs://{bucket}/{b.name}" for b in self.storage.list_blobs(bucket, prefix=prefix.rstrip("/") + "/")
                             if b.name.rsplit("/", 1)[-1].startswith(("predictions_", "errors_")))
        stats = j.completion_stats
        rows = {"successful": int(stats.successful_count), "failed": int(stats.failed_count),
                "incomplete": int(stats.incomplete_count)} if stats else {}
        return BatchOutcome(state=state, reason=j.error.message if j.error else "", outputs=outputs, rows=rows)

    def answers(self, outcome: BatchOutcome) -> Iterator[tuple[int | None, str | None]]:
        """Each output line: a prediction, ``{"refused": why}`` from the container, or (in an
        ``errors_`` file) a record Vertex could not score, with its status."""
        import json

        for uri in outcome.outputs:
            bucket, name = split_uri(uri, self.gcp.bucket)
            errors = name.rsplit("/", 1)[-1].startswith("errors_")
            with self.storage.bucket(bucket).blob(name).open("rb") as fh:
                for raw in fh:
                    if not raw.strip():
                        continue
                    doc = json.loads(raw)
                    if errors:
                        yield None, str(doc.get("status") or "Vertex could not score this record")
                        continue
                    p = doc.get("prediction")
                    yield None, (str(p["refused"]) if isinstance(p, dict) and "refused" in p else None)
