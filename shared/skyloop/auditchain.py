"""The audit log's hash chain, shared by every AuditLog adapter (SQLite, DynamoDB ...).

Each entry's hash covers the previous hash and the entry's canonical JSON, so
an edited, dropped or reordered entry breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(dict(payload), sort_keys=True, default=str)


def digest(prev: str, at: str, kind: str, payload: str) -> str:
    return hashlib.sha256(f"{prev}|{at}|{kind}|{payload}".encode()).hexdigest()


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
