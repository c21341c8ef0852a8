"""Where Skyloop's AWS resources are: one validated object from ``SKYLOOP_AWS_*``.

The SAM template sets each variable from the resource it creates, so a function
never guesses a name. ``endpoint_url`` points every client at moto's server in
tests (never set in Lambda).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from skyloop.envsettings import EnvSettings


class EcsTarget(BaseModel):
    """A remediation target run as an ECS service."""

    cluster: str
    service: str
    model_group: str | None = None  # a model-serving service: rollback goes through the registry


class AwsSettings(EnvSettings):
    env_prefix: ClassVar[str] = "SKYLOOP_AWS_"

    region: str = "us-east-1"
    endpoint_url: str | None = None
    bucket: str = "skyloop-training"
    remediation_queue_url: str = ""
    remediation_dlq_url: str = ""
    # Where train / deploy / detect put an event that can never succeed (with its reason);
    # also their asynchronous on-failure destination in the SAM template.
    dead_letter_queue_url: str = ""
    event_bus: str = "default"
    # People are told (skyloop.notify): the queue notices wait on for their channels, the SNS topic
    # that AWS Chatbot and email subscribe to, and the Secrets Manager secrets holding the webhook URL
    # and the PagerDuty routing key (read at run time: never in the template or the environment)
    notification_queue_url: str = ""
    notification_dlq_url: str = ""
    notification_topic_arn: str = ""
    webhook_secret_arn: str = ""
    pagerduty_secret_arn: str = ""
    idempotency_table: str = "skyloop-idempotency"
    state_table: str = "skyloop-state"
    # SageMaker
    execution_role_arn: str = "arn:aws:iam::123456789012:role/skyloop-sagemaker"
    # The scikit-learn inference image of the region (see the SageMaker docs for the
    # per-region account); the artifact is Skyloop's joblib bundle.
    inference_image: str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    # the scikit-learn version that image serves, when its tag does not say (a custom image): deploy
    # refuses a model trained with another major.minor (a joblib model does not load across them)
    inference_sklearn: str = ""
    instance_type: str = "ml.m5.large"
    endpoint_prefix: str = "skyloop"
    # How long an endpoint change waits for the previous one to finish before it gives up with a
    # transient error (remediation's rollbacks chain changes); 0 in the rollout-step function.
    endpoint_wait_seconds: float = Field(900.0, ge=0)
    # The Step Functions state machine that runs the rollout's steps; unset: the deploy function
    # runs them inline (moto's server, a quick trial).
    rollout_state_machine_arn: str = ""
    # Managed training (datasets above the in-function size rule)
    training_image: str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    training_instance_type: str = "ml.m5.2xlarge"
    training_volume_gb: int = 50
    training_max_seconds: int = 4 * 3600
    training_output: str = ""  # s3://bucket/prefix; default s3://<bucket>/training-jobs/
    # Batch Transform (rows to score above the in-function size rule), on the inference image
    batch_instance_type: str = "ml.m5.xlarge"
    batch_instance_count: int = Field(1, ge=1)
    # Remediation
    targets: dict[str, EcsTarget] = Field(default_factory=dict)
    clear_cache_document: str = "skyloop-clear-cache"
