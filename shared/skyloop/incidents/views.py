"""The incidents as an operator reads them (the read side, over the repository): each incident's
service, times, severity, top causes, the actions tried with their verdicts, and its state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .repository import Incidents

if TYPE_CHECKING:
    from ..ports import KeyValueStore

# awaiting approval: an action for it is held for a person; open: still going on, or its action is
# being verified; resolved / unresolved: what verification concluded; ended: over, with no action
# verified (nothing was done, or what was done is judged elsewhere, like a canary's abort)
STATES = ("awaiting approval", "open", "resolved", "unresolved", "ended")


def incident_rows(kv: "KeyValueStore", held: Sequence[dict[str, Any]], *, open_only: bool = False) -> list[dict[str, Any]]:
    repo = Incidents(kv)
    waiting = {h.get("anomaly_id"): h for h in held}
    incidents = sorted(repo.all(), key=lambda x: x.start)
    services = {i.service for i in incidents}  # a service's open incident and pending actions, read once
    open_on = {svc: (repo.open_on(svc) or {}).get("anomaly_id") for svc in services}
    pending_on = {svc: repo.pending(svc) for svc in services}
    rows = []
    for a in incidents:
        done = repo.resolution(a.anomaly_id)
        attempts = list((done or {}).get("attempts", []))
        still_open = open_on[a.service] == a.anomaly_id
        pending = [p for p in pending_on[a.service] if p.get("anomaly_id") == a.anomaly_id]
        if a.anomaly_id in waiting:
            state = "awaiting approval"
        elif still_open or pending:
            state = "open"
        elif done is not None:
            state = "resolved" if done.get("status") == "resolved" else "unresolved"
        else:
            state = "ended"
        if open_only and state in ("resolved", "unresolved", "ended"):
            continue
        rows.append({
            "anomaly_id": a.anomaly_id, "service": a.service, "start": a.start.isoformat(), "end": a.end.isoformat(),
            "severity": a.severity.value, "state": state,
            "causes": [{"metric": c.metric, "confidence": c.confidence, "action": c.action} for c in a.causes[:3]],
            "tried": [{"action": t.get("action"), "outcome": t.get("outcome"), "detail": t.get("detail"),
                       "escalated_to": t.get("escalated_to")} for t in attempts]
                     + [{"action": p.get("action"), "outcome": "verifying", "detail": None, "escalated_to": None}
                        for p in pending],
            "held": ({"request_id": waiting[a.anomaly_id]["request_id"], "action": waiting[a.anomaly_id]["action"]}
                     if a.anomaly_id in waiting else None),
        })
    return rows


__all__ = ["STATES", "incident_rows"]
