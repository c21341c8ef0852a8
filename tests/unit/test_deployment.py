import hashlib
import json
import urllib.error
import urllib.request

import pytest

from skyloop.serving.deployment import smoke_rows
from skyloop.serving.history import deployment_history
from skyloop.errors import ArtifactIntegrityError, DeploymentFailed
from skyloop.events import ModelVersionApproved, RemediationRequested, Severity, TrainingDataArrived
from skyloop.handlers import on_model_approved, on_remediation, on_training_data
from skyloop.local.endpoint import serve_in_thread
from skyloop.ports.registry import Status, approve

from ..conftest import put_dataset


def train_version(rt, data, name="churn"):
    uri = put_dataset(rt, name, data, {"target": "churned", "model_group": "churn", "params": {"n_estimators": 20}})
    return on_training_data(TrainingDataArrived(uri=uri), rt.adapters)["version"]


def approve_and_deploy(rt, version):
    approve(rt.registry, rt.adapters.events, "churn", version, actor="test")
    return on_model_approved(ModelVersionApproved(model_group="churn", version=version), rt.adapters)


def test_first_version_goes_straight_to_production(runtime, two_datasets):
    v = train_version(runtime, two_datasets[0])
    out = approve_and_deploy(runtime, v)
    assert out["status"] == "promoted" and not any("canary" in s for s in out["steps"])
    assert runtime.registry.alias("churn", "production").version == v
    assert runtime.deployer.slots("churn") == {"production": v}
    assert runtime.deployer.traffic("churn") == {"production": 1.0}


def test_second_version_goes_through_canary(runtime, two_datasets):
    v1 = train_version(runtime, two_datasets[0], "a")
    approve_and_deploy(runtime, v1)
    v2 = train_version(runtime, two_datasets[1], "b")
    out = approve_and_deploy(runtime, v2)
    assert any(s.startswith("canary: 10%") for s in out["steps"])
    assert runtime.registry.alias("churn", "production").version == v2
    assert runtime.registry.alias("churn", "canary") is None
    assert runtime.deployer.slots("churn") == {"production": v2}
    assert [e["kind"] for e in deployment_history(runtime.adapters.kv, "churn")] == ["promoted", "promoted"]


def test_deploy_refuses_unapproved_version(runtime, two_datasets):
    v = train_version(runtime, two_datasets[0])
    with pytest.raises(DeploymentFailed, match="not APPROVED"):
        on_model_approved(ModelVersionApproved(model_group="churn", version=v), runtime.adapters)


def test_tampered_artifact_is_refused_and_version_rejected(runtime, two_datasets):
    v1 = train_version(runtime, two_datasets[0], "a")
    approve_and_deploy(runtime, v1)
    v2 = train_version(runtime, two_datasets[1], "b")
    mv = runtime.registry.get("churn", v2)
    path = runtime.adapters.store.path_of(mv.artifact_uri)
    path.write_bytes(path.read_bytes() + b"\x00")  # one extra byte
    with pytest.raises(ArtifactIntegrityError, match="refusing to load"):
        approve_and_deploy(runtime, v2)
    assert runtime.registry.get("churn", v2).status == Status.REJECTED
    assert runtime.registry.alias("churn", "production").version == v1
    assert runtime.deployer.traffic("churn") == {"production": 1.0}


def test_tampered_registry_record_is_refused(runtime, two_datasets):
    v = train_version(runtime, two_datasets[0])
    runtime.db.conn().execute("UPDATE model_versions SET artifact_sha256=? WHERE version=?", ("f" * 64, v))
    with pytest.raises(ArtifactIntegrityError):
        approve_and_deploy(runtime, v)
    assert runtime.registry.alias("churn", "production") is None


def test_smoke_failure_rolls_back(runtime, two_datasets, monkeypatch):
    v1 = train_version(runtime, two_datasets[0], "a")
    approve_and_deploy(runtime, v1)
    v2 = train_version(runtime, two_datasets[1], "b")
    real = runtime.deployer.predict

    def broken(group, rows, slot=None):
        return ["not-a-class"] * len(rows) if slot == "staging" else real(group, rows, slot)

    monkeypatch.setattr(runtime.deployer, "predict", broken)
    with pytest.raises(DeploymentFailed, match="smoke test failed"):
        approve_and_deploy(runtime, v2)
    assert runtime.registry.get("churn", v2).status == Status.REJECTED
    assert runtime.deployer.slots("churn") == {"production": v1}


def test_duplicate_approval_event_deploys_once(runtime, two_datasets):
    v = train_version(runtime, two_datasets[0])
    approve(runtime.registry, runtime.adapters.events, "churn", v, actor="t")
    ev = ModelVersionApproved(model_group="churn", version=v)
    first = on_model_approved(ev, runtime.adapters)
    second = on_model_approved(ModelVersionApproved.model_validate_json(ev.model_dump_json()), runtime.adapters)
    assert not first["duplicate"] and second["duplicate"]
    assert len(deployment_history(runtime.adapters.kv, "churn")) == 1


