"""The idempotency port written once over any key-value store with compare-and-set."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import InProgress, StaleState
from ..ports.kv import update

if TYPE_CHECKING:
    from ..ports import KeyValueStore


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
        """Renew a live claim (the heartbeat of ``skyloop.once``); a finished one is left alone."""
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


__all__ = ["KvIdempotencyStore"]
