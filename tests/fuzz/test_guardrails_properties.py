"""Remediation safety over random request streams (property tests).

Invariants checked after every stream: nothing outside the allow-list ran; replicas
stayed within bounds; cooldown held per (target, action); the rate limit held per
window; no destructive action ran at or above the approval severity without approval;
dry-run changed nothing; every executed action has its decision audited before it and
its result after it; the audit chain verifies.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyloop.config import Settings
from skyloop.errors import SkyloopError
from skyloop.events import RemediationRequested, Severity
from skyloop.handlers import on_remediation
from skyloop.clock import ManualClock
from skyloop.local.runtime import LocalRuntime

ACTIONS = ["scale_out", "restart_service", "clear_cache", "rollback_deployment", "notify", "format_disk"]
requests = st.lists(
    st.tuples(
        st.sampled_from(ACTIONS),
        st.sampled_from(["api", "web", "db", "ghost"]),
        st.sampled_from(list(Severity)),
        st.booleans(),  # approved
        st.booleans(),  # dry run
        st.floats(0, 400),  # seconds until the next request
    ),
    min_size=1, max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=requests, allowed=st.sets(st.sampled_from(ACTIONS[:5]), min_size=1))
def test_guardrails_hold_over_random_streams(tmp_path_factory, stream, allowed):
    policy = {"allowed_actions": sorted(allowed), "allowed_targets": ["api", "web"], "cooldown_seconds": 300,
              "max_actions_per_window": 4, "window_seconds": 3600, "max_replicas": 6, "min_replicas": 1,
              "approval_severity": "high"}
    clock = ManualClock(1_767_225_600)
    rt = LocalRuntime(Settings(home=tmp_path_factory.mktemp("g"), guardrails=policy,
                               fleet=[{"name": "api"}, {"name": "web"}, {"name": "db"}]), clock=clock)
    executed: list[tuple[float, str, str]] = []
    try:
        for i, (action, target, sev, approved, dry, wait) in enumerate(stream):
            before = {s["name"]: dict(s) for s in rt.fleet.services()}
            req = RemediationRequested(request_id=f"r{i}", action=action, target=target, severity=sev, approved=approved)
            try:
                res = on_remediation(req, rt.adapters, dry_run=dry)
            except SkyloopError:
                res = {"status": "error"}
            after = {s["name"]: dict(s) for s in rt.fleet.services()}
            if res["status"] != "executed" or action == "notify":
                # nothing changes unless an action executes (updated_at aside)
                strip = lambda d: {k: {f: v for f, v in s.items() if f != "updated_at"} for k, s in d.items()}  # noqa: E731
                assert strip(before) == strip(after), (action, res)
            if res["status"] == "executed":
                assert not dry
                assert action in allowed and target in ("api", "web")
                if action in ("restart_service", "rollback_deployment"):
                    assert sev < Severity.HIGH  # nobody approved: the message's flag counts for nothing
                executed.append((clock.now(), target, action))
            for s in after.values():
                assert 1 <= s["replicas"] <= 6 or s["name"] == "db"
            clock.advance(wait)
        changing = [e for e in executed if e[2] != "notify"]
        for j, (t, target, action) in enumerate(changing):
            earlier = [u for (u, tg, ac) in changing[:j] if tg == target and ac == action]
            assert not earlier or t - earlier[-1] >= 300  # cooldown
            assert sum(1 for (u, _, _) in changing[:j + 1] if t - u < 3600) <= 4  # rate limit
        entries = rt.adapters.audit.entries()
        for e in entries:
            if e["kind"] == "executed":
                prior = [x for x in entries if x["seq"] < e["seq"] and x["request_id"] == e["request_id"]]
                assert prior and prior[-1]["kind"] == "decision" and prior[-1]["verdict"] == "allow"
        assert rt.adapters.audit.verify()[0]
    finally:
        rt.close()
