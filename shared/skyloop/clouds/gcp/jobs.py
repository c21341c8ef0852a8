"""Datasets above the in-function size rule: a Vertex AI ``CustomJob`` that runs Skyloop's
cloud-neutral job program (``clouds/jobs.py``).

The job runs in Skyloop's serving image (the train function's numpy, scipy, scikit-learn and
pydantic: what it trains is what serves), with this very ``skyloop`` package as a tarball on Cloud
Storage. Vertex mounts buckets at ``/gcs/<bucket>`` (Cloud Storage FUSE), so the job reads the
dataset and writes its result as files. The result lands as
``training-jobs/<group>/<job key>/model.tar.gz``, or ``failed.json`` with the reason, in the
training bucket; that object's finalize event is the job's completion, decoded like any upload
(``events.py``) and registered by the train function, as SageMaker's completion event is on AWS.
A job that dies without writing either (preempted, out of memory) leaves only its Vertex state.

Submission is idempotent: the same dataset, spec and code give the same job key, which is kept
in state and as the job's ``skyloop-job`` label, where a redelivery finds a job an earlier,
crashed attempt created.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Iterator, Mapping

from ..jobs import JOB_SCRIPT, job_key, job_spec, result_folder, upload_code
from ...ports import BlobStore, KeyValueStore, TrainingJob
from .config import GcpSettings
from .gcs import split_uri
from .vertex import vertex_client

def _gcs_path(uri: str, default_bucket: str) -> str:
    bucket, name = split_uri(uri, default_bucket)
    return f"/gcs/{bucket}/{name}"


class VertexTrainingBackend:
    name = "vertex"
    families = ("automl",)  # model families Vertex trains and serves itself (clouds/gcp/automl.py)

    def __init__(self, gcp: GcpSettings, store: BlobStore, kv: KeyValueStore, client: Any = None,
                 automl: Any = None) -> None:
        self.gcp, self.store, self.kv = gcp, store, kv
        self.client = client or vertex_client("JobServiceClient", gcp.region)
        self.location = f"projects/{gcp.project}/locations/{gcp.region}"
        self._automl = automl

    @property
    def automl(self) -> Any:
        if self._automl is None:
            from .automl import VertexAutoML

            self._automl = VertexAutoML(self.gcp, self.store, self.kv)
        return self._automl

    def ended(self) -> Iterator[Any]:
        """The AutoML runs that ended since the last look (a custom job's end is its output's event)."""
        return self.automl.ended()

    def settle(self, run: Any) -> None:
        self.automl.settle(run)

    def sample(self, uri: str) -> bytes:
        return bytes(self.automl.sample(uri))

    def submit(self, dataset_uri: str, spec: Mapping[str, Any]) -> TrainingJob:
        from google.cloud import aiplatform_v1

        if (spec.get("params") or {}).get("model") == "automl":
            return self.automl.submit(dataset_uri, spec)
        code_uri = upload_code(self.store)
        group = str(spec.get("model_group") or "")
        job, key = job_spec(dataset_uri, spec), job_key(dataset_uri, spec, code_uri)
        record = f"vertex:training-job:{key}"
        known = self.kv.get(record)
        if known is None:
            found = list(self.client.list_custom_jobs(request=aiplatform_v1.ListCustomJobsRequest(
                parent=self.location, filter=f'labels.skyloop-job="{key}"')))
            if found:
                known = found[0].name.encode()
        if known is not None:
            self.kv.put(record, known)
            return TrainingJob(backend=self.name, job_id=key, status=self._state(known.decode()),
                               result={"vertex_job": known.decode()})
        out = f"gs://{self.gcp.bucket}/{result_folder(spec, key)}"
        container = aiplatform_v1.ContainerSpec(
            image_uri=self.gcp.training_image or self.gcp.serving_image, command=["python", "-c", JOB_SCRIPT],
            args=[_gcs_path(code_uri, self.gcp.bucket), json.dumps(job, sort_keys=True, default=str),
                  _gcs_path(dataset_uri, self.gcp.bucket), _gcs_path(out, self.gcp.bucket)])
        custom = aiplatform_v1.CustomJob(
            display_name=f"skyloop-{group or 'train'}-{key[:12]}"[:128],
            labels={"skyloop-job": key, "skyloop-managed": "true"},
            job_spec=aiplatform_v1.CustomJobSpec(
                worker_pool_specs=[aiplatform_v1.WorkerPoolSpec(
                    machine_spec=aiplatform_v1.MachineSpec(machine_type=self.gcp.training_machine_type),
                    replica_count=1, container_spec=container)],
                service_account=self.gcp.training_service_account,
                scheduling=aiplatform_v1.Scheduling(timeout=timedelta(seconds=self.gcp.training_max_seconds))))
        created = self.client.create_custom_job(request=aiplatform_v1.CreateCustomJobRequest(
            parent=self.location, custom_job=custom))
        self.kv.put(record, created.name.encode())
        return TrainingJob(backend=self.name, job_id=key, status=created.state.name,
                           result={"vertex_job": created.name, "output": out})

    def _state(self, name: str) -> str:
        return str(self.client.get_custom_job(request={"name": name}).state.name)
