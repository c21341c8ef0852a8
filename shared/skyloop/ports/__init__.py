"""Ports: the narrow interfaces the use-cases depend on.

Each port has a local adapter (``skyloop.local``) and, later, one per cloud
(``skyloop.clouds.<cloud>``). Use-cases receive adapters through ``Adapters``
and never construct them, so the same code runs on SQLite and on DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal, Mapping, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # type-only: keeps this module free of runtime imports
    from ..events import MetricRecord
    from ..versions import ModelVersion, Status


@runtime_checkable
class BlobStore(Protocol):
    """Object storage: training data and model artifacts."""

    def put(self, key: str, data: bytes) -> str:
        """Store bytes under key; return the URI that ``get`` accepts."""

    def get(self, uri: str) -> bytes: ...

    def exists(self, uri: str) -> bool: ...

    def delete(self, uri: str) -> None: ...


@dataclass(frozen=True)
class Message:
    """A received queue message. ``receipt`` identifies this delivery for ack/nack."""

    message_id: str
    body: str
    receipt: str
    receive_count: int


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    reason: str
    receive_count: int


@runtime_checkable
class Queue(Protocol):
    """At-least-once queue with a dead-letter path (SQS / Pub/Sub / Storage Queue shape)."""

    def send(self, body: str, message_id: str | None = None) -> str: ...

    def receive(self, max_messages: int = 10, visibility_timeout: float = 30.0) -> list[Message]: ...

    def ack(self, message: Message) -> None: ...

    def nack(self, message: Message, delay: float = 0.0) -> None: ...

    def dead_letter(self, message: Message, reason: str) -> None: ...

    def dead_letters(self) -> list[DeadLetter]: ...

    def depth(self) -> int: ...


@runtime_checkable
class ModelRegistry(Protocol):
    def register(
        self,
        group: str,
        *,
        artifact_uri: str,
        artifact_sha256: str,
        metrics: Mapping[str, float],
        params: Mapping[str, Any],
        lineage: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> "ModelVersion": ...

    def get(self, group: str, version: int) -> "ModelVersion": ...

    def versions(self, group: str | None = None) -> list["ModelVersion"]: ...

    def set_status(self, group: str, version: int, status: "Status", *, actor: str, note: str = "") -> "ModelVersion": ...

    def set_alias(self, group: str, alias: str, version: int | None) -> None: ...

    def alias(self, group: str, alias: str) -> "ModelVersion | None": ...

    def alias_history(self, group: str, alias: str) -> list[int]: ...


@runtime_checkable
class Deployer(Protocol):
    """Serves model versions behind named slots with a weighted traffic split."""

    def deploy(self, group: str, slot: str, version: "ModelVersion") -> None:
        """Make ``version`` serve in ``slot`` (staging / production / canary); verifies integrity."""

    def undeploy(self, group: str, slot: str) -> None: ...

    def set_traffic(self, group: str, weights: Mapping[str, float]) -> None:
        """Split live traffic between slots, e.g. {"production": 0.9, "canary": 0.1}."""

    def traffic(self, group: str) -> dict[str, float]: ...

    def slots(self, group: str) -> dict[str, int]:
        """slot -> version currently deployed there."""

    def predict(self, group: str, rows: Sequence[Mapping[str, Any]], slot: str | None = None) -> list[Any]:
        """Predict through the router (slot=None) or one slot directly."""

    def settled(self, group: str) -> bool:
        """True once the group's last change serves (a cloud endpoint updates for minutes; the
        rollout steps poll this instead of waiting). Raises ``DeploymentFailed`` if it failed."""


@runtime_checkable
class RolloutRunner(Protocol):
    """Runs the rollout's steps (``serving/rollout.py``) on a cloud's workflow engine."""

    def start(self, name: str, state: Mapping[str, Any]) -> dict[str, Any]:
        """Start the steps from ``state`` under ``name``; the same name starts once."""


@dataclass
class TrainingJob:
    backend: str
    job_id: str
    status: str
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ManagedTraining:
    """One run a managed training service ended (Vertex AI AutoML), as its adapter reports it:
    facts, no decisions (``training/managed.py`` registers and gates it, or records the failure)."""

    backend: str  # "vertex-automl"
    job_id: str  # Skyloop's key of the run
    group: str
    status: Literal["succeeded", "failed", "stopped"]
    service: str  # who trained it and serves it, as people name it ("Vertex AI AutoML")
    model: str = ""  # the service's own name of the model version it made
    reason: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    manual: bool = False  # the upload asked a person to decide, whatever the gate would say


@runtime_checkable
class TrainingBackend(Protocol):
    """Where training runs: in-function, or a managed job for large datasets."""

    name: str

    def submit(self, dataset_uri: str, spec: Mapping[str, Any]) -> TrainingJob: ...


@runtime_checkable
class ManagedTrainingBackend(TrainingBackend, Protocol):
    """A backend that also hands model families to a service that trains and serves them itself
    (Vertex AI AutoML), whose runs announce no end: the train function looks on a schedule."""

    families: tuple[str, ...]

    def sample(self, uri: str) -> bytes:
        """The dataset's first bytes (the core profiles them: the service reads the file whole)."""
        ...

    def ended(self) -> Iterable[ManagedTraining]:
        """The runs that ended and are not settled yet."""
        ...

    def settle(self, run: ManagedTraining) -> None:
        """Close a run: later looks do not report it again."""
        ...


