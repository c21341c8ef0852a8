"""Crash a handler at each step boundary, redeliver, and check each effect happened once."""

import pytest

from skyloop.events import RemediationRequested, Severity, TrainingDataArrived
from skyloop.handlers import on_remediation, on_training_data

from ..conftest import put_dataset


class Crash(BaseException):
    """Not an Exception: nothing in the handler may swallow it, like a killed process."""


def crash_once(monkeypatch, obj, name, when=lambda *a, **k: True):
    real = getattr(obj, name)
    state = {"armed": True}

    def wrapper(*args, **kwargs):
        if state["armed"] and when(*args, **kwargs):
            state["armed"] = False
            raise Crash(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapper)


@pytest.mark.parametrize("point", ["before_action", "after_action_before_audit", "after_audit_before_complete"])
def test_remediation_crash_then_redelivery_has_one_effect(runtime, monkeypatch, point):
    a = runtime.adapters
    req = RemediationRequested(request_id="crash-1", action="scale_out", target="api", severity=Severity.MEDIUM)
    if point == "before_action":
        crash_once(monkeypatch, runtime.fleet, "set_replicas")
    elif point == "after_action_before_audit":
        crash_once(monkeypatch, a.audit, "append", lambda kind, payload: kind == "executed")
    else:
        crash_once(monkeypatch, a.idempotency, "complete")
    with pytest.raises(Crash):
        on_remediation(req, a, dry_run=False)
    a.idempotency.release("remediate:crash-1:auto:live")  # the claim expires: a redelivery may run
    res = on_remediation(req, a, dry_run=False)
    assert res["status"] == "executed"
    assert runtime.fleet.describe("api")["replicas"] == 4  # scaled once, not twice
    executed = [e for e in a.audit.entries() if e["kind"] == "executed"]
    assert len(executed) == (2 if point == "after_audit_before_complete" else 1)
    assert all(e["detail"] == "replicas 2 -> 4" for e in executed)
    assert a.audit.verify()[0]


def _claims(runtime):
    """Keys held in progress (a killed worker's), read from the idempotency records in the kv store."""
    import json

    prefix = runtime.adapters.idempotency.prefix
    return [k[len(prefix):] for k, v in runtime.adapters.kv.items(prefix)
            if (json.loads(v) or {}).get("status") == "INPROGRESS"]


@pytest.mark.parametrize("point", ["after_artifact_before_registry", "after_registry_before_complete"])
def test_training_crash_then_redelivery_registers_once(runtime, monkeypatch, churn_bytes, point):
    a = runtime.adapters
    uri = put_dataset(runtime, "churn", churn_bytes, {"target": "churned", "params": {"n_estimators": 10}})
    if point == "after_artifact_before_registry":
        crash_once(monkeypatch, a.registry, "register")
    else:
        crash_once(monkeypatch, a.idempotency, "complete")
    with pytest.raises(Crash):
        on_training_data(TrainingDataArrived(uri=uri), a)
    key = next(k for k in _claims(runtime) if k.startswith("train:")) if point != "after_artifact_before_registry" else None
    if key:
        a.idempotency.release(key)  # a killed worker's claim expires: a redelivery may run
    res = on_training_data(TrainingDataArrived(uri=uri), a)
    assert len(runtime.registry.versions("churn")) == 1 and res["version"] == 1
    artifacts = list((runtime.settings.blob_root / "models" / "churn").glob("*.joblib"))
    assert len(artifacts) == 1  # content-addressed and deterministic: the retry rewrote the same file


def test_orphan_left_by_a_crash_is_reclaimed_by_the_sweep(runtime, monkeypatch, churn_bytes):
    """Crash after the artifact write, never redeliver: the sweep finds exactly that file."""
    from skyloop.local.sweep import sweep_orphan_artifacts

    a = runtime.adapters
    uri = put_dataset(runtime, "churn", churn_bytes, {"target": "churned", "params": {"n_estimators": 10}})
    crash_once(monkeypatch, a.registry, "register")
    with pytest.raises(Crash):
        on_training_data(TrainingDataArrived(uri=uri), a)
    models = runtime.settings.blob_root / "models" / "churn"
    [orphan] = list(models.glob("*.joblib"))
    assert sweep_orphan_artifacts(runtime, older_than=3600) == []  # still inside the grace period
    assert sweep_orphan_artifacts(runtime, older_than=0) == [orphan]  # listed, not deleted
    assert orphan.exists()
    # a registered version's artifact is never an orphan
    put = put_dataset(runtime, "churn2", churn_bytes.replace(b"\n1,", b"\n3,", 3), {"target": "churned", "group": "x",
                                                                                    "params": {"n_estimators": 10}})
    on_training_data(TrainingDataArrived(uri=put), a)
    assert sweep_orphan_artifacts(runtime, older_than=0, apply=True) == [orphan]
    assert not orphan.exists() and len(list(runtime.settings.blob_root.glob("models/*/*.joblib"))) == 1
