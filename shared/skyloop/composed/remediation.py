"""The audit log and the guardrails' memory, written once over any key-value store with
compare-and-set: what a cloud whose state lives in objects or entities (GCS, Table Storage) runs,
as KvIdempotencyStore is for idempotency. SQLite and DynamoDB keep their own, with their native
queries; the contract tests hold every one of them to the same behaviour.

The audit chain: entry n is the key ``audit:entry:<n>``, created only if absent, so two writers
that both read entry n-1 as the last cannot both write entry n; the loser reads the winner's entry
and tries n+1. ``audit:head`` (count and last hash) only saves reading the whole chain to find
its end: an appender that finds it behind (a writer died between its entry and the head) walks
forward over the entries that exist and moves it on.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from ..errors import InProgress, StaleState
from ..ports.kv import update
from ..ports import KeyValueStore
from ..ports.audit import GENESIS, canonical, digest, entries_of, verify_chain

ENTRY, HEAD = "audit:entry:", "audit:head"


class KvAuditLog:
    def __init__(self, kv: KeyValueStore) -> None:
        self.kv = kv

    @staticmethod
    def _key(seq: int) -> str:
        return f"{ENTRY}{seq:012d}"  # zero-padded: the prefix listing comes back in order

    def _row(self, seq: int) -> dict[str, Any] | None:
        raw = self.kv.get(self._key(seq))
        return None if raw is None else json.loads(raw)

    def _head(self) -> tuple[int, str]:
        raw = self.kv.get(HEAD)
        seq, last = (0, GENESIS) if raw is None else (int(json.loads(raw)["seq"]), str(json.loads(raw)["hash"]))
        while True:  # a head left behind by a writer that died between its entry and the head
            row = self._row(seq + 1)
            if row is None:
                return seq, last
            seq, last = row["seq"], row["hash"]

    def append(self, kind: str, payload: Mapping[str, Any]) -> int:
        body = canonical(payload)
        for _ in range(50):
            seq, prev = self._head()
            at = datetime.now(timezone.utc).isoformat()
            row = {"seq": seq + 1, "at": at, "kind": kind, "payload": body, "prev_hash": prev,
                   "hash": digest(prev, at, kind, body)}
            try:
                self.kv.put_if(self._key(seq + 1), json.dumps(row).encode(), None)
            except StaleState:
                continue  # another writer took this place in the chain: read on from it
            written = row

            def forward(cur: bytes | None) -> bytes:
                return _advanced(cur, written)

            update(self.kv, HEAD, forward)
            return seq + 1
        raise InProgress("audit log is contended; retry")

    def _rows(self) -> list[dict[str, Any]]:
        return [json.loads(v) for _, v in sorted(self.kv.items(ENTRY))]  # the port promises no order

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        return entries_of(self._rows(), limit)

    def verify(self) -> tuple[bool, str]:
        rows = self._rows()
        if any(r["seq"] != i for i, r in enumerate(rows, 1)):
            return False, "the audit log has a gap: an entry was removed"
        return verify_chain(rows)


def _advanced(cur: bytes | None, row: Mapping[str, Any]) -> bytes:
    """The head moves forward only: a slower writer never moves it back over a later entry."""
    head = json.loads(cur) if cur else {"seq": 0}
    if int(head["seq"]) >= int(row["seq"]):
        assert cur is not None
        return cur
    return json.dumps({"seq": row["seq"], "hash": row["hash"]}).encode()


COOLDOWN, ACTION, RECORDED, HELD = "remediation:cooldown:", "remediation:action:", "remediation:recorded:", "remediation:held:"


class KvRemediationState:
    """Cooldowns, the action rate and held requests. Actions are keys ordered by time, so the rate
    is one prefix listing; the keys grow with the actions taken (a few a day under the default
    guardrails), and a bucket or table lifecycle rule may expire old ones."""

    def __init__(self, kv: KeyValueStore) -> None:
        self.kv = kv

    def last_executed(self, target: str, action: str) -> float | None:
        raw = self.kv.get(f"{COOLDOWN}{target}#{action}")
        return None if raw is None else float(raw)

    def count_since(self, since: float) -> int:
        return sum(1 for key, _ in self.kv.items(ACTION) if float(key[len(ACTION):].split("#", 1)[0]) >= since)

    def record(self, target: str, action: str, at: float, request_id: str | None = None) -> None:
        rid = request_id or uuid.uuid4().hex
        try:
            self.kv.put_if(f"{RECORDED}{rid}", repr(at).encode(), None)
        except StaleState:
            return  # this request was recorded already: once is enough
        self.kv.put(f"{ACTION}{at:020.6f}#{rid}", json.dumps({"target": target, "action": action}).encode())
        update(self.kv, f"{COOLDOWN}{target}#{action}",
               lambda cur: repr(max(at, float(cur))).encode() if cur else repr(at).encode())

    def hold(self, request_id: str, body: str, reason: str, at: float) -> None:
        try:  # first hold wins: a redelivered request is held once
            self.kv.put_if(f"{HELD}{request_id}", json.dumps({"body": body, "reason": reason, "at": at}).encode(), None)
        except StaleState:
            pass

    def held(self) -> list[dict[str, Any]]:
        docs = [(key[len(HELD):], json.loads(v)) for key, v in self.kv.items(HELD)]
        undecided = sorted((d for d in docs if "decision" not in d[1]), key=lambda d: float(d[1]["at"]))
        return [{"request_id": rid, "reason": d["reason"], "at": float(d["at"]), **json.loads(d["body"])}
                for rid, d in undecided]

    def release_hold(self, request_id: str, decision: str) -> str | None:
        key = f"{HELD}{request_id}"
        for _ in range(20):
            got = self.kv.get_versioned(key)
            if got is None:
                return None
            doc = json.loads(got[0])
            if "decision" in doc:
                return None
            try:
                self.kv.put_if(key, json.dumps({**doc, "decision": decision}).encode(), got[1])
            except StaleState:
                continue
            return str(doc["body"])
        raise InProgress(f"held request {request_id} is contended; retry")
