"""AWS's adapters, for ``skyloop.bootstrap``: built once per Lambda container (module scope in
``functions/aws``), so clients and settings are reused across invocations."""

from __future__ import annotations

from ...bootstrap import Table
from .identity import caller
from .notify import secret_channels
from ...composed.spilling import SpillingStore
from .ai import AwsAI
from .cloudwatch import CloudWatchMetrics
from .config import AwsSettings
from .dynamodb import DynamoAuditLog, DynamoIdempotencyStore, DynamoKeyValueStore, DynamoRemediationState
from .eventbridge import EventBridgeBus
from .executors import AwsActionExecutor
from .s3 import S3BlobStore
from .sagemaker import SageMakerDeployer, SageMakerModelRegistry, SageMakerTrainingBackend
from .sqs import SqsQueue
from .transform import SageMakerBatchScorer
from .stepfunctions import StepFunctionsRollouts

TABLE = Table(
    settings=AwsSettings,
    store=lambda p: S3BlobStore(p.cloud),
    kv=lambda p: SpillingStore(DynamoKeyValueStore(p.cloud), p.store),  # a value above the item limit goes to S3
    registry=lambda p: SageMakerModelRegistry(p.cloud, p.store, p.kv),
    deployer=lambda p: SageMakerDeployer(p.cloud, p.store),
    events=lambda p: EventBridgeBus(p.cloud),
    remediation=lambda p: SqsQueue(p.cloud),
    idempotency=lambda p: DynamoIdempotencyStore(p.cloud),
    audit=lambda p: DynamoAuditLog(p.cloud),
    state=lambda p: DynamoRemediationState(p.cloud),
    executor=lambda p: AwsActionExecutor(p.cloud, deployer=p.deployer),
    training=lambda p: SageMakerTrainingBackend(p.cloud, p.store),
    batch=lambda p: SageMakerBatchScorer(p.cloud, p.store),  # rows above the in-function size rule
    metrics=lambda p: CloudWatchMetrics(p.cloud),
    rollouts=lambda p: StepFunctionsRollouts(p.cloud) if p.cloud.rollout_state_machine_arn else None,
    own_ai=lambda p: AwsAI(p.cloud),  # uploads under ai/ are analysed by AWS's own AI services
    notifications=lambda p: SqsQueue(p.cloud, p.cloud.notification_queue_url, p.cloud.notification_dlq_url)
    if p.cloud.notification_queue_url else None,
    own_notifiers=lambda p: secret_channels(p.cloud, p.settings.notifications),
    caller=caller,  # an approval is recorded under the caller's cloud identity
)
