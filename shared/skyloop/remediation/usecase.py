"""Remediate use-case: guardrails, then act (or dry-run), audited before and after."""

from __future__ import annotations

import logging
from typing import Any

from ..config import Settings
from ..errors import SkyloopError
from ..events import RemediationCompleted, RemediationRequested
from ..ports import ActionExecutor, AuditLog, Clock, KeyValueStore, RemediationState
from .actions import spec_for, validate_params
from .guardrails import evaluate
from .verification import expect_recovery

log = logging.getLogger("skyloop.remediation")


def _audit_rejected(audit: AuditLog, req: RemediationRequested, exc: SkyloopError, clock: Clock) -> None:
    """A request refused before any decision (unknown action, parameters out of bounds, a
    target that does not exist) is on the record too: the audit log answers "what was asked
    of the system", not only "what did it do"."""
    audit.append("rejected", {"request_id": req.request_id, "action": req.action, "target": req.target,
                              "severity": req.severity.value, "anomaly_id": req.anomaly_id, "error": exc.code,
                              "why": exc.reason, "at": clock.now()})


def remediate(
    req: RemediationRequested,
    *,
    executor: ActionExecutor,
    audit: AuditLog,
    state: RemediationState,
    clock: Clock,
    settings: Settings,
    dry_run: bool,
    kv: KeyValueStore | None = None,
) -> RemediationCompleted:
    """``kv``: where an executed action is registered for verification (the detect path then
    judges whether the metrics recovered); without it the action is not verified."""
    try:
        spec = spec_for(req.action)  # UnknownAction -> dead letter
    except SkyloopError as exc:
        _audit_rejected(audit, req, exc, clock)
        raise
    applied = getattr(executor, "applied", None)
    prior = applied(req.request_id) if applied is not None and not dry_run else None
    if prior is not None:
        # A redelivery after a crash between acting and auditing: the action happened
        # once; finish the bookkeeping instead of deciding (or acting) again.
        now = clock.now()
        state.record(req.target, req.action, now, request_id=req.request_id)
        audit.append("executed", {"request_id": req.request_id, "action": req.action, "target": req.target,
                                  "severity": req.severity.value, "detail": prior.detail, "before": dict(prior.before),
                                  "after": dict(prior.after), "replayed": True, "at": now})
        return RemediationCompleted(event_id=f"done:{req.request_id}", request_id=req.request_id, action=req.action,
                                    target=req.target, status="executed", detail=prior.detail)
    try:
        params = validate_params(spec, req.params)  # GuardrailViolation (bounds) -> dead letter
        target_state = dict(executor.describe(req.target))  # NotFound -> dead letter
    except SkyloopError as exc:
        _audit_rejected(audit, req, exc, clock)
        raise
    now = clock.now()
    decision = evaluate(req, spec, settings.guardrails, state, now, target_state)
    base: dict[str, Any] = {
        "request_id": req.request_id, "action": req.action, "target": req.target,
        "severity": req.severity.value, "anomaly_id": req.anomaly_id, "reason": req.reason,
        "approved": req.approved, "dry_run": dry_run, "at": now,
    }
    audit.append("decision", {**base, "verdict": decision.verdict, "why": decision.reason, "state_before": target_state})

    def done(status: str, detail: str) -> RemediationCompleted:
        return RemediationCompleted(
            event_id=f"done:{req.request_id}", request_id=req.request_id, action=req.action,
            target=req.target, status=status, detail=detail,
        )

    if decision.verdict == "refuse":
        log.info("remediation refused", extra={**base, "why": decision.reason})
        return done("refused", decision.reason)
    if decision.verdict == "approval":
        state.hold(req.request_id, req.model_dump_json(), decision.reason, now)
        audit.append("held", {**base, "why": decision.reason})
        return done("awaiting_approval", decision.reason)
    if dry_run:
        result = executor.execute(req.action, req.target, params, dry_run=True)
        audit.append("dry_run", {**base, "would": result.detail})
        return done("dry_run", result.detail)
    try:
        result = executor.execute(req.action, req.target, params, dry_run=False, request_id=req.request_id)
    except SkyloopError as exc:
        audit.append("failed", {**base, "error": exc.code, "why": exc.reason})
        raise
    if result.changed:
        state.record(req.target, req.action, now, request_id=req.request_id)
    if kv is not None:
        base["verify"] = expect_recovery(kv, req, now, settings.verification)
    audit.append("executed", {**base, "detail": result.detail, "before": dict(result.before), "after": dict(result.after),
                              "replayed": result.replayed})
    log.info("remediation executed", extra={**base, "detail": result.detail})
    return done("executed", result.detail)
