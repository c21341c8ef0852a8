from datetime import datetime, timezone

import pytest

from skyloop.errors import NotFound, StateConflict
from skyloop.config import ApprovalGate
from skyloop.ports.registry import ModelVersion, Status, approve
from skyloop.training.gate import decide


def _register(reg, group="g", key=None, acc=0.8):
    return reg.register(group, artifact_uri="file:///x", artifact_sha256="0" * 64,
                        metrics={"cv_accuracy_mean": acc}, params={}, lineage={"primary_metric": "accuracy"},
                        idempotency_key=key)


def test_versions_number_per_group_and_idempotency_key(runtime):
    reg = runtime.registry
    assert _register(reg).version == 1
    assert _register(reg).version == 2
    assert _register(reg, "other").version == 1
    a = _register(reg, key="k")
    assert _register(reg, key="k").version == a.version


def test_state_machine(runtime):
    reg = runtime.registry
    v = _register(reg)
    reg.set_status("g", v.version, Status.APPROVED, actor="t")
    reg.set_status("g", v.version, Status.REJECTED, actor="t")
    with pytest.raises(StateConflict):
        reg.set_status("g", v.version, Status.APPROVED, actor="t")
    hist = reg.status_history("g", v.version)
    assert [h["new_status"] for h in hist] == ["PENDING", "APPROVED", "REJECTED"]
    with pytest.raises(NotFound):
        reg.set_status("g", 99, Status.APPROVED, actor="t")


def test_aliases_and_history(runtime):
    reg = runtime.registry
    v1, v2 = _register(reg), _register(reg)
    reg.set_alias("g", "production", v1.version)
    reg.set_alias("g", "production", v2.version)
    assert reg.alias("g", "production").version == 2
    assert reg.alias_history("g", "production") == [1, 2]
    reg.set_alias("g", "canary", None)
    assert reg.alias("g", "canary") is None
    with pytest.raises(Exception, match="unknown alias"):
        reg.set_alias("g", "prod", 1)


def test_approve_emits_one_event_even_when_repeated(runtime):
    reg, events = runtime.registry, runtime.adapters.events
    v = _register(reg)
    approve(reg, events, "g", v.version, actor="alice")
    approve(reg, events, "g", v.version, actor="alice")
    assert runtime.event_queue.depth() == 1
    assert reg.get("g", v.version).status == Status.APPROVED


def _mv(version, acc, holdout=None):
    lineage = {"primary_metric": "accuracy"}
    if holdout is not None:
        lineage["holdout"] = holdout
    return ModelVersion(group="g", version=version, status=Status.PENDING, artifact_uri="x", artifact_sha256="0",
                        metrics={"cv_accuracy_mean": acc}, lineage=lineage, created_at=datetime.now(timezone.utc))


def _held(cand, prod, against=1, segments=None):
    return {"rows": 400, "primary_metric": "accuracy", "candidate": {"accuracy": cand},
            "baseline": {"version": against, "metrics": {"accuracy": prod}}, "segments": segments or {}}


SEG_OK = {"contract": {"one-year": {"rows": 90, "candidate": 0.80, "baseline": 0.81}}}
SEG_BAD = {"contract": {"one-year": {"rows": 90, "candidate": 0.70, "baseline": 0.81}}}


@pytest.mark.parametrize(
    "gate, cand, prod, held, expect, says",
    [
        (ApprovalGate(), 0.9, 0.5, None, False, "gate disabled"),
        # against production: CV and the held-back slice must both clear their margins
        (ApprovalGate(enabled=True, margin=0.01, holdout_margin=0.01), 0.90, 0.88, _held(0.86, 0.84), True, "approved"),
        (ApprovalGate(enabled=True, margin=0.05), 0.90, 0.88, _held(0.86, 0.84), False, "CV accuracy=0.9000 <"),
        (ApprovalGate(enabled=True, margin=0.01, holdout_margin=0.01), 0.90, 0.88, _held(0.845, 0.84), False,
         "held-back accuracy on 400 rows: 0.8450 <"),
        (ApprovalGate(enabled=True), 0.90, 0.88, _held(0.86, 0.84, segments=SEG_OK), True, "no segment drops"),
        (ApprovalGate(enabled=True), 0.90, 0.88, _held(0.86, 0.84, segments=SEG_BAD), False,
         "segment contract=one-year (90 rows): accuracy drops 0.1100"),
        # no like-for-like evidence: manual, unless the operator waives the slice
        (ApprovalGate(enabled=True), 0.90, 0.88, None, False, "held-back comparison unavailable"),
        (ApprovalGate(enabled=True), 0.90, 0.88, _held(0.86, 0.84, against=3), False, "production is now v1"),
        (ApprovalGate(enabled=True, require_holdout=False), 0.90, 0.88, None, True, "approved"),
        # no production yet: the absolute bar, on CV and on the slice
        (ApprovalGate(enabled=True), 0.70, None, None, False, "no min_score"),
        (ApprovalGate(enabled=True, min_score=0.6), 0.70, None, None, True, "CV accuracy=0.7000 >= min_score"),
        (ApprovalGate(enabled=True, min_score=0.8), 0.70, None, None, False, "<"),
        (ApprovalGate(enabled=True, min_score=0.6), 0.70, None, _held(0.55, 0.0), False,
         "held-back accuracy=0.5500 < min_score"),
    ],
)
def test_gate(gate, cand, prod, held, expect, says):
    d = decide(gate, _mv(2, cand, held), None if prod is None else _mv(1, prod))
    assert d.approve is expect
    assert says in d.reason, d.reason
