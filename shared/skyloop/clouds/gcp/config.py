"""Where Skyloop's Google Cloud resources are: one validated object from ``SKYLOOP_GCP_*``.

The Terraform module sets each variable from the resource it creates. The clients find the
local emulators by the SDKs' own variables (``STORAGE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from skyloop.envsettings import EnvSettings


class GcpTarget(BaseModel):
    """A service remediation acts on: a Cloud Run service, or a Managed Instance Group."""

    kind: Literal["cloud-run", "mig"] = "cloud-run"
    # projects/<p>/locations/<r>/services/<s>; projects/<p>/zones/<z>/instanceGroupManagers/<m> (or regions/<r>)
    name: str
    model_group: str | None = None  # a model-serving service: rollback goes through the registry


class GcpSettings(EnvSettings):
    env_prefix: ClassVar[str] = "SKYLOOP_GCP_"

    project: str = "skyloop-dev"
    region: str = "us-central1"
    bucket: str = "skyloop-training"  # datasets, models, cards
    # state and idempotency records: objects under state/, written with if_generation_match
    state_bucket: str = ""  # empty: the training bucket
    events_topic: str = "skyloop-events"  # domain events between functions
    # People are told (skyloop.notify): the topic notices wait on for the notify function (and its
    # scheduler's ticks), and the topic people subscribe to; empty: this deployment does not notify
    notices_topic: str = ""
    notifications_topic: str = ""
    remediation_topic: str = "skyloop-remediation"  # its subscription carries the dead-letter policy
    dead_letter_topic: str = "skyloop-dead-letters"  # what can never succeed, with its reason
    # Eventarc redelivers a failed event until the topic's retention ends (7 days), and its
    # trigger subscriptions take no dead-letter policy: an event still failing this long after it
    # occurred is parked on the dead-letter topic with its reason instead (functions/gcp/main.py)
    max_retry_seconds: float = Field(24 * 3600.0, gt=0)
    # pull subscriptions for operators' tools (the functions are pushed to by Eventarc)
    remediation_subscription: str = "skyloop-remediation-pull"
    dead_letter_subscription: str = "skyloop-dead-letters-pull"
    # Vertex AI: the serving container a registered version names (Skyloop's serving image,
    # pushed to Artifact Registry: Vertex's prebuilt scikit-learn images load a bare estimator,
    # and a Skyloop artifact is a bundle with its schema)
    serving_image: str = "us-docker.pkg.dev/skyloop-dev/skyloop/serving:latest"
    operation_timeout_seconds: float = Field(600.0, gt=0)  # a long-running operation (an upload)
    # Vertex AI endpoints: <prefix>-<group> serves production and canary, <prefix>-<group>-staging staging
    endpoint_prefix: str = "skyloop"
    machine_type: str = "n1-standard-2"
    max_replicas: int = Field(2, ge=1)
    # how long an endpoint change may wait for the previous one (0 in the rollout-step function)
    endpoint_wait_seconds: float = Field(900.0, ge=0)
    # Vertex AI custom jobs for datasets above the size rule; the image defaults to the serving
    # image (the train function's libraries, and pydantic: infra/aws/package.py pins them)
    training_image: str = ""
    training_machine_type: str = "n1-standard-8"
    training_service_account: str = ""  # empty: Vertex's custom-code service agent
    training_max_seconds: int = Field(4 * 3600, gt=0)
    # Vertex AI batch prediction (rows to score above the in-function size rule), on the version's model
    batch_machine_type: str = "n1-standard-4"
    batch_max_replicas: int = Field(4, ge=1)

    # the rollout's Cloud Workflows workflow (projects/<p>/locations/<r>/workflows/<name>); empty: inline
    rollout_workflow: str = ""
    # service name (as incidents and metrics name it) -> its resource (JSON)
    targets: dict[str, GcpTarget] = Field(default_factory=dict)

    @property
    def state_bucket_name(self) -> str:
        return self.state_bucket or self.bucket
