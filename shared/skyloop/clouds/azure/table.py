"""Azure's adapters, for ``skyloop.bootstrap``: built once per function instance. A client passed by
name replaces that service's own (the tests pass a fake ``MLClient``, as Azure ML has no emulator,
and fake management and Event Grid clients); the storage clients find Azurite by the connection
string. The rollout runner is per invocation (it needs the durable client binding), so the deploy
function sets ``rollouts``, not the table."""

from __future__ import annotations

from ...bootstrap import Table
from .identity import caller
from .notify import EventGridNotifier
from .ai import AzureAI
from .batch import AzureMLBatchScorer
from .blob import AzureBlobStore
from .config import AzureSettings
from .eventgrid import EventGridPublisher
from .executors import AzureActionExecutor
from .ml import AzureMLDeployer, AzureMLRegistry, AzureMLTrainingBackend
from .monitor import AzureMonitorMetrics
from .queue import StorageQueue
from .tables import TableKeyValueStore

TABLE = Table(
    settings=AzureSettings,
    store=lambda p: AzureBlobStore(p.cloud, p.client("blob")),
    kv=lambda p: TableKeyValueStore(p.cloud, p.client("table")),
    registry=lambda p: AzureMLRegistry(p.cloud, p.store, p.kv, client=p.client("ml")),
    deployer=lambda p: AzureMLDeployer(p.cloud, p.store, client=p.client("ml")),
    events=lambda p: EventGridPublisher(p.cloud, p.client("eventgrid")),
    remediation=lambda p: StorageQueue(p.cloud),
    executor=lambda p: AzureActionExecutor(p.cloud, clients=p.clients("containerapp", "webapp", "vmss")),
    training=lambda p: AzureMLTrainingBackend(p.cloud, p.store, client=p.client("ml")),
    # rows above the size rule: reads the input's header and the job's output through the blob service
    batch=lambda p: AzureMLBatchScorer(p.cloud, AzureBlobStore(p.cloud, p.client("blob")), client=p.client("ml")),
    metrics=lambda p: AzureMonitorMetrics(p.cloud, p.client("monitor")),
    # files under ai/ in the datasets container are analysed by Azure's own AI services
    own_ai=lambda p: AzureAI(p.cloud, p.clients("vision", "language", "translator", "synthesizer", "recognizer",
                                                "speech_config")),
    notifications=lambda p: StorageQueue(p.cloud, p.cloud.notices_queue) if p.cloud.notices_queue else None,
    own_notifiers=lambda p: ({"eventgrid": EventGridNotifier(p.cloud, p.client("notifications_eventgrid"))}
                             if p.cloud.notifications_topic_endpoint else {}),
    caller=caller,  # an approval is recorded under the caller's cloud identity
)