@runtime_checkable
class MetricSource(Protocol):
    """A service's (or a serving endpoint's, per variant) recent metrics, read when an alarm fires."""

    def fetch(self, service: str, limit: int | None = None, *, scope: str = "service",
              where: Mapping[str, Any] | None = None) -> list["MetricRecord"]:
        """``where``: the alarm's own locator where its cloud has one (CloudWatch: the namespace and
        the full dimension set, which CloudWatch matches exactly); a source without one ignores it."""


@dataclass(frozen=True)
class ActionResult:
    changed: bool
    detail: str
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    replayed: bool = False  # this request had already been applied (a redelivery after a crash)


@runtime_checkable
class ActionExecutor(Protocol):
    """Infrastructure primitives on one kind of target; no policy. What to do, the bounds, the
    model actions and at-most-once are the core's (``remediation/plans.py``, ``applied.py``).
    Each primitive returns a short detail for the record ("" if nothing to add)."""

    def describe(self, target: str) -> Mapping[str, Any]:
        """Current state of the target: kind, replicas, cache, model_group, model_version ...,
        and ``actions``: the infrastructure primitives it supports (scale_out, restart_service,
        clear_cache). Raises NotFound for an unknown target."""

    def set_replicas(self, target: str, replicas: int) -> str:
        """Set the replica count (absolute, so applying twice is applying once)."""

    def restart(self, target: str) -> str:
        """A rolling restart."""

    def clear_cache(self, target: str) -> str: ...


@runtime_checkable
class IdempotencyStore(Protocol):
    """Records which event keys have taken effect, and what they returned."""

    def begin(self, key: str, *, expires_after: float = 300.0) -> dict[str, Any] | None:
        """Claim ``key``. Returns the stored result if the key already completed;
        raises ``InProgress`` if another worker holds a live claim; else None."""

    def complete(self, key: str, result: Mapping[str, Any]) -> None: ...

    def release(self, key: str) -> None:
        """Drop a claim after a failure so a redelivery can try again."""


@runtime_checkable
class AuditLog(Protocol):
    """Append-only, hash-chained record of every remediation decision."""

    def append(self, kind: str, payload: Mapping[str, Any]) -> int: ...

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]: ...

    def verify(self) -> tuple[bool, str]: ...


@runtime_checkable
class RemediationState(Protocol):
    """What guardrails remember between invocations: cooldowns, rates, held requests."""

    def last_executed(self, target: str, action: str) -> float | None: ...

    def count_since(self, since: float) -> int: ...

    def record(self, target: str, action: str, at: float, request_id: str | None = None) -> None:
        """Remember an executed action; the same ``request_id`` is remembered once."""

    def hold(self, request_id: str, body: str, reason: str, at: float) -> None: ...

    def held(self) -> list[dict[str, Any]]: ...

    def release_hold(self, request_id: str, decision: str) -> str | None:
        """Mark a held request decided; return its body (None if unknown or decided)."""


@runtime_checkable
class EventPublisher(Protocol):
    """Domain events between handlers (approvals, passed canaries, drift, retraining): the core
    only ever publishes. Delivery is the platform's: EventBridge rules, Eventarc, Event Grid, or
    locally a queue that the runtime drains (pull semantics stay in ``local/``)."""

    def publish(self, event: Any) -> str:
        """Publish a domain event (a pydantic model with ``event_id``); returns its id."""


@runtime_checkable
class KeyValueStore(Protocol):
    """Small state between invocations: detector state, open incidents, deployment history.

    The contract every adapter keeps (tests/contract/ports/test_kv.py):
    - ``get_versioned`` returns the value with an opaque version token; ``put_if(key, value,
      expected)`` writes only if the stored version is still ``expected`` (``None``: the key must
      not exist) and returns the new token, else raises ``StaleState`` (transient: re-read and
      retry). Read-modify-write goes through it (``skyloop.ports.kv.update``), so two concurrent
      writers serialise instead of one silently losing the other's update.
    - a value is at most ``max_value_bytes``; a larger one is refused with ``ValueTooLarge``
      (DynamoDB's item limit is 400 KB), never truncated.
    """

    max_value_bytes: int

    def get(self, key: str) -> bytes | None: ...

    def get_versioned(self, key: str) -> tuple[bytes, str] | None: ...

    def put(self, key: str, value: bytes) -> None: ...

    def put_if(self, key: str, value: bytes, expected: str | None) -> str: ...

    def items(self, prefix: str) -> list[tuple[str, bytes]]: ...


@runtime_checkable
class RunMirror(Protocol):
    """A second home for training runs (MLflow): kept in step with the registry, never the record."""

    def sync(self, registry: ModelRegistry, group: str) -> Any:
        """Bring the group's runs up to the registry; raises TrackingUnavailable."""

    def try_sync(self, registry: ModelRegistry, group: str) -> Any:
        """As ``sync``, but a failure is logged, not raised: for handlers whose real work is done."""


@runtime_checkable
class AIServices(Protocol):
    """A provider's AI APIs (vision, language, speech, translation, speech synthesis) with the same
    typed results everywhere (``skyloop.ports.ai``). An operation or feature the provider lacks
    raises ``NotSupported`` naming the provider."""

    name: str

    def analyze_image(self, image: bytes, features: Sequence[str] = ("labels", "objects", "faces", "text")) -> Any: ...

    def analyze_text(self, text: str, features: Sequence[str] = ("sentiment", "entities", "key_phrases", "language")) -> Any: ...

    def transcribe(self, audio: bytes, *, language: str | None = None, media_format: str = "wav") -> Any: ...

    def translate(self, text: str, target_language: str, *, source_language: str | None = None) -> Any: ...

    def synthesize(self, text: str, *, voice: str | None = None, audio_format: str = "wav") -> Any: ...


class Clock(Protocol):
    def now(self) -> float: ...


