"""What there is to tell, read from the loop's committed state, never from an event in flight: so a
notice goes out only after the commit that made it true, and a crash between the two loses nothing
(the next look finds the same state and the same notices). Each notice's key is its subject and
state, so looking again tells nothing twice:

- an incident opened (service, severity, top cause and its confidence, the action queued), its
  action held for a person (with the commands that approve and reject it), verified unresolved and
  escalated (or a runbook run out: to a human), and resolved;
- a held request with no incident;
- a canary aborted, a version promoted or rolled back, a version waiting for approval;
- dead letters, counted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..incidents.views import incident_rows
from ..ports.notify import Kind, Notice
from ..ports.batch import FAILED
from ..training.managed import FAILED as TRAIN_FAILED
from ..remediation.approvals import expired
from ..serving.history import deployment_history

if TYPE_CHECKING:
    from ..adapters import Adapters

DEPLOYMENT_KINDS: dict[str, Kind] = {"canary_aborted": "canary_aborted", "aborted": "canary_aborted",
                                     "rolled_back_to": "version_rolled_back"}


def _held_notice(h: dict[str, Any], subject: str, cli: str) -> Notice:
    rid = h["request_id"]
    return Notice(key=f"held:{rid}", subject=subject, kind="action_held", severity=str(h.get("severity") or "high"),
                  title=f"{h['action']} on {h['target']} waits for a person",
                  text=str(h.get("reason") or f"{h['action']} at {h.get('severity')} severity needs human approval"),
                  commands=[f"{cli} remediate --approve {rid}", f"{cli} remediate --reject {rid}"])


def notices(adapters: "Adapters", *, cli: str = "skyloop") -> list[Notice]:
    """Every notice the current state warrants (already-told ones included: ``deliver`` tells once).
    ``cli``: how the commands in a notice start (``skyloop --cloud aws`` on a deployed stack)."""
    a = adapters
    out: list[Notice] = []
    held = a.state.held()
    rows = incident_rows(a.kv, held)
    for r in rows:
        iid, cause = r["anomaly_id"], (r["causes"][0] if r["causes"] else None)
        action = cause["action"] if cause else "none"
        text = (f"top cause {cause['metric']} ({cause['confidence']:.0%}); action queued: {action}" if cause
                else "no cause ranked")
        out.append(Notice(key=f"incident:{iid}:opened", subject=iid, kind="incident_opened", severity=r["severity"],
                          title=f"{r['service']}: {r['severity']} incident {iid}", text=text,
                          commands=[f"{cli} incidents --open"]))
        tried = ", ".join(f"{t['action']} {t['outcome']}" for t in r["tried"]) or "nothing"
        if r["state"] == "unresolved":
            human = any(t.get("escalated_to") == "human" for t in r["tried"])
            out.append(Notice(key=f"incident:{iid}:unresolved", subject=iid, kind="escalated", severity=r["severity"],
                              title=f"{r['service']}: incident {iid} " + ("needs a person: the runbook ran out" if human
                                                                          else "was not resolved; escalated"),
                              text=f"tried: {tried}", commands=[f"{cli} incidents --open", f"{cli} audit"]))
        elif r["state"] == "resolved":
            out.append(Notice(key=f"incident:{iid}:resolved", subject=iid, kind="incident_resolved", severity="info",
                              title=f"{r['service']}: incident {iid} resolved", text=f"tried: {tried}", resolves=True))
    by_incident = {r["anomaly_id"] for r in rows}
    for h in held:
        out.append(_held_notice(h, h["anomaly_id"] if h.get("anomaly_id") in by_incident else h["request_id"], cli))
    versions = a.registry.versions()
    for g in sorted({v.group for v in versions}):
        for i, e in enumerate(deployment_history(a.kv, g)):
            what = str(e.get("kind", ""))
            kind = "version_promoted" if what.startswith("promoted") else DEPLOYMENT_KINDS.get(what)
            if kind is None:
                continue
            v, why = e.get("version"), e.get("reason") or ""
            title = {"version_promoted": f"{g} v{v} promoted to production",
                     "canary_aborted": f"{g} v{v} aborted" + (f" at {e['step']}" if e.get("step") else ""),
                     "version_rolled_back": f"{g} rolled back to v{v} (from v{e.get('previous')})"}[kind]
            out.append(Notice(key=f"deploy:{g}:{i}", subject=f"{g}:v{v}", kind=kind,
                              severity="info" if kind == "version_promoted" else "high", title=title, text=why))
    for v in versions:
        if v.status.value == "PENDING":
            out.append(Notice(key=f"version:{v.group}:{v.version}:pending", subject=f"{v.group}:v{v.version}",
                              kind="version_pending", title=f"{v.group} v{v.version} waits for approval",
                              text=f"{v.primary_metric}={v.score:.4f}" if v.score is not None else "",
                              commands=[f"{cli} approve {v.group} {v.version}"]))
    for rec in expired(a.kv):
        rid = rec["request_id"]
        out.append(Notice(key=f"expired:{rid}", subject=rid.rsplit(":", 1)[0], kind="action_expired", severity="high",
                          title=f"{rid} expired unapproved: it will not run", text=str(rec.get("note") or ""),
                          commands=[f"{cli} incidents --open"]))
    for key, raw in a.kv.items(FAILED):
        doc = json.loads(raw)
        out.append(Notice(key=f"batch:{key[len(FAILED):]}", subject=str(doc["input"]), kind="batch_failed", severity="medium",
                          title=f"{doc['model_group']}: the rows in {doc['input']} were not scored",
                          text=f"{doc['error']}: {doc['reason']}"))
    for key, raw in a.kv.items(TRAIN_FAILED):
        doc = json.loads(raw)
        out.append(Notice(key=f"training:{key[len(TRAIN_FAILED):]}", subject=str(doc["model_group"]),
                          kind="training_failed", severity="medium",
                          title=f"{doc['model_group']}: {doc['service']} trained no model from {doc['input'] or doc['job']}",
                          text=str(doc["reason"])))
    dead = len(a.remediation.dead_letters())
    if dead:
        out.append(Notice(key=f"dead-letters:{dead}", subject="dead-letters", kind="dead_letters", severity="medium",
                          title=f"{dead} remediation request(s) dead-lettered, each with its reason",
                          commands=[f"{cli} audit"]))
    return out


__all__ = ["notices"]
