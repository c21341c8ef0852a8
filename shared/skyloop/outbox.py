"""A unit of work for a use-case whose commit point is one compare-and-set: its other writes are
staged, saved beside the commit as an outbox, and carried out after it.

The detect use-case learns (the detector's state is its commit) and acts (incidents, baselines,
verdicts, remediation requests, audit entries). Acting first and committing after left a window
where a crash between the two is redelivered onto a state that already learned the window
(``anomalies: []``, the incident and its request lost); committing first and acting after left
the same window the other way round. So, as in a transactional outbox:

1. the use-case runs against ``Staged`` views of the key-value store, the queue and the audit
   log: reads see its own staged writes, nothing reaches a backend;
2. ``commit`` writes the staged effects to ``outbox:<name>`` (created only if absent: two
   concurrent batches cannot both hold one), then the state with compare-and-set, then carries
   the effects out and clears the outbox;
3. ``recover``, at the start of the next invocation (a redelivery, or the next batch), finds an
   outbox left by a worker that died or failed after its commit and carries it out. The outbox
   names the digest of the state it belongs to: a state that is still the one it was computed
   from means the commit never happened, and the outbox is dropped (the redelivery computes it
   again). Its ``meta`` (the detect use-case keeps the batch's key and outcome there) comes back
   to the caller, so a redelivery of that same batch answers with it instead of scoring again.

Carrying the effects out is at-least-once: key-value writes are absolute values, messages go
with deterministic ids (queues and the remediate handler keep one per id), and an audit entry is
repeated only when a worker dies in the middle of writing them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, cast

from .errors import StaleState

if TYPE_CHECKING:
    from .ports import AuditLog, KeyValueStore, Queue

log = logging.getLogger("skyloop.outbox")

PREFIX = "outbox:"


def _digest(state: bytes) -> str:
    return hashlib.sha256(state).hexdigest()


@dataclass
class Staged:
    """Writes held back until the commit. ``kv``, ``queue`` and ``audit`` are views with the
    ports' write methods; ``kv`` reads through to the store for keys not written here."""

    store: "KeyValueStore"
    puts: dict[str, bytes] = field(default_factory=dict)
    sends: list[tuple[str, str | None]] = field(default_factory=list)
    audits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    read: dict[str, bytes | None] = field(default_factory=dict)  # what the store held, as first read

    def __post_init__(self) -> None:
        # typed as the ports they stand in for: the use-case runs on them unchanged
        self.kv = cast("KeyValueStore", _StagedKv(self))
        self.queue = cast("Queue", _StagedQueue(self))
        self.audit = cast("AuditLog", _StagedAudit(self))

    def empty(self) -> bool:
        return not (self.puts or self.sends or self.audits)

    def to_bytes(self, state: bytes, base: str | None, meta: Mapping[str, Any] | None = None) -> bytes:
        return json.dumps({
            "state_sha256": _digest(state), "base": base, "meta": dict(meta or {}), "at": time.time(),
            "puts": {k: base64.b64encode(v).decode() for k, v in self.puts.items()},
            "sends": [list(s) for s in self.sends], "audits": [list(a) for a in self.audits],
        }).encode()

    @classmethod
    def from_doc(cls, store: "KeyValueStore", doc: Mapping[str, Any]) -> "Staged":
        return cls(store, {k: base64.b64decode(v) for k, v in doc["puts"].items()},
                   [(str(b), m) for b, m in doc["sends"]], [(str(k), dict(p)) for k, p in doc["audits"]])

    def apply(self, queue: "Queue", audit: "AuditLog | None") -> None:
        """State first, then the audit, then the messages: what a message's consumer reads (the
        incident it names) is there before the message is."""
        for key, value in self.puts.items():
            self.store.put(key, value)
        if audit is not None:
            for kind, payload in self.audits:
                audit.append(kind, payload)
        for body, mid in self.sends:
            queue.send(body, message_id=mid)


