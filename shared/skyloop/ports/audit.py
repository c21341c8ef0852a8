"""The audit log's hash chain, shared by every AuditLog adapter (SQLite, DynamoDB ...).

Each entry's hash covers the previous hash and the entry's canonical JSON, so
an edited, dropped or reordered entry breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping, Sequence

GENESIS = "0" * 64


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(dict(payload), sort_keys=True, default=str)


def digest(prev: str, at: str, kind: str, payload: str) -> str:
    return hashlib.sha256(f"{prev}|{at}|{kind}|{payload}".encode()).hexdigest()


ROW_FIELDS = ("seq", "at", "kind", "hash")


def entry(seq: int, at: str, kind: str, hash_: str, payload_json: str) -> dict[str, Any]:
    """One audit entry as every adapter lists it: the log's own fields win, and a payload field
    of the same name (a request's own "at") is kept as ``payload_<name>``."""
    payload = json.loads(payload_json)
    out = {(f"payload_{k}" if k in ROW_FIELDS else k): v for k, v in payload.items()}
    out.update({"seq": seq, "at": at, "kind": kind, "hash": hash_})
    return out


def entries_of(rows: Sequence[Mapping[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    """Stored rows (seq, at, kind, hash, payload JSON), oldest first -> the entries a log lists."""
    if limit is not None:
        rows = rows[-limit:]
    return [entry(r["seq"], r["at"], r["kind"], r["hash"], r["payload"]) for r in rows]


def verify_chain(rows: Iterable[Mapping[str, Any]]) -> tuple[bool, str]:
    """rows in order, each with seq, at, kind, payload (canonical JSON), prev_hash, hash."""
    prev = GENESIS
    n = 0
    for r in rows:
        n += 1
        if r["prev_hash"] != prev or digest(prev, r["at"], r["kind"], r["payload"]) != r["hash"]:
            return False, f"audit entry {r['seq']} does not match the hash chain"
        prev = r["hash"]
    return True, f"{n} entries, chain intact"


class HeadSeal:
    """The chain's head (entry count and last hash), HMAC-sealed in a file outside the log.

    A hash chain shows an edited or dropped entry in the middle, but a log whose last
    entries were cut off is still a valid chain. The seal remembers how long the chain was
    and where it ended, so truncation is caught too. The key lives in its own file (mode
    0600) or in ``SKYLOOP_AUDIT_KEY``: a forged seal needs the key, not just write access
    to the database.
    """

    def __init__(self, path: Any, key: bytes | None = None) -> None:
        from pathlib import Path

        self.path = Path(path)
        self._key = key

    def _secret(self) -> bytes:
        import os
        import secrets
        from pathlib import Path

        if self._key is None:
            env = os.environ.get("SKYLOOP_AUDIT_KEY")
            if env:
                self._key = env.encode()
            else:
                kfile = Path(str(self.path) + ".key")
                if not kfile.exists():
                    fd = os.open(kfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as f:
                        f.write(secrets.token_hex(32))
                self._key = kfile.read_text().strip().encode()
        return self._key

    def _mac(self, count: int, head: str, prev: tuple[int, str] | None = None) -> str:
        import hmac

        text = f"{count}|{head}" if prev is None else f"{count}|{head}|pending|{prev[0]}|{prev[1]}"
        return hmac.new(self._secret(), text.encode(), hashlib.sha256).hexdigest()

    def write(self, count: int, head: str, *, prev: tuple[int, str] | None = None) -> None:
        """Seal the head. With ``prev`` the seal is *pending*: written before the append commits,
        it says "the log ends at (count, head), or at ``prev`` if that append never committed" (a
        kill -9 between the two once read as TRUNCATED). Without it, the append committed: only
        the seal of that very append is confirmed (a later writer's seal is never moved back)."""
        import fcntl
        import os

        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # read-modify-write across processes
            if prev is None:
                cur = self._read()
                if cur is not None and (int(cur["count"]) != count or cur.get("pending") is None):
                    return  # another writer sealed past it, or nothing is pending
            doc: dict[str, Any] = {"count": count, "head": head, "mac": self._mac(count, head, prev)}
            if prev is not None:
                doc["pending"] = list(prev)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, self.path)  # atomic: a reader sees the old seal or the new one

    def _read(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return None

    def check(self, count: int, head: str, detail: str) -> tuple[bool, str]:
        """``detail`` is the chain's own verdict, extended with the seal's."""
        import hmac

        if not self.path.exists():
            if count == 0:
                return True, detail
            return False, f"{detail}, but the sealed head is missing: the log cannot be shown complete"
        try:
            seal = json.loads(self.path.read_text())
            sealed_count, sealed_head, mac = int(seal["count"]), str(seal["head"]), str(seal["mac"])
            pending = (int(seal["pending"][0]), str(seal["pending"][1])) if seal.get("pending") else None
        except (ValueError, KeyError, TypeError, IndexError):
            return False, f"{detail}, but the sealed head is unreadable"
        if not hmac.compare_digest(mac, self._mac(sealed_count, sealed_head, pending)):
            return False, f"{detail}, but the sealed head's signature does not match"
        if pending is not None and count == pending[0] and head == pending[1]:
            return True, f"{detail}, head sealed (the append of entry {sealed_count} was interrupted before it committed)"
        if pending is not None and count == sealed_count and head == sealed_head:
            return True, f"{detail}, head sealed"
        if count < sealed_count:
            return False, f"TRUNCATED: the log has {count} entries, the sealed head says {sealed_count}"
        if count == sealed_count and head != sealed_head:
            return False, f"the log's last entry is not the sealed head (entry {count})"
        if count > sealed_count:
            return False, f"{count - sealed_count} entries after the sealed head were not sealed"
        return True, f"{detail}, head sealed"
