"""Closing the loop: an action counts only when the metrics say it worked.

An executed action is a hypothesis ("scale out fixes this CPU saturation"), not a
resolution. After it, the detect path judges the target's next records against the
normal it had *before* the incident (a baseline taken when the incident was found, so
a detector that has since re-levelled onto the new state cannot call it normal):

- ``resolved``: every metric the incident moved is back within ``tolerance`` robust
  scales of that baseline for ``records`` consecutive records, within ``window_minutes``;
- ``unresolved``: the window ended first. The incident escalates: the next action of its
  runbook (its causes' actions in rank order, then the fallback of the action that
  failed), or, with none left, a human, with the reason in the audit log.

Everything is judged on record timestamps, so a replay or a delayed stream is judged by
what happened, not by when it was processed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..events import AnomalyFound, RemediationRequested
from ..incidents import Incidents
from ..ports.kv import update

if TYPE_CHECKING:
    from ..config import VerificationSettings
    from ..ports import AuditLog, KeyValueStore, Queue

log = logging.getLogger("skyloop.verification")

VERIFIED_ACTIONS = ("scale_out", "restart_service", "clear_cache", "rollback_deployment")
# what to try when an action did not work, after the incident's own ranked causes
FALLBACK_NEXT: dict[str, tuple[str, ...]] = {
    "clear_cache": ("scale_out", "restart_service"),
    "scale_out": ("restart_service",),
    "restart_service": ("scale_out",),
    "rollback_deployment": ("restart_service",),
}
BASELINE_ROWS = 120


@dataclass
class Pending:
    request_id: str
    anomaly_id: str
    service: str
    action: str
    severity: str
    executed_at: float
    deadline: float
    tried: list[str] = field(default_factory=list)
    calm: int = 0  # consecutive records within the baseline so far
    calm_since: float = 0.0  # the first of them
    last_ts: float = 0.0


@dataclass
class Verdict:
    anomaly_id: str
    request_id: str
    action: str
    outcome: str  # "resolved" | "unresolved"
    detail: str
    escalated_to: str | None = None  # the next action, "human", or None
    minutes: float | None = None  # from the action to the recovery
    at: float | None = None  # resolved: the first record back at the normal (epoch seconds)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load(kv: "KeyValueStore", service: str) -> list[Pending]:
    return [Pending(**p) for p in Incidents(kv).pending(service)]


def _save(kv: "KeyValueStore", service: str, pending: Sequence[Pending]) -> None:
    Incidents(kv).save_pending(service, [asdict(p) for p in pending])


def resolution(kv: "KeyValueStore", anomaly_id: str) -> dict[str, Any] | None:
    """What verification concluded about an incident: its attempts and the final outcome."""
    return Incidents(kv).resolution(anomaly_id)


def _record_resolution(kv: "KeyValueStore", anomaly_id: str, verdict: Verdict, at: float) -> None:
    doc = resolution(kv, anomaly_id) or {"anomaly_id": anomaly_id, "attempts": []}
    doc["attempts"].append({**verdict.to_dict(), "at": at})
    doc["status"] = ("resolved" if verdict.outcome == "resolved" else
                     "escalated_to_human" if verdict.escalated_to == "human" else "escalated")
    Incidents(kv).save_resolution(anomaly_id, doc)


# ---- the baseline, taken when an incident is found ---------------------------------
def save_baseline(kv: "KeyValueStore", anomaly_id: str, columns: Sequence[str], history: np.ndarray) -> None:
    """Per metric, the median and a robust scale of the rows before the incident."""
    rows = history[-BASELINE_ROWS:]
    doc: dict[str, list[float]] = {}
    for j, c in enumerate(columns):
        x = rows[:, j][np.isfinite(rows[:, j])] if len(rows) else np.array([])
        if len(x) < 5:
            continue
        med = float(np.median(x))
        scale = max(1.4826 * float(np.median(np.abs(x - med))), 0.01 * abs(med), 1e-6)
        doc[c] = [med, scale]
    Incidents(kv).save_baseline(anomaly_id, doc)


def _baseline(kv: "KeyValueStore", anomaly_id: str) -> dict[str, list[float]]:
    return Incidents(kv).baseline(anomaly_id)


# ---- after an action -------------------------------------------------------------
def expect_recovery(kv: "KeyValueStore", req: RemediationRequested, executed_at: float,
                    settings: "VerificationSettings") -> bool:
    """Register an executed action for verification; False when there is nothing to verify
    against (no incident, another target, an action judged elsewhere like abort_canary)."""
    if not settings.enabled or req.anomaly_id is None or req.action not in VERIFIED_ACTIONS:
        return False
    found = Incidents(kv).get(req.anomaly_id)
    if found is None or found.service != req.target:
        return False
    pending = [p for p in _load(kv, req.target) if p.anomaly_id != req.anomaly_id]  # the newest attempt is judged
    done = resolution(kv, req.anomaly_id) or {"attempts": []}
    tried = [a["action"] for a in done["attempts"]] + [req.action]
    pending.append(Pending(req.request_id, req.anomaly_id, req.target, req.action, req.severity.value, executed_at,
                           executed_at + settings.window_minutes * 60.0, tried=tried))
    _save(kv, req.target, pending)
    update(kv, INDEX_KEY, lambda cur: _with(cur, req.target, True))
    return True


INDEX_KEY = "verification:index"  # the services with actions awaiting verification: what the sweep reads


def _leave_if_done(kv: "KeyValueStore", service: str) -> "Callable[[bytes | None], bytes]":
    def change(cur: bytes | None) -> bytes:
        return _with(cur, service, False) if not _load(kv, service) else (cur or b"[]")

    return change


def _with(cur: bytes | None, service: str, present: bool) -> bytes:
    names = set(json.loads(cur)) if cur else set()
    (names.add if present else names.discard)(service)
    return json.dumps(sorted(names)).encode()


def next_action(anomaly: AnomalyFound, tried: Sequence[str]) -> str | None:
    """The runbook: the incident's causes' actions in rank order, then the fallbacks of what
    was tried; the first not tried yet."""
    order = [c.action for c in anomaly.causes]
    for t in tried:
        order += list(FALLBACK_NEXT.get(t, ()))
    return next((a for a in order if a in VERIFIED_ACTIONS and a not in tried), None)


def check_recoveries(kv: "KeyValueStore", service: str, ts: np.ndarray, X: np.ndarray, columns: Sequence[str], *,
                     settings: "VerificationSettings", queue: "Queue", audit: "AuditLog | None") -> list[Verdict]:
    """Judge the service's pending actions on these records (time-ordered); escalate failures."""
    pending = _load(kv, service)
    if not pending:
        return []
    verdicts: list[Verdict] = []
    keep: list[Pending] = []
    index = {c: j for j, c in enumerate(columns)}
    for p in pending:
        anomaly = Incidents(kv).get(p.anomaly_id)
        if anomaly is None:
            continue
        if p.last_ts == 0.0 and len(ts) and float(ts[0]) < p.executed_at - settings.window_minutes * 60.0:
            _rebase(p, max(float(ts[0]), anomaly.end.timestamp()), settings)
        base = _baseline(kv, p.anomaly_id)
        judged = [m for m in anomaly.deviating_metrics if m in base and m in index] or \
                 [m for m in (c.metric for c in anomaly.causes[:1]) if m in base and m in index]
        verdict = None
        for i in range(len(ts)):
            t = float(ts[i])
            if t <= max(p.last_ts, p.executed_at + settings.grace_seconds):
                continue
            p.last_ts = t
            if t > p.deadline:
                verdict = _unresolved(p, anomaly, judged, base, X[max(0, i - 1)], index, settings)
                break
            ok = all(_within(X[i, index[m]], base[m], settings.tolerance) for m in judged) if judged else False
            if ok and p.calm == 0:
                p.calm_since = t
            p.calm = p.calm + 1 if ok else 0
            if p.calm >= settings.records:
                more = f" and {len(judged) - 1} more" if len(judged) > 1 else ""
                verdict = Verdict(p.anomaly_id, p.request_id, p.action, "resolved",
                                  f"{judged[0]}{more} back to normal {(p.calm_since - p.executed_at) / 60:.0f} min after {p.action}",
                                  minutes=round((p.calm_since - p.executed_at) / 60, 1), at=p.calm_since)
                break
        if verdict is None:
            keep.append(p)
            continue
        verdicts.append(verdict)
        _conclude(kv, p, anomaly, verdict, queue, audit)
    _save(kv, service, keep)
    return verdicts


