"""Google Cloud's adapters, for ``skyloop.bootstrap``: built once per function instance. A client
passed by name replaces that service's own (the tests pass fakes for Vertex AI, Cloud Run and
Compute, which have no emulator); Cloud Storage and Pub/Sub find their emulators through the SDKs'
own variables."""

from __future__ import annotations

from typing import Any

from ...bootstrap import Table
from .identity import caller
from .notify import PubSubNotifier
from .ai import GcpAI
from .config import GcpSettings
from .endpoints import VertexDeployer
from .executors import GcpActionExecutor
from .gcs import GcsBlobStore, GcsKeyValueStore
from .batch import VertexBatchScorer
from .jobs import VertexTrainingBackend
from .monitoring import CloudMonitoringMetrics
from .pubsub import PubSubPublisher, PubSubQueue
from .vertex import VertexModelRegistry
from .workflows import WorkflowsRollouts

def _automl(p: Any) -> Any:
    """AutoML's clients, when the caller put fakes in place (else the backend makes its own on first use)."""
    if p.client("pipelines") is None:
        return None
    from .automl import VertexAutoML

    return VertexAutoML(p.cloud, p.store, p.kv, pipelines=p.client("pipelines"), datasets=p.client("datasets"),
                        models=p.client("models"), storage=p.client("storage"))


TABLE = Table(
    settings=GcpSettings,
    store=lambda p: GcsBlobStore(p.cloud, p.client("storage")),
    kv=lambda p: GcsKeyValueStore(p.cloud, p.client("storage")),  # values as large as an object: no spilling
    registry=lambda p: VertexModelRegistry(p.cloud, p.store, p.kv, client=p.client("models")),
    deployer=lambda p: VertexDeployer(p.cloud, p.store, p.kv, endpoint_client=p.client("endpoints"),
                                      prediction_client=p.client("predictions"),
                                      wait_seconds=p.options.get("deploy_wait_seconds")),
    events=lambda p: PubSubPublisher(p.cloud, p.cloud.events_topic, p.client("publisher")),
    remediation=lambda p: PubSubQueue(p.cloud, publisher=p.client("publisher"), subscriber=p.client("subscriber")),
    executor=lambda p: GcpActionExecutor(p.cloud, clients=p.clients("run", "mig", "regional-mig")),
    training=lambda p: VertexTrainingBackend(p.cloud, p.store, p.kv, client=p.client("jobs"), automl=_automl(p)),
    batch=lambda p: VertexBatchScorer(p.cloud, p.kv, client=p.client("jobs"), storage=p.client("storage")),
    metrics=lambda p: CloudMonitoringMetrics(p.cloud, p.client("monitoring")),
    rollouts=lambda p: WorkflowsRollouts(p.cloud, p.client("workflows")) if p.cloud.rollout_workflow else None,
    # files under ai/ in the training bucket are analysed by Google Cloud's own AI services
    own_ai=lambda p: GcpAI(p.cloud, p.clients("vision", "language", "speech", "translate", "tts"), store=p.store),
    notifications=lambda p: PubSubQueue(p.cloud, publisher=p.client("publisher"), subscriber=p.client("subscriber"),
                                        topic=p.cloud.notices_topic) if p.cloud.notices_topic else None,
    own_notifiers=lambda p: {"pubsub": PubSubNotifier(p.cloud, p.client("publisher"))} if p.cloud.notifications_topic else {},
    caller=caller,  # an approval is recorded under the caller's cloud identity
)
