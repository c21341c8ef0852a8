"""The one place adapters are built, for every runtime: one recipe, fed a table per runtime.

Each runtime (``local`` and each cloud) has a ``table.py`` in its adapter package: how to make
each of its adapters from the settings, the clients a caller passes and the adapters already made.
The order, the decorations every runtime shares (the run mirror around the registry) and the
defaults written once over the key-value port (idempotency, the audit chain, the guardrails'
memory) are here, so a runtime states only what it has of its own. A cloud's entry points, the
local runtime, the CLI and the tests all call ``bootstrap``; the AI services a command names come
from the same tables (``ai_provider``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .adapters import Adapters
from .clock import SystemClock
from .clouds import CLOUDS, cloud
from .composed.idempotency import KvIdempotencyStore
from .composed.mirrored import MirroredRegistry
from .composed.remediation import KvAuditLog, KvRemediationState
from .config import Settings
from .errors import CloudUnavailable

if TYPE_CHECKING:
    from .ports import AIServices, BlobStore, Clock, Deployer, KeyValueStore, ModelRegistry
    from .ports.notify import Notifier
    from .tracking.mlflow_mirror import MlflowMirror


@dataclass
class Parts:
    """What a table's builders read: the settings, the runtime's own settings (``AwsSettings`` ...),
    the caller's options (service clients the tests fake, a deploy wait, a seed) and the adapters
    made so far, in the recipe's order: store, kv, registry, deployer, then the rest."""

    settings: Settings
    cloud: Any
    options: dict[str, Any]
    clock: "Clock"
    store: "BlobStore" = None  # type: ignore[assignment]
    kv: "KeyValueStore" = None  # type: ignore[assignment]
    registry: "ModelRegistry" = None  # type: ignore[assignment]
    deployer: "Deployer" = None  # type: ignore[assignment]
    held: dict[str, Any] = field(default_factory=dict)  # what one builder makes for another (the local database)

    def client(self, name: str) -> Any:
        """A service client the caller put in place (a fake where no emulator exists), or None:
        the adapter then makes its own."""
        return self.options.get(name)

    def clients(self, *names: str) -> dict[str, Any]:
        return {n: self.options[n] for n in names if n in self.options}


Builder = Callable[[Parts], Any]


def _none(_: Parts) -> None:
    return None


def _os_user() -> str:
    import getpass

    return getpass.getuser()


@dataclass(frozen=True)
class Table:
    """One runtime's constructors. The four that default are written once over the key-value store
    (``composed/``); a runtime with a native one (SQLite, DynamoDB) names its own."""

    settings: Callable[[], Any]  # the runtime's own settings, read from the environment
    store: Builder
    kv: Builder
    registry: Builder
    deployer: Builder
    events: Builder
    remediation: Builder
    executor: Builder
    own_ai: Builder  # this runtime's own AI services (``ai_provider``)
    idempotency: Builder = lambda p: KvIdempotencyStore(p.kv)
    audit: Builder = lambda p: KvAuditLog(p.kv)
    state: Builder = lambda p: KvRemediationState(p.kv)
    training: Builder = _none
    batch: Builder = _none  # a batch-scoring service for rows above the in-function size rule
    metrics: Builder = _none
    rollouts: Builder = _none
    notifications: Builder = _none  # the queue notices wait on for their channels
    own_notifiers: Callable[[Parts], dict[str, Any]] = lambda p: {}  # the runtime's own channels (a topic)
    ai: Builder | None = None  # the AI services uploads are analysed by (None: ``own_ai``)
    # where a local MLflow store keeps run artifacts (None: the store's own default)
    mirror_artifacts: Callable[[Settings], Path | None] = lambda s: None
    # who is calling (the CLI records approvals under it): the runtime's own identity, the OS user locally
    caller: Callable[[Any], str] = lambda cloud: _os_user()


def table(runtime: str) -> Table:
    """The runtime's table, its package imported only now; a cloud whose SDK is missing is one typed
    refusal naming the extra (``skyloop.clouds.cloud``)."""
    entry = cloud(runtime)
    found: Table = importlib.import_module(entry.package).adapter_table()
    return found