def _rebase(p: Pending, origin: float, settings: "VerificationSettings") -> None:
    """The stream is a whole window behind the wall clock (a replay, or a stream delivered late):
    the action is placed at the first record seen after it, or the records that follow it would
    never be judged (they all come before the wall-clock time of the action)."""
    log.info("verification follows the stream's time, not the wall clock",
             extra={"request_id": p.request_id, "behind_s": round(p.executed_at - origin)})
    p.executed_at, p.deadline = origin, origin + settings.window_minutes * 60.0


SWEEP_KEY, SWEEP_EVERY = "sweep:verification", 300.0


def sweep_overdue(kv: "KeyValueStore", now: float, *, settings: "VerificationSettings", queue: "Queue",
                  audit: "AuditLog | None") -> list[Verdict]:
    """Actions whose target has sent no record since they ran, past their window (wall clock):
    unresolved, to a human, since nothing can judge the next action either. Verification is
    otherwise driven by the target's own records, and a target that stopped reporting was never
    escalated. At most every ``SWEEP_EVERY`` seconds across all workers (a compare-and-set on
    ``SWEEP_KEY``), so the detect path can call it on every batch."""
    from ..errors import StaleState

    got = kv.get_versioned(SWEEP_KEY)
    if got is not None and now - float(got[0]) < SWEEP_EVERY:
        return []
    try:
        kv.put_if(SWEEP_KEY, repr(now).encode(), None if got is None else got[1])
    except StaleState:
        return []  # another worker sweeps
    out: list[Verdict] = []
    late = settings.window_minutes * 60.0 + settings.grace_seconds
    services = json.loads(kv.get(INDEX_KEY) or b"[]")  # an index, not a scan: a prefix listing is a table scan on DynamoDB
    for service in services:
        pending = _load(kv, service)
        if not pending:  # all judged by the detect path since: the service leaves the index
            update(kv, INDEX_KEY, _leave_if_done(kv, service))
            continue
        silent = [p for p in pending if p.last_ts <= p.executed_at and now > p.executed_at + late]
        if not silent:
            continue
        for p in silent:
            incident = Incidents(kv).get(p.anomaly_id)
            minutes = (now - p.executed_at) / 60.0
            verdict = Verdict(p.anomaly_id, p.request_id, p.action, "unresolved",
                              f"no metrics from {service} in the {minutes:.0f} min since {p.action}: "
                              "nothing can tell whether it worked", escalated_to="human")
            p.last_ts = now
            if incident is not None:
                _conclude(kv, p, incident, verdict, queue, audit)
            out.append(verdict)
        _save(kv, service, [p for p in pending if p not in silent])
    return out


