"""Read-modify-write on the key-value port, safe under concurrent writers.

Two detect invocations for one service (a redelivery racing its original, two shards of a
metric stream) each read the detector state, learn, and write it back; with plain get/put the
second write silently erased the first one's learning. ``update`` re-reads and re-applies the
change until its compare-and-set wins, so every writer's change lands, in some order.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .errors import InProgress, NotFound, StaleState, ValueTooLarge

if TYPE_CHECKING:
    from .ports import BlobStore, KeyValueStore

ATTEMPTS = 8


def update(kv: "KeyValueStore", key: str, change: Callable[[bytes | None], bytes], attempts: int = ATTEMPTS) -> bytes:
    """Apply ``change(current) -> new`` atomically; returns what was written.

    ``change`` may run more than once (each time on the freshest value), so it must be a pure
    function of its input. After ``attempts`` lost races the caller gets ``StaleState``
    (transient): its message is retried later instead of spinning here."""
    for _ in range(attempts):
        cur = kv.get_versioned(key)
        new = change(None if cur is None else cur[0])
        try:
            kv.put_if(key, new, None if cur is None else cur[1])
            return new
        except StaleState:
            continue
    raise StaleState(f"{key}: still contended after {attempts} attempts")


def check_size(kv: "KeyValueStore", key: str, value: bytes) -> None:
    if len(value) > kv.max_value_bytes:
        raise ValueTooLarge(f"{key}: {len(value):,} bytes is above this store's {kv.max_value_bytes:,}-byte value limit")


class SpillingStore:
    """A key-value store whose values may outgrow its item limit: a value above the inner
    store's ``max_value_bytes`` goes to the blob store under its key and hash, and the item keeps
    a small pointer. Compare-and-set stays the inner store's (on the pointer), so ``update`` works
    unchanged; a replaced or losing blob is deleted, so spilled state does not pile up (a writer
that dies between the two writes leaves one orphan blob under the key's folder).

    A reader that read a pointer just before a writer replaced it may find the blob gone: it
    reads the item again. Blob bytes are checked against the pointer's sha256."""

    MARK = b"\x00skyloop-spilled\x00"  # no JSON document or npz archive starts with a NUL

    def __init__(self, inner: "KeyValueStore", blobs: "BlobStore", *, limit: int = 64 * 2**20,
                 prefix: str = "state-spill/") -> None:
        self.inner, self.blobs, self.max_value_bytes, self.prefix = inner, blobs, limit, prefix
        # key -> (version token, its spilled blob or None) as last read: a compare-and-set over that
        # token replaces exactly that item, so put_if knows the blob to delete without reading again
        self._seen: dict[str, tuple[str, str | None]] = {}

    def _pointer(self, key: str, value: bytes) -> tuple[bytes, str | None]:
        if len(value) <= self.inner.max_value_bytes - 1024:
            return value, None
        import uuid

        sha = hashlib.sha256(value).hexdigest()
        # a name per write, not per content: two writers of equal bytes never share (and delete) one blob
        where = f"{self.prefix}{hashlib.sha256(key.encode()).hexdigest()[:24]}/{uuid.uuid4().hex}"
        uri = self.blobs.put(where, value)
        return self.MARK + json.dumps({"uri": uri, "sha256": sha, "bytes": len(value)}).encode(), uri

    def _spilled(self, raw: bytes | None) -> str | None:
        return json.loads(raw[len(self.MARK):])["uri"] if raw and raw.startswith(self.MARK) else None

    def _resolve(self, raw: bytes) -> bytes:
        if not raw.startswith(self.MARK):
            return raw
        ptr = json.loads(raw[len(self.MARK):])
        data = self.blobs.get(ptr["uri"])
        if hashlib.sha256(data).hexdigest() != ptr["sha256"]:
            raise StaleState(f"{ptr['uri']}: spilled value does not match its pointer")
        return data

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        for _ in range(3):
            cur = self.inner.get_versioned(key)
            if cur is None:
                return None
            try:
                value = self._resolve(cur[0])
                self._seen[key] = (cur[1], self._spilled(cur[0]))
                return value, cur[1]
            except NotFound:  # replaced between the two reads: read the new pointer
                continue
        raise StaleState(f"{key}: its spilled value kept changing while being read")

    def get(self, key: str) -> bytes | None:
        cur = self.get_versioned(key)
        return None if cur is None else cur[0]

    def _replace(self, key: str, value: bytes, write: Callable[[bytes], str | None], stale: str | None) -> str | None:
        check_size(self, key, value)
        item, uri = self._pointer(key, value)
        try:
            token = write(item)
        except BaseException:
            if uri is not None:
                self.blobs.delete(uri)
            raise
        self._seen.pop(key, None)
        if stale is not None and stale != uri:
            self.blobs.delete(stale)
        return token

    def put(self, key: str, value: bytes) -> None:
        self._replace(key, value, lambda item: self.inner.put(key, item), self._spilled(self.inner.get(key)))

    def put_if(self, key: str, value: bytes, expected: str | None) -> str:
        seen = self._seen.get(key)
        if expected is None:
            stale = None  # the key must not exist: nothing is replaced
        elif seen is not None and seen[0] == expected:
            stale = seen[1]  # the usual case: update() read this very version just before
        else:
            cur = self.inner.get_versioned(key)
            stale = self._spilled(cur[0]) if cur is not None and cur[1] == expected else None
        token = self._replace(key, value, lambda item: self.inner.put_if(key, item, expected), stale)
        assert token is not None
        return token

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        return [(k, self._resolve(v)) for k, v in self.inner.items(prefix)]


class _Completed(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


class KvIdempotencyStore:
    """The ``IdempotencyStore`` state machine written once, over any key-value store with
    compare-and-set: the same records as Powertools' persistence layer (INPROGRESS with an expiry,
    COMPLETED with the saved result). A claim is a CAS, so of two workers only one wins; a worker
    that crashed mid-claim blocks its key only until the claim expires. Local runs on it, and so
    will every cloud whose key-value store has a version or etag (AWS uses Powertools' own layer)."""

    def __init__(self, kv: "KeyValueStore", *, clock: Callable[[], float] = time.time, prefix: str = "idempotency:",
                 lease_seconds: float | None = None) -> None:
        """``lease_seconds``: claims this short, renewed while the work runs (``extend``), so a
        worker killed mid-work blocks its key that long, not a whole function timeout (a kill -9
        mid-train once held a local file for 16 minutes)."""
        self.kv, self.clock, self.prefix, self.lease_seconds = kv, clock, prefix, lease_seconds

    def begin(self, key: str, *, expires_after: float = 300.0) -> dict[str, Any] | None:
        now = self.clock()

        def claim(raw: bytes | None) -> bytes:
            rec = json.loads(raw) if raw else None
            if rec and rec["status"] == "COMPLETED":
                raise _Completed(rec["result"])
            if rec and rec["status"] == "INPROGRESS" and rec["expires_at"] > now:
                at = time.strftime("%H:%M:%S", time.localtime(rec["expires_at"]))
                raise InProgress(f"event {key} is being processed by another worker; if that worker died, its claim "
                                 f"expires in {rec['expires_at'] - now:.0f} s (at {at})")
            return json.dumps({"status": "INPROGRESS", "expires_at": now + expires_after}).encode()

        try:
            cur = self.kv.get_versioned(self.prefix + key)
            self.kv.put_if(self.prefix + key, claim(None if cur is None else cur[0]), None if cur is None else cur[1])
        except _Completed as done:
            return done.result
        except StaleState:  # another worker claimed (or finished) it between the read and the write
            raise InProgress(f"event {key} was claimed by another worker just now") from None
        return None

    def extend(self, key: str, expires_after: float) -> None:
        """Renew a live claim (the heartbeat of ``handlers._once``); a finished one is left alone."""
        until = self.clock() + expires_after

        def renew(raw: bytes | None) -> bytes:
            rec = json.loads(raw) if raw else None
            if rec and rec["status"] == "INPROGRESS":
                return json.dumps({**rec, "expires_at": max(rec["expires_at"], until)}).encode()
            return raw if raw is not None else b"null"

        update(self.kv, self.prefix + key, renew)

    def complete(self, key: str, result: Mapping[str, Any]) -> None:
        self.kv.put(self.prefix + key, json.dumps({"status": "COMPLETED", "result": dict(result)}, default=str).encode())

    def release(self, key: str) -> None:
        def free(raw: bytes | None) -> bytes:
            rec = json.loads(raw) if raw else None
            return b"null" if rec is None or rec["status"] == "INPROGRESS" else raw  # type: ignore[return-value]

        update(self.kv, self.prefix + key, free)


__all__ = ["ATTEMPTS", "KvIdempotencyStore", "SpillingStore", "check_size", "update"]
