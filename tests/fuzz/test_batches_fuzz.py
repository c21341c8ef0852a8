"""A batch with poison in it: every bad message is dead-lettered with its reason, every good
one completes, and bad messages leave no state behind (per handler, through the local queue)."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyloop.events import RemediationRequested, Severity

POISON = [
    "{not json", "", "[]", "null", '{"type": "RemediationRequested"}',
    '{"type": "RemediationRequested", "request_id": "x", "action": "format_disk", "target": "api"}',
    '{"type": "RemediationRequested", "request_id": "y", "action": "scale_out", "target": "ghost"}',
    '{"type": "RemediationRequested", "request_id": "z", "action": "scale_out", "target": "api", "params": {"step": -1}}',
    '{"type": "MetricBatch", "records": []}',
    '{"type": "TrainingDataArrived", "uri": "/nonexistent/file.csv"}',
    '{"type": "ModelVersionApproved", "model_group": "none", "version": 1}',
    json.dumps({"type": "Nope", "x": 1}),
    "x" * 10_000,
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(st.one_of(st.sampled_from(POISON).map(lambda p: ("bad", p)),
                               st.sampled_from(["clear_cache", "notify"]).map(lambda a: ("good", a))),
                     min_size=1, max_size=12))
def test_poison_is_dead_lettered_and_the_rest_completes(make_runtime, plan):
    # hypothesis reuses the function-scoped runtime across examples: compare before/after
    rt = make_runtime(guardrails={"cooldown_seconds": 0, "max_actions_per_window": 1000})
    q = rt.adapters.remediation
    before_dead = len(q.dead_letters())
    before_restarts = rt.fleet.describe("api")["restarts"]
    good = bad = 0
    for i, (kind, item) in enumerate(plan):
        if kind == "bad":
            q.send(item)
            bad += 1
        else:
            q.send(RemediationRequested(request_id=f"good-{i}-{id(plan)}", action=item, target="api",
                                        severity=Severity.LOW).model_dump_json())
            good += 1
    report = rt.pump(dry_run=False)["remediation"]
    assert report.processed == good
    assert report.dead_lettered == bad
    assert len(q.dead_letters()) - before_dead == bad
    assert all(d.reason and "\n" not in d.reason for d in q.dead_letters())
    assert q.depth() == 0
    assert rt.fleet.describe("api")["restarts"] == before_restarts  # no bad message changed anything
    assert rt.adapters.audit.verify()[0]