def test_rollback_action_restores_previous_production(make_runtime, two_datasets):
    rt = make_runtime(fleet=[{"name": "churn-endpoint", "kind": "model", "model_group": "churn"}])
    v1 = train_version(rt, two_datasets[0], "a")
    approve_and_deploy(rt, v1)
    v2 = train_version(rt, two_datasets[1], "b")
    approve_and_deploy(rt, v2)
    r = RemediationRequested(request_id="rb", action="rollback_deployment", target="churn-endpoint", severity=Severity.HIGH)
    res = on_remediation(r, rt.adapters, dry_run=False)
    assert res["status"] == "executed" and res["detail"] == f"churn rolled back v{v2} -> v{v1}"
    assert rt.registry.alias("churn", "production").version == v1
    assert rt.registry.get("churn", v2).status == Status.REJECTED
    again = on_remediation(RemediationRequested(request_id="rb2", action="rollback_deployment", target="churn-endpoint",
                                                severity=Severity.HIGH), rt.adapters, dry_run=False)
    assert again["status"] == "refused" and "cooldown" in again["detail"]


def _post(url, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_http_endpoint_routes_and_validates(runtime, two_datasets):
    v1 = train_version(runtime, two_datasets[0], "a")
    approve_and_deploy(runtime, v1)
    rows = smoke_rows(runtime.registry.get("churn", v1).lineage, 3)
    server = serve_in_thread(runtime.deployer)
    assert server.host == "127.0.0.1"
    base = server.url
    try:
        status, body = _post(f"{base}/v1/models/churn:predict", {"instances": rows})
        assert status == 200 and body["version"] == v1 and body["slot"] == "production"
        assert set(map(str, body["predictions"])) <= {"0", "1"} and len(body["predictions"]) == 3
        status, body = _post(f"{base}/v1/models/churn:predict", {"instances": [{"tenure_months": 3}]})
        assert status == 400 and "lacks feature" in body["reason"]
        bad = dict(rows[0], monthly_charges="lots")
        status, body = _post(f"{base}/v1/models/churn:predict", {"instances": [bad]})
        assert status == 400 and "finite number" in body["reason"]
        status, body = _post(f"{base}/v1/models/churn:predict", None, raw=b"{oops")
        assert status == 400 and body == {"error": "invalid_request", "reason": "body is not valid JSON"}
        status, body = _post(f"{base}/v1/models/nope:predict", {"instances": rows})
        assert status == 404
        # Oversized: refused from the Content-Length header, before any body is read.
        import socket

        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(b"POST /v1/models/churn:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 413")
        # Tamper with the served artifact on disk: a fresh endpoint process refuses it.
        mv = runtime.registry.get("churn", v1)
        runtime.adapters.store.path_of(mv.artifact_uri).write_bytes(b"evil")
        runtime.deployer._cache.clear()
        status, body = _post(f"{base}/v1/models/churn:predict", {"instances": rows})
        assert status == 503 and body["error"] == "artifact_integrity" and "Traceback" not in json.dumps(body)
    finally:
        server.shutdown()


def test_artifact_sha_in_registry_matches_file(runtime, two_datasets):
    v = train_version(runtime, two_datasets[0])
    mv = runtime.registry.get("churn", v)
    assert hashlib.sha256(runtime.adapters.store.get(mv.artifact_uri)).hexdigest() == mv.artifact_sha256
    assert mv.artifact_uri.endswith(f"{mv.artifact_sha256}.joblib")


def test_deploy_is_idempotent_per_request_not_per_version(runtime, two_datasets):
    """A redelivered request has one effect; a new request for an older APPROVED version goes
    back to it; asking for the serving version redeploys it; a REJECTED version is refused."""
    v1 = train_version(runtime, two_datasets[0], "a")
    approve_and_deploy(runtime, v1)
    v2 = train_version(runtime, two_datasets[1], "b")
    approve_and_deploy(runtime, v2)
    back = ModelVersionApproved(model_group="churn", version=v1, approved_by="cli")
    out = on_model_approved(back, runtime.adapters)
    assert out["status"] == "promoted" and not out["duplicate"]
    assert runtime.registry.alias("churn", "production").version == v1
    again = on_model_approved(back, runtime.adapters)  # the same request redelivered
    assert again["duplicate"] and runtime.registry.alias("churn", "production").version == v1
    out = on_model_approved(ModelVersionApproved(model_group="churn", version=v1), runtime.adapters)
    assert out["status"] == "redeployed" and not out["duplicate"]
    assert runtime.deployer.slots("churn") == {"production": v1}
    runtime.registry.set_status("churn", v2, Status.REJECTED, actor="test", note="bad")
    with pytest.raises(DeploymentFailed, match="REJECTED, not APPROVED"):
        on_model_approved(ModelVersionApproved(model_group="churn", version=v2), runtime.adapters)
    with pytest.raises(DeploymentFailed, match="REJECTED"):  # even a request that ran before
        on_model_approved(back.model_copy(update={"version": v2}), runtime.adapters)


def test_batched_requests_are_answered_and_counted_each_and_a_bad_one_fails_alone(runtime, two_datasets):
    v = train_version(runtime, two_datasets[0])
    approve_and_deploy(runtime, v)
    rows = smoke_rows(runtime.registry.get("churn", v).lineage, 3)
    single = [runtime.deployer.predict_detailed("churn", [r], slot="production")["predictions"][0] for r in rows]
    out = runtime.deployer.predict_batch("churn", [([rows[0]], None), (rows[1:], None), ([{"tenure_months": 1}], None),
                                                   ([rows[0]], "staging")])
    assert out[0]["predictions"] == single[:1] and out[1]["predictions"] == single[1:]
    assert "lacks feature" in str(out[2]) and "nothing is deployed in churn/staging" in str(out[3])
    stats = runtime.db.conn().execute("SELECT SUM(calls), SUM(errors), SUM(predictions) FROM serving_stats").fetchone()
    assert tuple(stats) == (3, 1, 3)  # three live calls, the bad one an error; the pinned probe not counted
