"""Wire the Google Cloud adapters into the ``Adapters`` bundle the handlers take.

Built once per function instance (module scope in ``functions/gcp/main.py``), so clients and
settings are reused across invocations. ``clients`` replaces a service's client: the tests pass
fakes for Vertex AI, Cloud Run and Compute, which have no emulator; Cloud Storage and Pub/Sub
find their emulators through the SDKs' own variables.
"""

from __future__ import annotations

from typing import Any

from ...adapters import Adapters
from ...clock import SystemClock
from ...config import Settings
from ...kvstate import KvIdempotencyStore
from ...remediation.kvbacked import KvAuditLog, KvRemediationState
from ...tracking import mirror_from_settings
from ...tracking.mirrored import MirroredRegistry
from .ai import GcpAI
from .config import GcpSettings
from .endpoints import VertexDeployer
from .executors import GcpActionExecutor
from .gcs import GcsBlobStore, GcsKeyValueStore
from .jobs import VertexTrainingBackend
from .monitoring import CloudMonitoringMetrics
from .pubsub import PubSubPublisher, PubSubQueue
from .vertex import VertexModelRegistry
from .workflows import WorkflowsRollouts


def build(settings: Settings | None = None, gcp: GcpSettings | None = None, *, deploy_wait_seconds: float | None = None,
          **clients: Any) -> Adapters:
    settings = settings or Settings()
    gcp = gcp or GcpSettings()
    store = GcsBlobStore(gcp, clients.get("storage"))
    kv = GcsKeyValueStore(gcp, clients.get("storage"))  # values as large as an object: no spilling needed
    registry: Any = VertexModelRegistry(gcp, store, kv, client=clients.get("models"))
    mirror = mirror_from_settings(settings, kv)  # an MLflow server, if the team has one
    if mirror is not None:
        registry = MirroredRegistry(registry, mirror)
    deployer = VertexDeployer(gcp, store, kv, endpoint_client=clients.get("endpoints"),
                              prediction_client=clients.get("predictions"), wait_seconds=deploy_wait_seconds)
    executor_clients: dict[str, Any] = {k: clients[k] for k in ("run", "mig", "regional-mig") if k in clients}
    return Adapters(
        settings=settings, store=store, registry=registry, deployer=deployer,
        events=PubSubPublisher(gcp, gcp.events_topic, clients.get("publisher")),
        remediation=PubSubQueue(gcp, publisher=clients.get("publisher"), subscriber=clients.get("subscriber")),
        idempotency=KvIdempotencyStore(kv), audit=KvAuditLog(kv),
        executor=GcpActionExecutor(gcp, registry=registry, policy=settings.guardrails, clients=executor_clients),
        state=KvRemediationState(kv), kv=kv, clock=SystemClock(),
        training=VertexTrainingBackend(gcp, store, kv, client=clients.get("jobs")), mirror=mirror,
        metrics=CloudMonitoringMetrics(gcp, clients.get("monitoring")),
        rollouts=WorkflowsRollouts(gcp, clients.get("workflows")) if gcp.rollout_workflow else None,
        # files under ai/ in the training bucket are analysed by Google Cloud's own AI services
        ai=GcpAI(gcp, {k: clients[k] for k in ("vision", "language", "speech", "translate", "tts") if k in clients},
                 store=store),
    )
