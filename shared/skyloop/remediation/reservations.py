"""The guardrails' check and the record of an action, as one atomic step.

Checking the cooldown and the rate, then acting, then recording, let concurrent deliveries (two
SQS pollers, four drains, eight ``skyloop invoke remediate --live``) all pass the check before
any of them recorded: 2 to 4 restarts of one service inside one 300 s cooldown. Here the
decision is made inside a compare-and-set on one document of reservations (per target and
action, the last reservation; the reservations of the rate window), so of two deliveries that
read the same document only one writes it: the other re-reads, and is refused by the cooldown
that the first one reserved. One document on the key-value port, so every backend keeps the
same rule (SQLite, DynamoDB, GCS generations, Table Storage ETags). Actions are few (the rate
limit bounds them), so one document serialises them at no cost.

A reservation that ends with nothing changed (the action failed, or the target was already
there) is released, as an action that did nothing never started a cooldown.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..ports.kv import update
from .guardrails import Decision, evaluate

if TYPE_CHECKING:
    from ..config import GuardrailSettings
    from ..events import RemediationRequested
    from ..ports import KeyValueStore, RemediationState
    from .actions import ActionSpec

KEY = "remediation:reservations"


def _doc(cur: bytes | None) -> dict[str, Any]:
    return json.loads(cur) if cur else {"last": {}, "recent": []}


def _holder(doc: dict[str, Any], tk: str) -> str | None:
    """The request that holds the reservation of target#action, if any."""
    return (doc["last"].get(tk) or [None, None])[1]


class _Reserved:
    """What the guardrails remember for one request's target, action and rate window: the
    reservations document, and what the remediation state recorded (before reservations existed),
    read once before the compare-and-set loop instead of on each of its tries."""

    def __init__(self, doc: dict[str, Any], tk: str, recorded_last: float | None, recorded_count: int) -> None:
        self.doc, self.tk, self.recorded_last, self.recorded_count = doc, tk, recorded_last, recorded_count

    def last_executed(self, target: str, action: str) -> float | None:
        mine = self.doc["last"].get(self.tk)
        times = [t for t in (mine[0] if mine else None, self.recorded_last) if t is not None]
        return max(times) if times else None

    def count_since(self, since: float) -> int:
        return max(sum(1 for at, _ in self.doc["recent"] if at >= since), self.recorded_count)


def reserve(kv: "KeyValueStore", req: "RemediationRequested", spec: "ActionSpec", policy: "GuardrailSettings",
            state: "RemediationState", now: float, approved: bool) -> Decision:
    """The guardrails' decision, made and reserved atomically: "allow" only for the one delivery
    that wrote the reservation (or for the request that holds it already: a redelivery)."""
    tk = f"{req.target}#{req.action}"
    since = now - policy.window_seconds
    recorded_last, recorded_count = state.last_executed(req.target, req.action), state.count_since(since)
    decision = Decision("refuse", "not decided")

    def change(cur: bytes | None) -> bytes:
        nonlocal decision
        doc = _doc(cur)
        doc["recent"] = [r for r in doc["recent"] if r[0] >= since]
        if _holder(doc, tk) == req.request_id:
            decision = Decision("allow", "reserved by this request already")
            return json.dumps(doc).encode()
        decision = evaluate(req, spec, policy, _Reserved(doc, tk, recorded_last, recorded_count), now, approved)
        if decision.verdict == "allow":
            doc["last"][tk] = [now, req.request_id]
            doc["recent"].append([now, req.request_id])
        return json.dumps(doc).encode()

    update(kv, KEY, change)
    return decision


def release(kv: "KeyValueStore", req: "RemediationRequested") -> None:
    """Give back a reservation whose action changed nothing."""
    tk = f"{req.target}#{req.action}"

    def change(cur: bytes | None) -> bytes:
        doc = _doc(cur)
        if _holder(doc, tk) == req.request_id:
            del doc["last"][tk]
        doc["recent"] = [r for r in doc["recent"] if r[1] != req.request_id]
        return json.dumps(doc).encode()

    update(kv, KEY, change)


__all__ = ["KEY", "release", "reserve"]
