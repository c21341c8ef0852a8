"""Remediate use-case: guardrails, a plan, then act (or dry-run), audited before and after.

Policy is all here: the guardrails decide whether, ``plans`` decides what (the absolute end
state, the replica bound, model actions through the registry and deployer), ``applied`` makes
it happen at most once per request. The executor only carries out infrastructure primitives.
"""

from __future__ import annotations

import logging
from typing import Any

from ..config import GuardrailSettings, Settings
from ..errors import GuardrailViolation, SkyloopError, TransientError, UnknownAction
from ..events import RemediationCompleted, RemediationRequested
from ..ports import ActionExecutor, ActionResult, AuditLog, Clock, Deployer, KeyValueStore, ModelRegistry, RemediationState
from . import applied, approvals, reservations
from .actions import spec_for, validate_params
from .guardrails import Decision, evaluate
from .plans import Plan, plan
from .targets import target_state
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
    kv: KeyValueStore,
    deployer: Deployer,
    registry: ModelRegistry,
) -> RemediationCompleted:
    """``kv`` holds the per-request plan and result (at most once) and the expectation that the
    detect path later checks (did the metrics recover?)."""

    def done(status: str, detail: str) -> RemediationCompleted:
        return RemediationCompleted(
            event_id=f"done:{req.request_id}", request_id=req.request_id, action=req.action,
            target=req.target, status=status, detail=detail,
        )

    try:
        spec = spec_for(req.action)  # UnknownAction -> dead letter
    except SkyloopError as exc:
        _audit_rejected(audit, req, exc, clock)
        raise
    prior = applied.prior(kv, req.request_id) if not dry_run else None
    if prior is not None:
        # A redelivery after a crash between acting and auditing: the action happened
        # once; finish the bookkeeping instead of deciding (or acting) again.
        now = clock.now()
        state.record(req.target, req.action, now, request_id=req.request_id)
        audit.append("executed", {"request_id": req.request_id, "action": req.action, "target": req.target,
                                  "severity": req.severity.value, "detail": prior.detail, "before": dict(prior.before),
                                  "after": dict(prior.after), "replayed": True, "at": now})
        return done("executed", prior.detail)
    try:
        params = validate_params(spec, req.params)  # GuardrailViolation (bounds) -> dead letter
        described = target_state(executor, req.target, registry=registry, policy=settings.guardrails)  # NotFound -> dead letter
    except SkyloopError as exc:
        _audit_rejected(audit, req, exc, clock)
        raise
    now = clock.now()
    record = approvals.record_of(kv, req.request_id)  # a person's record, never the message's flag
    approved = record is not None and record.get("decision") == "approved"
    if req.approved and not approved:
        log.warning("a request claims an approval nobody recorded: ignored", extra={"request_id": req.request_id})
        audit.append("approval_ignored", {"request_id": req.request_id, "action": req.action, "target": req.target,
                                          "why": "the message says approved; no approval record exists", "at": now})
    decision = evaluate(req, spec, settings.guardrails, state, now, approved)
    try:
        p = plan(req.action, req.target, described, params, settings.guardrails)  # UnknownAction -> dead letter
    except GuardrailViolation as exc:  # at the replica bound, no model to act on: a refusal, on the record
        if decision.verdict != "refuse":
            decision = Decision("refuse", exc.reason)
    except SkyloopError as exc:
        _audit_rejected(audit, req, exc, clock)
        raise
    reserved = decision.verdict == "allow" and not dry_run and req.action != "notify"
    if reserved:  # the check again, atomically with the reservation: one of concurrent deliveries wins
        decision = reservations.reserve(kv, req, spec, settings.guardrails, state, now, approved)
        reserved = decision.verdict == "allow"
    base: dict[str, Any] = {
        "request_id": req.request_id, "action": req.action, "target": req.target,
        "severity": req.severity.value, "anomaly_id": req.anomaly_id, "reason": req.reason,
        "approved": approved, "dry_run": dry_run, "at": now,
    }
    if approved and record is not None:
        base["approved_by"] = record.get("actor")
    audit.append("decision", {**base, "verdict": decision.verdict, "why": decision.reason, "state_before": described})

    if decision.verdict == "refuse":
        log.info("remediation refused", extra={**base, "why": decision.reason})
        return done("refused", decision.reason)
    if decision.verdict == "approval":
        state.hold(req.request_id, req.model_dump_json(), decision.reason, now)
        audit.append("held", {**base, "why": decision.reason})
        return done("awaiting_approval", decision.reason)
    try:
        if dry_run:
            audit.append("dry_run", {**base, "would": p.detail})
            return done("dry_run", "would: " + p.detail)
        p = applied.claim(kv, req.request_id, p)
        result = carry_out(p, req.target, described, executor=executor, deployer=deployer, registry=registry,
                           kv=kv, clock=clock, policy=settings.guardrails)
        applied.finish(kv, req.request_id, p, result)
    except SkyloopError as exc:
        audit.append("failed", {**base, "error": exc.code, "why": exc.reason})
        if reserved and not isinstance(exc, TransientError):  # a retry of this request keeps its reservation
            reservations.release(kv, req)
        raise
    if result.changed:
        state.record(req.target, req.action, now, request_id=req.request_id)
    elif reserved:
        reservations.release(kv, req)
    base["verify"] = expect_recovery(kv, req, now, settings.verification)
    audit.append("executed", {**base, "detail": result.detail, "before": dict(result.before), "after": dict(result.after),
                              "replayed": result.replayed})
    log.info("remediation executed", extra={**base, "detail": result.detail})
    return done("executed", result.detail)


def carry_out(p: Plan, target: str, before: dict[str, Any], *, executor: ActionExecutor, deployer: Deployer,
              registry: ModelRegistry, kv: KeyValueStore, clock: Clock, policy: GuardrailSettings) -> ActionResult:
    """Apply a plan: infrastructure through the executor's primitives, model actions through
    the deployment use-cases. Re-applying a claimed plan after a crash is safe."""
    from ..serving.deployment import abort_canary, rollback_production

    def after() -> dict[str, Any]:
        return target_state(executor, target, registry=registry, policy=policy)

    if p.primitive is None:
        return ActionResult(False, p.detail, before, before)
    if p.primitive in ("rollback", "abort_canary"):
        group = str(p.args["group"])
        if p.primitive == "abort_canary":  # idempotent by itself: a second abort finds no live canary
            changed, detail = abort_canary(group, p.args.get("version"), deployer=deployer, registry=registry, kv=kv,
                                           clock=clock, reason=f"abort_canary on {target}")
            return ActionResult(changed, detail, before, after())
        current = registry.alias(group, "production")
        if current is not None and current.version != p.args.get("from"):  # the first attempt already rolled back
            return ActionResult(True, f"{group} already rolled back to v{current.version}", before,
                                after(), replayed=True)
        frm, to = rollback_production(group, deployer=deployer, registry=registry, kv=kv, clock=clock,
                                      reason=f"rolled back by remediation on {target}")
        return ActionResult(True, f"{group} rolled back v{frm} -> v{to}", before, after())
    if p.primitive == "set_replicas":
        extra = executor.set_replicas(target, int(p.args["replicas"]))
    elif p.primitive == "restart":
        extra = executor.restart(target)
    elif p.primitive == "clear_cache":
        extra = executor.clear_cache(target)
    else:
        raise UnknownAction(f"no primitive {p.primitive!r}")
    return ActionResult(True, p.detail + (f" ({extra})" if extra else ""), before, after())