def restored_normal(kv: "KeyValueStore", verdicts: Sequence[Verdict]) -> tuple[float | None, dict[str, tuple[float, float]]]:
    """(from when, the pre-incident normal of the metrics) that resolved incidents brought back."""
    out: dict[str, tuple[float, float]] = {}
    since: float | None = None
    for v in verdicts:
        if v.outcome == "resolved" and v.at is not None:
            out.update({m: (b[0], b[1]) for m, b in _baseline(kv, v.anomaly_id).items()})
            since = v.at if since is None else min(since, v.at)
    return since, out


def _extend(kv: "KeyValueStore", anomaly: AnomalyFound, until: float) -> None:
    """The incident lasts until its metrics are back (or, unresolved, at least until now): the
    detector's flags end sooner when it holds a lasting departure at most ``hold_max`` records,
    and the report once showed 34 minutes of 2.6x latency after the incident's window."""
    from datetime import datetime, timezone

    end = datetime.fromtimestamp(until, tz=timezone.utc)
    if end > anomaly.end:
        Incidents(kv).save(anomaly.model_copy(update={"end": end}))


def ended_at_normal(kv: "KeyValueStore", anomaly_id: str, tail: np.ndarray, columns: Sequence[str],
                    settings: "VerificationSettings") -> dict[str, tuple[float, float]]:
    """An incident that closed with no resolution (nobody remediated it, or what was tried did not
    work and it ended later): if the metrics it moved are back at its pre-incident normal on the
    last records, that normal, for the detector to take back, so the incident's repeat is reported
    again instead of having been learned; else nothing (a new level that stayed is the new normal,
    and an unresolved verdict has already gone to a human)."""
    done = resolution(kv, anomaly_id)
    incident = Incidents(kv).get(anomaly_id)
    if incident is None or (done is not None and done.get("status") == "resolved") or len(tail) < settings.records:
        return {}
    base = _baseline(kv, anomaly_id)
    index = {c: j for j, c in enumerate(columns)}
    moved = [m for m in incident.deviating_metrics if m in base and m in index]
    rows = tail[-settings.records:]
    if not moved or not all(_within(float(r[index[m]]), base[m], settings.tolerance) for r in rows for m in moved):
        return {}
    return {m: (base[m][0], base[m][1]) for m in moved}


