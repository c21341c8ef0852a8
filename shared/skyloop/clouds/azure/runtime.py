"""Wire the Azure adapters into the ``Adapters`` bundle the functions take.

Built once per function instance (``functions/azure/function_app.py``). ``clients`` replaces a
service's client: the tests pass a fake ``MLClient`` (Azure ML has no emulator), fake management
and Event Grid clients; the storage clients find Azurite by the connection string. The rollout
runner is per invocation (it needs the durable client binding), so ``rollouts`` is set by the
deploy function, not here.
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
from .ai import AzureAI
from .blob import AzureBlobStore
from .config import AzureSettings
from .eventgrid import EventGridPublisher
from .executors import AzureActionExecutor
from .ml import AzureMLDeployer, AzureMLRegistry, AzureMLTrainingBackend
from .monitor import AzureMonitorMetrics
from .queue import StorageQueue
from .tables import TableKeyValueStore


def build(settings: Settings | None = None, azure: AzureSettings | None = None, **clients: Any) -> Adapters:
    settings = settings or Settings()
    azure = azure or AzureSettings()
    store = AzureBlobStore(azure, clients.get("blob"))
    kv = TableKeyValueStore(azure, clients.get("table"))
    ml = clients.get("ml")
    registry: Any = AzureMLRegistry(azure, store, kv, client=ml)
    mirror = mirror_from_settings(settings, kv)
    if mirror is not None:
        registry = MirroredRegistry(registry, mirror)
    executor_clients: dict[str, Any] = {k: clients[k] for k in ("containerapp", "webapp", "vmss") if k in clients}
    return Adapters(
        settings=settings, store=store, registry=registry, deployer=AzureMLDeployer(azure, store, client=ml),
        events=EventGridPublisher(azure, clients.get("eventgrid")), remediation=StorageQueue(azure),
        idempotency=KvIdempotencyStore(kv), audit=KvAuditLog(kv),
        executor=AzureActionExecutor(azure, registry=registry, policy=settings.guardrails, clients=executor_clients),
        state=KvRemediationState(kv), kv=kv, clock=SystemClock(),
        training=AzureMLTrainingBackend(azure, store, client=ml), mirror=mirror,
        metrics=AzureMonitorMetrics(azure, clients.get("monitor")),
        # files under ai/ in the datasets container are analysed by Azure's own AI services
        ai=AzureAI(azure, {k: clients[k] for k in ("vision", "language", "translator", "synthesizer", "recognizer",
                                                   "speech_config") if k in clients}),
    )
