from datetime import datetime, timezone

import pytest

from skyloop.errors import NotFound, StateConflict
from skyloop.registry import ApprovalGate, ModelVersion, Status, approve


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
    assert events.depth() == 1
    assert reg.get("g", v.version).status == Status.APPROVED


def _mv(version, acc):
    return ModelVersion(group="g", version=version, status=Status.PENDING, artifact_uri="x", artifact_sha256="0",
                        metrics={"cv_accuracy_mean": acc}, lineage={"primary_metric": "accuracy"},
                        created_at=datetime.now(timezone.utc))


@pytest.mark.parametrize(
    "gate, cand, prod, expect",
    [
        (ApprovalGate(), 0.9, 0.5, False),
        (ApprovalGate(enabled=True, margin=0.01), 0.90, 0.88, True),
        (ApprovalGate(enabled=True, margin=0.05), 0.90, 0.88, False),
        (ApprovalGate(enabled=True), 0.70, None, False),
        (ApprovalGate(enabled=True, min_score=0.6), 0.70, None, True),
        (ApprovalGate(enabled=True, min_score=0.8), 0.70, None, False),
    ],
)
def test_gate(gate, cand, prod, expect):
    d = gate.decide(_mv(2, cand), None if prod is None else _mv(1, prod))
    assert d.approve is expect and d.reason