class _StagedKv:
    def __init__(self, staged: Staged) -> None:
        self._s = staged
        self.max_value_bytes = staged.store.max_value_bytes

    def get(self, key: str) -> bytes | None:
        if key in self._s.puts:
            return self._s.puts[key]
        if key not in self._s.read:
            self._s.read[key] = self._s.store.get(key)
        return self._s.read[key]

    def put(self, key: str, value: bytes) -> None:
        if key not in self._s.puts and key in self._s.read and self._s.read[key] == value:
            return  # unchanged (a quiet batch's "no open incident"): nothing to carry out
        self._s.puts[key] = bytes(value)

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        merged = dict(self._s.store.items(prefix))
        merged.update({k: v for k, v in self._s.puts.items() if k.startswith(prefix)})
        return list(merged.items())

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        raise TypeError(f"{key}: compare-and-set inside a unit of work; write it through the store itself")

    put_if = get_versioned


class _StagedQueue:
    def __init__(self, staged: Staged) -> None:
        self._s = staged

    def send(self, body: str, message_id: str | None = None) -> str:
        self._s.sends.append((body, message_id))
        return message_id or ""


class _StagedAudit:
    def __init__(self, staged: Staged) -> None:
        self._s = staged

    def append(self, kind: str, payload: Mapping[str, Any]) -> int:
        self._s.audits.append((kind, json.loads(json.dumps(payload, default=str))))
        return 0


CLEARED = b"null"  # not b"": some stores refuse an empty value


def _clear(kv: "KeyValueStore", key: str, version: str) -> None:
    try:
        kv.put_if(key, CLEARED, version)
    except StaleState:
        pass  # another worker carried it out and cleared it first


# how long an outbox whose commit has not happened may belong to a batch still committing: another
# batch waits (StaleState) rather than drop it from under a worker about to commit and die
IN_FLIGHT_SECONDS = 300.0


def recover(kv: "KeyValueStore", name: str, saved: tuple[bytes, str] | None, queue: "Queue",
            audit: "AuditLog | None", owner: str | None = None) -> dict[str, Any] | None:
    """Carry out an outbox whose commit happened (``saved``: the state as read now, with its
    version) and return its ``meta``; drop one whose commit did not (None). ``owner``: the caller's
    batch; an uncommitted outbox of another batch, younger than ``IN_FLIGHT_SECONDS``, may still
    be committing: ``StaleState`` (transient) instead of dropping it."""
    key = PREFIX + name
    got = kv.get_versioned(key)
    if got is None or got[0] in (b"", CLEARED):
        return None
    doc = json.loads(got[0])
    state, version = (saved[0], saved[1]) if saved else (b"", None)
    committed = doc["state_sha256"] == _digest(state) and saved is not None
    if not committed and version == doc["base"]:
        mine = owner is not None and (doc.get("meta") or {}).get("batch") == owner
        if not mine and time.time() - float(doc.get("at", 0.0)) < IN_FLIGHT_SECONDS:
            raise StaleState(f"{key}: another batch is committing")
        log.warning("dropping the outbox of a batch that did not commit: its redelivery computes it again",
                    extra={"outbox": name})
        _clear(kv, key, got[1])
        return None
    if not committed:  # the state moved on without carrying it out (a plain write around the protocol)
        log.warning("outbox outlived its state: carried out anyway (its effects are idempotent)", extra={"outbox": name})
    log.info("carrying out the outbox of a committed batch", extra={"outbox": name, "puts": len(doc["puts"]),
                                                                    "sends": len(doc["sends"])})
    Staged.from_doc(kv, doc).apply(queue, audit)
    _clear(kv, key, got[1])
    return dict(doc.get("meta") or {})


def commit(kv: "KeyValueStore", name: str, state_key: str, state: bytes, version: str | None, staged: Staged,
           queue: "Queue", audit: "AuditLog | None", meta: Mapping[str, Any] | None = None) -> None:
    """Outbox, then the state (compare-and-set on ``version``), then the effects. ``StaleState``
    (transient) when another batch holds the outbox or committed first: the caller's message is
    redelivered and computed again on top of the other's work."""
    key = PREFIX + name
    outbox_version = None
    if not staged.empty():
        got = kv.get_versioned(key)
        if got is not None and got[0] not in (b"", CLEARED):
            raise StaleState(f"{key}: another batch's effects are still being carried out")
        outbox_version = kv.put_if(key, staged.to_bytes(state, version, meta), None if got is None else got[1])
    try:
        kv.put_if(state_key, state, version)
    except StaleState:
        if outbox_version is not None:
            _clear(kv, key, outbox_version)
        raise
    if outbox_version is not None:
        staged.apply(queue, audit)
        _clear(kv, key, outbox_version)


__all__ = ["Staged", "commit", "recover"]
