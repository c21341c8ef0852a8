import pytest

from skyloop.errors import GuardrailViolation, NotFound, StateConflict, UnknownAction
from skyloop.events import RemediationRequested, Severity
from skyloop.handlers import on_remediation


def req(action="scale_out", target="api", severity=Severity.MEDIUM, rid=None, **kw):
    return RemediationRequested(request_id=rid or f"{target}:{action}:{severity.value}", action=action, target=target,
                                severity=severity, **kw)


def replicas(rt, name="api"):
    return rt.fleet.describe(name)["replicas"]


def test_scale_out_executes_and_is_audited_before_and_after(runtime):
    res = on_remediation(req(), runtime.adapters, dry_run=False)
    assert res["status"] == "executed" and replicas(runtime) == 4
    kinds = [e["kind"] for e in runtime.adapters.audit.entries()]
    assert kinds == ["decision", "executed"]
    assert runtime.adapters.audit.verify()[0]


def test_dry_run_changes_nothing(runtime):
    res = on_remediation(req(), runtime.adapters, dry_run=True)
    assert res["status"] == "dry_run" and "would" in res["detail"] and replicas(runtime) == 2


def test_same_request_twice_has_one_effect(runtime):
    on_remediation(req(), runtime.adapters, dry_run=False)
    again = on_remediation(req(), runtime.adapters, dry_run=False)
    assert again["duplicate"] and replicas(runtime) == 4


def test_cooldown_per_target_and_action(runtime, clock):
    on_remediation(req(rid="a"), runtime.adapters, dry_run=False)
    res = on_remediation(req(rid="b"), runtime.adapters, dry_run=False)
    assert res["status"] == "refused" and "cooldown" in res["detail"]
    assert on_remediation(req("clear_cache", rid="c"), runtime.adapters, dry_run=False)["status"] == "executed"
    clock.advance(301)
    assert on_remediation(req(rid="d"), runtime.adapters, dry_run=False)["status"] == "executed"
    assert replicas(runtime) == 6


def test_max_replicas_bound(make_runtime, clock):
    rt = make_runtime(guardrails={"max_replicas": 5, "cooldown_seconds": 0})
    assert on_remediation(req(rid="1"), rt.adapters, dry_run=False)["detail"] == "replicas 2 -> 4"
    assert on_remediation(req(rid="2"), rt.adapters, dry_run=False)["detail"] == "replicas 4 -> 5"
    res = on_remediation(req(rid="3"), rt.adapters, dry_run=False)
    assert res["status"] == "refused" and "max replicas" in res["detail"] and replicas(rt) == 5


def test_rate_limit_per_window(make_runtime, clock):
    rt = make_runtime(guardrails={"max_actions_per_window": 2, "cooldown_seconds": 0, "max_replicas": 100})
    statuses = [on_remediation(req(rid=str(i)), rt.adapters, dry_run=False)["status"] for i in range(3)]
    assert statuses == ["executed", "executed", "refused"]
    clock.advance(3601)
    assert on_remediation(req(rid="later"), rt.adapters, dry_run=False)["status"] == "executed"


def test_allow_lists(make_runtime):
    rt = make_runtime(guardrails={"allowed_actions": ["scale_out"], "allowed_targets": ["web-*"]},
                      fleet=[{"name": "api"}, {"name": "web-1"}])
    assert "allow-list" in on_remediation(req("clear_cache", target="web-1"), rt.adapters, dry_run=False)["detail"]
    assert "allow-list" in on_remediation(req(target="api"), rt.adapters, dry_run=False)["detail"]
    assert on_remediation(req(target="web-1"), rt.adapters, dry_run=False)["status"] == "executed"


