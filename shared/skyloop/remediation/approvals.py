"""Approvals are records made by people, never a flag in a message.

Anyone who can write to the remediation queue can set a field in a request; only an identified
person approves. Approving (or rejecting) a held request writes one record per request into the
state store: the decision, who made it, when, and an optional note. It is created only if absent,
so two operators deciding at once give one decision. The remediate use-case asks this record,
not the message, whether a destructive action may run; a message that claims an approval it does
not have is audited as such.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidRequest, NotFound, StateConflict, StaleState
from ..events import RemediationRequested

if TYPE_CHECKING:
    from ..adapters import Adapters
    from ..ports import AuditLog, Clock, KeyValueStore, Queue, RemediationState

Decision = Literal["approved", "rejected"]


PREFIX = "approval:"


def _key(request_id: str) -> str:
    return PREFIX + request_id


def _close(request_id: str, decision: str, *, actor: str, note: str | None, held_as: str, audit_kind: str, now: float,
           kv: "KeyValueStore", state: "RemediationState", audit: "AuditLog") -> RemediationRequested:
    """Close a hold with one record: the record is created only if absent, so of two deciders (two
    people, or a person and the expiry) one wins and the other gets ``StateConflict``; then the hold
    is released and the decision audited with its actor."""
    rec = {"request_id": request_id, "decision": decision, "actor": actor, "at": now, "note": note}
    try:
        kv.put_if(_key(request_id), json.dumps(rec).encode(), None)
    except StaleState:
        prior = record_of(kv, request_id) or {}
        raise StateConflict(f"request {request_id} was already {prior.get('decision')} by {prior.get('actor')}") from None
    body = state.release_hold(request_id, held_as)
    if body is None:  # the record is ours, but the hold was closed (a decision made before records existed)
        raise StateConflict(f"request {request_id} is no longer held")
    req = RemediationRequested.model_validate_json(body)
    audit.append(audit_kind, {"request_id": request_id, "action": req.action, "target": req.target, "actor": actor,
                              "note": note, "at": now})
    return req


def record_of(kv: "KeyValueStore", request_id: str) -> dict[str, Any] | None:
    """The decision a person made on this request, if any."""
    raw = kv.get(_key(request_id))
    return json.loads(raw) if raw else None


def approved(kv: "KeyValueStore", request_id: str) -> bool:
    rec = record_of(kv, request_id)
    return rec is not None and rec.get("decision") == "approved"


def decide(request_id: str, decision: Decision, *, actor: str, note: str | None = None, kv: "KeyValueStore",
           state: "RemediationState", audit: "AuditLog", queue: "Queue", clock: "Clock") -> RemediationRequested:
    """A person's decision on a held request. Approved, the request goes back on the queue and is
    carried out through the same guardrails (the cooldown and the rate still apply); rejected, it
    is closed. Both are audited with the actor. ``NotFound`` for a request that is not held,
    ``StateConflict`` when someone else decided it first."""
    if not actor.strip():
        raise InvalidRequest("an approval needs the approver's identity")
    if not any(h["request_id"] == request_id for h in state.held()) and record_of(kv, request_id) is None:
        raise NotFound(f"no held remediation request {request_id!r}")
    req = _close(request_id, decision, actor=actor, note=note, held_as=f"{decision} by {actor}",
                 audit_kind="approved" if decision == "approved" else "denied", now=clock.now(), kv=kv, state=state,
                 audit=audit)
    if decision == "approved":
        again = req.model_copy(update={"event_id": f"{request_id}:approved", "approved": False})
        queue.send(again.model_dump_json(), message_id=f"{request_id}:approved")
    return req


def expire(kv: "KeyValueStore", state: "RemediationState", audit: "AuditLog", now: float,
           ttl_minutes: float) -> list[str]:
    """Held requests nobody decided within ``ttl_minutes``: each gets an ``expired`` record (created only
    if absent, so a person deciding at the same moment wins or loses cleanly), leaves the holds and
    is audited. It is never carried out; the watch tells the on-call it expired."""
    out = []
    for h in state.held():
        if now - float(h["at"]) <= ttl_minutes * 60.0:
            continue
        try:
            _close(h["request_id"], "expired", actor="skyloop", note=f"no decision within {ttl_minutes:g} min",
                   held_as="expired", audit_kind="expired", now=now, kv=kv, state=state, audit=audit)
        except StateConflict:
            continue  # a person decided it just now
        out.append(h["request_id"])
    return out


def expired(kv: "KeyValueStore") -> list[dict[str, Any]]:
    """The expiry records (the watch's read side)."""
    recs = [json.loads(v) for _, v in kv.items(PREFIX)]
    return [r for r in recs if r.get("decision") == "expired"]


def decide_in(adapters: "Adapters", request_id: str, decision: Decision, *, actor: str,
              note: str | None = None) -> RemediationRequested:
    """``decide`` on a runtime's adapter set (the local runtime, or a deployed stack from the CLI)."""
    a = adapters
    return decide(request_id, decision, actor=actor, note=note, kv=a.kv, state=a.state, audit=a.audit,
                  queue=a.remediation, clock=a.clock)


__all__ = ["approved", "decide", "decide_in", "expire", "expired", "record_of"]
