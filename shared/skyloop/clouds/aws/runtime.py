"""Wire the AWS adapters into the ``Adapters`` bundle the handlers take.

Built once per Lambda container (module scope in ``functions/aws``) so clients
and settings are reused across invocations.
"""

from __future__ import annotations

from ...adapters import Adapters
from ...config import Settings
from ...clock import SystemClock
from ...kvstate import SpillingStore
from ...tracking import mirror_from_settings
from ...tracking.mirrored import MirroredRegistry
from .config import AwsSettings
from .ai import AwsAI
from .cloudwatch import CloudWatchMetrics
from .dynamodb import DynamoAuditLog, DynamoIdempotencyStore, DynamoKeyValueStore, DynamoRemediationState
from .executors import AwsActionExecutor
from .s3 import S3BlobStore
from .sagemaker import SageMakerDeployer, SageMakerModelRegistry, SageMakerTrainingBackend
from .eventbridge import EventBridgeBus
from .sqs import SqsQueue
from .stepfunctions import StepFunctionsRollouts


def build(settings: Settings | None = None, aws: AwsSettings | None = None) -> Adapters:
    settings = settings or Settings()
    aws = aws or AwsSettings()
    store = S3BlobStore(aws)
    kv = SpillingStore(DynamoKeyValueStore(aws), store)  # a value above the item limit goes to S3
    clock = SystemClock()
    registry = SageMakerModelRegistry(aws, store, kv)
    mirror = mirror_from_settings(settings, kv)  # an MLflow server, if the team has one
    if mirror is not None:
        registry = MirroredRegistry(registry, mirror)  # type: ignore[assignment]
    deployer = SageMakerDeployer(aws, store)
    return Adapters(
        settings=settings, store=store, registry=registry, deployer=deployer,
        events=EventBridgeBus(aws), remediation=SqsQueue(aws), idempotency=DynamoIdempotencyStore(aws),
        audit=DynamoAuditLog(aws),
        executor=AwsActionExecutor(aws, registry=registry, deployer=deployer, policy=settings.guardrails),
        state=DynamoRemediationState(aws), kv=kv, clock=clock, training=SageMakerTrainingBackend(aws, store),
        mirror=mirror,
        metrics=CloudWatchMetrics(aws),
        rollouts=StepFunctionsRollouts(aws) if aws.rollout_state_machine_arn else None,
        ai=AwsAI(aws),  # uploads under ai/ are analysed by AWS's own AI services
    )