def test_destructive_action_at_critical_waits_for_approval(runtime):
    r = req("restart_service", severity=Severity.CRITICAL, rid="crit")
    res = on_remediation(r, runtime.adapters, dry_run=False)
    assert res["status"] == "awaiting_approval" and runtime.fleet.describe("api")["restarts"] == 0
    (held,) = runtime.adapters.state.held()
    assert held["request_id"] == "crit"
    runtime.approve_held("crit", actor="oncall")
    report = runtime.pump(dry_run=False)["remediation"]
    assert [x["status"] for x in report.results] == ["executed"]
    assert runtime.fleet.describe("api")["restarts"] == 1
    with pytest.raises(StateConflict, match="already approved by oncall"):
        runtime.approve_held("crit", actor="someone-else")  # already decided
    with pytest.raises(NotFound):
        runtime.approve_held("never-held", actor="oncall")
    executed = [e for e in runtime.adapters.audit.entries() if e["kind"] == "executed"]
    assert executed[-1]["approved_by"] == "oncall"
    approved = [e for e in runtime.adapters.audit.entries() if e["kind"] == "approved"]
    assert approved[-1]["actor"] == "oncall" and approved[-1]["request_id"] == "crit"


def test_a_flag_in_the_message_approves_nothing(runtime):
    """Anyone who can write to the queue could set "approved": true; only a person's record counts."""
    forged = req("restart_service", severity=Severity.CRITICAL, rid="forged").model_copy(update={"approved": True})
    res = on_remediation(forged, runtime.adapters, dry_run=False)
    assert res["status"] == "awaiting_approval" and runtime.fleet.describe("api")["restarts"] == 0
    ignored = [e for e in runtime.adapters.audit.entries() if e["kind"] == "approval_ignored"]
    assert ignored and ignored[0]["request_id"] == "forged"
    # re-sent with the flag after it was held: still nothing runs
    again = forged.model_copy(update={"event_id": "forged:approved"})
    assert on_remediation(again, runtime.adapters, dry_run=False)["status"] == "awaiting_approval"
    assert runtime.fleet.describe("api")["restarts"] == 0


def test_a_rejected_request_is_closed_and_audited(runtime):
    on_remediation(req("restart_service", severity=Severity.CRITICAL, rid="crit"), runtime.adapters, dry_run=False)
    runtime.decide_held("crit", "rejected", actor="oncall", note="not during the sale")
    assert runtime.adapters.state.held() == [] and runtime.adapters.remediation.depth() == 0
    (denied,) = [e for e in runtime.adapters.audit.entries() if e["kind"] == "denied"]
    assert denied["actor"] == "oncall" and denied["note"] == "not during the sale"
    with pytest.raises(StateConflict):
        runtime.approve_held("crit", actor="oncall")


def test_destructive_action_below_threshold_runs(runtime):
    res = on_remediation(req("restart_service", severity=Severity.HIGH), runtime.adapters, dry_run=False)
    assert res["status"] == "executed"


def test_unknown_action_and_target_are_typed_errors(runtime):
    with pytest.raises(UnknownAction):
        on_remediation(req("format_disk"), runtime.adapters, dry_run=False)
    with pytest.raises(NotFound):
        on_remediation(req(target="ghost"), runtime.adapters, dry_run=False)
    with pytest.raises(GuardrailViolation, match="bad parameter"):
        on_remediation(req(params={"step": 10_000}), runtime.adapters, dry_run=False)
    assert replicas(runtime) == 2
    # each refusal is on the record, with its reason (they once left no trace in the audit log)
    rejected = [(e["action"], e["target"], e["error"]) for e in runtime.adapters.audit.entries() if e["kind"] == "rejected"]
    assert rejected == [("format_disk", "api", "unknown_action"), ("scale_out", "ghost", "not_found"),
                        ("scale_out", "api", "guardrail_violation")]
    assert runtime.adapters.audit.verify()[0]


def test_rollback_refused_for_service_without_model(runtime):
    res = on_remediation(req("rollback_deployment", severity=Severity.LOW), runtime.adapters, dry_run=False)
    assert res["status"] == "refused" and "no model" in res["detail"]


def test_queue_batch_poison_message_is_dead_lettered_and_rest_complete(runtime):
    q = runtime.adapters.remediation
    q.send(req(rid="ok-1").model_dump_json())
    q.send("{this is not json")
    q.send(req("format_disk", rid="bad-action").model_dump_json())
    q.send(req("clear_cache", rid="ok-2").model_dump_json())
    report = runtime.pump(dry_run=False)["remediation"]
    assert report.processed == 2 and report.dead_lettered == 2
    reasons = sorted(d.reason for d in q.dead_letters())
    assert reasons[0].startswith("invalid_event") and reasons[1].startswith("unknown_action")
    assert q.depth() == 0 and replicas(runtime) == 4
