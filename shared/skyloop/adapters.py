"""The bundle of adapters a handler runs with: the only wiring the core knows."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Settings
from .ports import (
    ActionExecutor,
    AIServices,
    AuditLog,
    BlobStore,
    Clock,
    Deployer,
    EventPublisher,
    IdempotencyStore,
    KeyValueStore,
    MetricSource,
    ModelRegistry,
    Queue,
    RemediationState,
    RolloutRunner,
    RunMirror,
    TrainingBackend,
)
from .ports.batch import BatchScorer
from .ports.notify import Notifier


@dataclass
class Adapters:
    settings: Settings
    store: BlobStore
    registry: ModelRegistry
    deployer: Deployer
    events: EventPublisher  # domain events between handlers (approvals ...): EventBridge / Eventarc / Event Grid
    remediation: Queue  # remediation requests: SQS / Pub/Sub / Storage Queue
    idempotency: IdempotencyStore
    audit: AuditLog
    executor: ActionExecutor
    state: RemediationState
    kv: KeyValueStore
    clock: Clock
    training: TrainingBackend | None = None  # managed jobs for datasets above the size rule
    mirror: RunMirror | None = None  # MLflow, when tracking.mlflow_uri is set
    metrics: MetricSource | None = None  # what an alarm's service window is read from (CloudWatch ...)
    rollouts: RolloutRunner | None = None  # a workflow engine for the rollout's steps; None: run them inline
    notifiers: dict[str, Notifier] = field(default_factory=dict)  # who is told: webhook, PagerDuty, the cloud's topic
    notifications: Queue | None = None  # notices waiting for their channels (delivered on their own)
    batch: BatchScorer | None = None  # a cloud's batch-scoring service, for rows above the in-function size rule
    ai: AIServices | None = None  # AI services for uploads under ai/ (bootstrap: the cloud's own, or settings.ai.provider)