def _within(x: float, base: list[float], tolerance: float) -> bool:
    return bool(np.isfinite(x)) and abs(x - base[0]) <= tolerance * base[1]


def _unresolved(p: Pending, anomaly: AnomalyFound, judged: list[str], base: dict[str, list[float]], last: np.ndarray,
                index: dict[str, int], settings: "VerificationSettings") -> Verdict:
    still = [f"{m} {last[index[m]]:.4g} vs normal {base[m][0]:.4g}±{base[m][1]:.2g}" for m in judged
             if not _within(last[index[m]], base[m], settings.tolerance)] or ["no metric it moved to judge by"]
    nxt = next_action(anomaly, p.tried) or "human"
    return Verdict(p.anomaly_id, p.request_id, p.action, "unresolved",
                   f"{p.action} did not restore the service within {settings.window_minutes:g} min: {'; '.join(still)}",
                   escalated_to=nxt)


def _conclude(kv: "KeyValueStore", p: Pending, anomaly: AnomalyFound, verdict: Verdict, queue: "Queue",
              audit: "AuditLog | None") -> None:
    _record_resolution(kv, p.anomaly_id, verdict, p.last_ts)
    _extend(kv, anomaly, verdict.at if verdict.outcome == "resolved" and verdict.at is not None else p.last_ts)
    entry = {"request_id": p.request_id, "anomaly_id": p.anomaly_id, "action": p.action, "target": p.service,
             "outcome": verdict.outcome, "why": verdict.detail, "tried": p.tried}
    if verdict.outcome == "resolved":
        log.info("remediation verified", extra=entry)
        if audit is not None:
            audit.append("verified", entry)
        return
    log.warning("remediation did not resolve the incident", extra=entry)
    if audit is not None:
        audit.append("unresolved", {**entry, "escalated_to": verdict.escalated_to})
    if verdict.escalated_to == "human":
        log.error("incident escalated to a human: the runbook is exhausted", extra=entry)
        return
    req = RemediationRequested(
        event_id=f"request:{p.anomaly_id}:{verdict.escalated_to}:escalated",
        request_id=f"{p.anomaly_id}:{verdict.escalated_to}:escalated",
        action=verdict.escalated_to or "", target=p.service, severity=p.severity,
        reason=f"escalated: {verdict.detail}", anomaly_id=p.anomaly_id,
    )
    queue.send(req.model_dump_json(), message_id=req.request_id)


__all__ = ["Pending", "Verdict", "check_recoveries", "expect_recovery", "next_action", "resolution", "restored_normal",
           "save_baseline", "sweep_overdue", "ended_at_normal"]
