"""Where Skyloop's Google Cloud resources are: one validated object from ``SKYLOOP_GCP_*``.

The Terraform module sets each variable from the resource it creates. The clients find the
local emulators by the SDKs' own variables (``STORAGE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from skyloop.envsettings import EnvSettings


class GcpSettings(EnvSettings):
    env_prefix: ClassVar[str] = "SKYLOOP_GCP_"

    project: str = "skyloop-dev"
    region: str = "us-central1"
    bucket: str = "skyloop-training"  # datasets, models, cards
    # state and idempotency records: objects under state/, written with if_generation_match
    state_bucket: str = ""  # empty: the training bucket
    events_topic: str = "skyloop-events"  # domain events between functions
    remediation_topic: str = "skyloop-remediation"  # its subscription carries the dead-letter policy
    dead_letter_topic: str = "skyloop-dead-letters"  # what can never succeed, with its reason
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

    @property
    def state_bucket_name(self) -> str:
        return self.state_bucket or self.bucket
