"""Values above a key-value store's item limit, kept in the blob store: written once over the two
ports, so any store with a small item limit (DynamoDB's 400 KB) carries state of any size."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Callable

from ..errors import NotFound, StaleState
from ..ports.kv import check_size

if TYPE_CHECKING:
    from ..ports import BlobStore, KeyValueStore


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


__all__ = ["SpillingStore"]
