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

from ..kvstate import update
from .guardrails import Decision, evaluate

if TYPE_CHECKING:
    from ..config import GuardrailSettings
    from ..events import RemediationRequested
    from ..ports import KeyValueStore, RemediationState
    from .actions import ActionSpec

KEY = "remediation:reservations"


class _Reserved:
    """What the guardrails remember, read from the reservations document (and from the
    remediation state, which holds what was recorded before reservations existed)."""

    def __init__(self, doc: dict[str, Any], state: "RemediationState") -> None:
        self.doc, self.state = doc, state

    def last_executed(self, target: str, action: str) -> float | None:
        mine = self.doc["last"].get(f"{target}#{action}")
        times = [t for t in (mine[0] if mine else None, self.state.last_executed(target, action)) if t is not None]
        return max(times) if times else None

    def count_since(self, since: float) -> int:
        return max(sum(1 for at, _ in self.doc["recent"] if at >= since), self.state.count_since(since))


def reserve(kv: "KeyValueStore", req: "RemediationRequested", spec: "ActionSpec", policy: "GuardrailSettings",
            state: "RemediationState", now: float, approved: bool) -> Decision:
    """The guardrails' decision, made and reserved atomically: "allow" only for the one delivery
    that wrote the reservation (or for the request that holds it already: a redelivery)."""
    tk = f"{req.target}#{req.action}"
    decision = Decision("refuse", "not decided")

    def change(cur: bytes | None) -> bytes:
        nonlocal decision
        doc = json.loads(cur) if cur else {"last": {}, "recent": []}
        doc["recent"] = [r for r in doc["recent"] if r[0] >= now - policy.window_seconds]
        if (doc["last"].get(tk) or [None, None])[1] == req.request_id:
            decision = Decision("allow", "reserved by this request already")
            return json.dumps(doc).encode()
        decision = evaluate(req, spec, policy, _Reserved(doc, state), now, approved)
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
        doc = json.loads(cur) if cur else {"last": {}, "recent": []}
        if (doc["last"].get(tk) or [None, None])[1] == req.request_id:
            del doc["last"][tk]
        doc["recent"] = [r for r in doc["recent"] if r[1] != req.request_id]
        return json.dumps(doc).encode()

    update(kv, KEY, change)


__all__ = ["KEY", "release", "reserve"]