def run_mirror(settings: Settings, kv: "KeyValueStore | None" = None,
               local_artifacts: Path | None = None) -> "MlflowMirror | None":
    """The configured MLflow mirror, or None. A local store (sqlite:, file:) keeps run artifacts under
    ``local_artifacts`` unless told otherwise, not wherever the process happens to run from; a server
    keeps its own default."""
    t = settings.tracking
    if not t.mlflow_uri:
        return None
    from .tracking.mlflow_mirror import MlflowMirror

    root = t.mlflow_artifact_root
    if root is None and local_artifacts is not None and t.mlflow_uri.split(":", 1)[0] in ("sqlite", "file"):
        root = local_artifacts.resolve().as_uri()
    return MlflowMirror(t.mlflow_uri, experiment_prefix=t.mlflow_experiment_prefix, artifact_root=root, kv=kv)


def bootstrap(runtime: str = "local", settings: Settings | None = None, cloud_settings: Any = None, *,
              clock: "Clock | None" = None, **options: Any) -> Adapters:
    """The adapter set ``runtime`` runs on. ``options`` go to the table's builders: service clients
    by name (``storage=``, ``models=`` ...), and a runtime's own knobs (``seed``, ``deploy_wait_seconds``)."""
    t = table(runtime)
    settings = settings or Settings()
    p = Parts(settings=settings, cloud=cloud_settings if cloud_settings is not None else t.settings(),
              options=options, clock=clock or SystemClock())
    p.store = t.store(p)
    p.kv = t.kv(p)
    registry = t.registry(p)
    mirror = run_mirror(settings, p.kv, t.mirror_artifacts(settings))  # an MLflow server, if the team has one
    if mirror is not None:
        registry = MirroredRegistry(registry, mirror)  # every status or alias change syncs the run
    p.registry = registry
    p.deployer = t.deployer(p)
    return Adapters(
        settings=settings, store=p.store, registry=p.registry, deployer=p.deployer, events=t.events(p),
        remediation=t.remediation(p), idempotency=t.idempotency(p), audit=t.audit(p), executor=t.executor(p),
        state=t.state(p), kv=p.kv, clock=p.clock, training=t.training(p), batch=t.batch(p), mirror=mirror, metrics=t.metrics(p),
        rollouts=t.rollouts(p), ai=(t.ai or t.own_ai)(p), notifiers={**notifiers(settings), **t.own_notifiers(p)},
        notifications=t.notifications(p),
    )


def notifiers(settings: Settings) -> dict[str, "Notifier"]:
    """The channels the settings name, the same on every runtime (a cloud's own topic joins them
    in its table). Their secrets stay inside the adapters: nothing logs them."""
    n = settings.notifications
    out: dict[str, "Notifier"] = {}
    if n.webhook_url is not None:
        from .notifiers.webhook import WebhookNotifier

        out["webhook"] = WebhookNotifier(n.webhook_url.get_secret_value(), timeout=n.timeout_seconds)
    if n.pagerduty_routing_key is not None:
        from .notifiers.pagerduty import PagerDutyNotifier

        out["pagerduty"] = PagerDutyNotifier(n.pagerduty_routing_key.get_secret_value(), url=n.pagerduty_url,
                                             timeout=n.timeout_seconds)
    return out


PROVIDERS = tuple(CLOUDS)  # every runtime has AI services of its own


def ai_provider(name: str = "local") -> "AIServices":
    """The AI services ``name`` means, from the same tables: the local default (open tools, offline)
    or a cloud's own. A cloud whose SDK is missing is a typed refusal naming the extra, never a
    silent fall back to another provider."""
    if name not in PROVIDERS:
        raise CloudUnavailable(f"unknown AI provider {name!r}; known: {', '.join(PROVIDERS)}")
    t = table(name)
    ai: "AIServices" = t.own_ai(Parts(settings=Settings(), cloud=t.settings(), options={}, clock=SystemClock()))
    return ai


__all__ = ["PROVIDERS", "Parts", "Table", "ai_provider", "bootstrap", "notifiers", "run_mirror", "table"]
