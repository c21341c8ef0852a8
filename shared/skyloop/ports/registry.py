"""Model versions, their approval states and aliases (the auto-approval gate is training's: training/gate.py).

The registry is the single source of truth for what may be deployed: a version's
artifact sha256 is recorded at registration and checked at every load, and the
``production`` alias history is what ``rollback_deployment`` walks back along.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any, Mapping


# The version record and its states live in versions.py (the ports use them too); they stay
# importable from here.
from ..versions import ALIASES, TRANSITIONS, ModelVersion, Status, check_transition

if TYPE_CHECKING:
    from ..events import ModelVersionApproved
    from . import BlobStore, EventPublisher, KeyValueStore
    from . import ModelRegistry as ModelRegistryPort


class AliasBook:
    """Where each alias (production, staging, canary) of a group points, and every version it
    pointed at: the bookkeeping every registry backend shares (none of SageMaker's, Vertex AI's
    or Azure ML's registries keeps this history). One document per alias on the key-value port,
    changed by compare-and-set, so two writers never drop each other's history entry. A backend
    checks that the version exists; this keeps the record."""

    def __init__(self, kv: "KeyValueStore") -> None:
        self.kv = kv

    @staticmethod
    def _key(group: str, alias: str) -> str:
        if alias not in ALIASES:
            from ..errors import SkyloopError

            raise SkyloopError(f"unknown alias {alias!r}; expected one of {', '.join(ALIASES)}")
        return f"registry:alias:{group}:{alias}"

    def _doc(self, group: str, alias: str) -> dict:
        import json

        raw = self.kv.get(self._key(group, alias))
        return json.loads(raw) if raw else {"version": None, "history": []}

    def set(self, group: str, alias: str, version: int | None) -> None:
        import json

        from .kv import update

        def point(raw: bytes | None) -> bytes:
            doc = json.loads(raw) if raw else {"version": None, "history": []}
            if doc["version"] != version:
                doc["version"] = version
                doc["history"].append(version)
            return json.dumps(doc).encode()

        update(self.kv, self._key(group, alias), point)

    def get(self, group: str, alias: str) -> int | None:
        v = self._doc(group, alias)["version"]
        return None if v is None else int(v)

    def history(self, group: str, alias: str) -> list[int]:
        """Versions the alias pointed at, oldest first (unset entries skipped)."""
        return [int(v) for v in self._doc(group, alias)["history"] if v is not None]

class AliasedRegistry:
    """The port's alias methods over an ``AliasBook``, written once for every backend: a backend
    sets ``self.aliases`` and provides ``get`` (NotFound for an unknown version), or overrides
    ``_check_version`` with a cheaper existence check."""

    aliases: AliasBook

    def get(self, group: str, version: int) -> ModelVersion:
        raise NotImplementedError

    def _check_version(self, group: str, version: int) -> None:
        self.get(group, version)

    def set_alias(self, group: str, alias: str, version: int | None) -> None:
        if version is not None:
            self._check_version(group, version)  # NotFound for an unknown version
        self.aliases.set(group, alias, version)

    def alias(self, group: str, alias: str) -> ModelVersion | None:
        version = self.aliases.get(group, alias)
        return None if version is None else self.get(group, version)

    def alias_history(self, group: str, alias: str) -> list[int]:
        return self.aliases.history(group, alias)


class CardRegistry(AliasedRegistry):
    """The port's register / set_status flow written once for a cloud registry (Powertools'
    ``BasePersistenceLayer`` habit: the flow in the base, a few primitives per backend). Skyloop's
    card (metrics, params, lineage) sits in the blob store beside the registry's own version, and a
    registration is remembered under its idempotency key, so a retried one returns the first.

    A backend keeps ``self.store`` and ``self.kv`` and provides ``get``, ``versions``, ``groups`` and:
    ``_find`` (a version an earlier attempt created before it could remember it, or None),
    ``_create`` (the registry's own new version; its number) and ``_write_status``."""

    store: "BlobStore"
    kv: "KeyValueStore"

    def _find(self, group: str, reg: "Registration") -> int | None:
        return None  # a registry whose create is idempotent by itself (SageMaker's ClientToken) finds nothing

    def _create(self, group: str, reg: "Registration", *, artifact_uri: str, artifact_sha256: str,
                metrics: Mapping[str, float], lineage: Mapping[str, Any], card_uri: str, card_sha256: str) -> int:
        raise NotImplementedError

    def _write_status(self, group: str, version: int, status: Status, *, actor: str, note: str) -> None:
        raise NotImplementedError

    def _check_group(self, group: str) -> None:
        """The registry's own naming rule, refused before anything is written."""

    def register(self, group: str, *, artifact_uri: str, artifact_sha256: str, metrics: Mapping[str, float],
                 params: Mapping[str, Any], lineage: Mapping[str, Any], idempotency_key: str | None = None) -> ModelVersion:
        self._check_group(group)
        reg = Registration(group, idempotency_key)
        known = reg.known(self.kv)
        if known is None:
            known = self._find(group, reg)  # an earlier attempt created it, then stopped before the record
            if known is not None:
                reg.remember(self.kv, known)
        if known is not None:
            return self.get(group, known)
        lineage = self._lineage(group, lineage)
        card_uri, card_sha = reg.store_card(self.store, artifact_uri=artifact_uri, metrics=metrics, params=params,
                                            lineage=lineage)
        version = self._create(group, reg, artifact_uri=artifact_uri, artifact_sha256=artifact_sha256, metrics=metrics,
                               lineage=lineage, card_uri=card_uri, card_sha256=card_sha)
        reg.remember(self.kv, version)
        return self.get(group, version)

    def _lineage(self, group: str, lineage: Mapping[str, Any]) -> Mapping[str, Any]:
        """What a registry adds to a version's lineage before its card is written (Azure ML: the
        training data's versioned data asset). Nothing, by default."""
        return lineage

    def set_status(self, group: str, version: int, status: Status, *, actor: str, note: str = "") -> ModelVersion:
        current = self.get(group, version)
        check_transition(current.status, status)
        if current.status != status:
            self._write_status(group, version, status, actor=actor, note=note)
        return self.get(group, version)


def approve(registry: "ModelRegistryPort", events: "EventPublisher", group: str, version: int, *, actor: str, note: str = "") -> "ModelVersionApproved":
    """Approve a version and emit ``ModelVersionApproved`` on the event channel.

    The event id is derived from (group, version), so approving twice (or a
    retried approval) emits one logical event that the deploy handler dedups.
    """
    from ..events import ModelVersionApproved

    registry.set_status(group, version, Status.APPROVED, actor=actor, note=note)
    event = ModelVersionApproved(
        event_id=ModelVersionApproved.id_for(group, version), model_group=group, version=version, approved_by=actor
    )
    events.publish(event)
    return event


__all__ = ["ALIASES", "TRANSITIONS", "AliasBook", "AliasedRegistry", "CardRegistry", "ModelVersion", "Registration", "Status", "approve", "check_transition",
           "production_version", "read_card"]


def production_version(registry: "ModelRegistryPort", group: str | None) -> int | None:
    """The version a group's production slot serves (None: no group, or nothing promoted yet):
    what an executor's ``describe`` reports for a model-serving target."""
    prod = registry.alias(group, "production") if group else None
    return None if prod is None else prod.version


class Registration:
    """What every cloud registry does around its service's call: the request's key (a redelivered
    upload finds the version its first delivery made, through a state record), and the version's
    card (metrics, params, lineage) stored as a JSON object whose sha256 the version carries, so a
    swapped card is an integrity error, not a silently different model."""

    def __init__(self, group: str, idempotency_key: str | None) -> None:
        self.group = group
        self.digest = hashlib.sha256((idempotency_key or uuid.uuid4().hex).encode()).hexdigest()
        self.record = f"registry:idem:{group}:{self.digest}"

    def known(self, kv: "KeyValueStore") -> int | None:
        found = kv.get(self.record)
        return None if found is None else int(found)

    def remember(self, kv: "KeyValueStore", version: int) -> None:
        kv.put(self.record, str(version).encode())

    def store_card(self, store: "BlobStore", *, artifact_uri: str, metrics: Mapping[str, float], params: Mapping[str, Any],
                   lineage: Mapping[str, Any]) -> tuple[str, str]:
        """(the card's URI, its sha256)."""
        card = json.dumps({"artifact_uri": artifact_uri, "metrics": dict(metrics), "params": dict(params),
                           "lineage": dict(lineage)}, sort_keys=True, default=str).encode()
        sha = hashlib.sha256(card).hexdigest()
        return store.put(f"models/{self.group}/cards/{sha}.json", card), sha


def read_card(store: "BlobStore", uri: str, sha256: str, what: str) -> dict[str, Any]:
    """A version's card, refused if it does not hash to what the version says."""
    data = store.get(uri)
    if hashlib.sha256(data).hexdigest() != sha256:
        from ..errors import ArtifactIntegrityError

        raise ArtifactIntegrityError(f"model card of {what} does not match its registered sha256")
    card: dict[str, Any] = json.loads(data)
    return card
