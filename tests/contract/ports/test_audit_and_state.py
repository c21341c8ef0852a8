"""The AuditLog and RemediationState contracts (skyloop.ports) on every backend: SQLite (local),
DynamoDB (AWS, on moto's server), and the core's key-value versions (composed/remediation.py) over
SQLite, GCS objects (fake-gcs-server) and Table Storage (Azurite), which Google Cloud and Azure
run. One chain, no fork under concurrent writers, tampering found; cooldowns, rates, holds, and
a redelivered request recorded once."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from .conftest import REGION, _aws_kv, _azure_kv, _bucket_name, _gcp_kv

BACKENDS = ["local", "aws", "kv-local", "kv-gcp", "kv-azure"]


def _kv(kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    if kind == "kv-local":
        from skyloop.local.db import Database
        from skyloop.local.kv import SqliteKeyValueStore

        return SqliteKeyValueStore(Database(tmp_path / "kv.db"))
    if kind == "kv-gcp":
        return _gcp_kv(request.getfixturevalue("gcs_endpoint"), monkeypatch, _bucket_name(tmp_path))
    return _azure_kv(request.getfixturevalue("azurite"), tmp_path)


def _dynamo(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    endpoint = request.getfixturevalue("moto_endpoint")
    table = f"st-{tmp_path.name}"
    _aws_kv(endpoint, monkeypatch, table)  # creates the state table (and sets credentials)
    from skyloop.clouds.aws.config import AwsSettings

    return AwsSettings(endpoint_url=endpoint, region=REGION, state_table=table)


@pytest.fixture(params=BACKENDS)
def audit(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if request.param == "local":
        from skyloop.local.audit import SqliteAuditLog
        from skyloop.local.db import Database

        yield SqliteAuditLog(Database(tmp_path / "audit.db"))
    elif request.param == "aws":
        from skyloop.clouds.aws.dynamodb import DynamoAuditLog

        yield DynamoAuditLog(_dynamo(request, tmp_path, monkeypatch))
    else:
        from skyloop.composed.remediation import KvAuditLog

        yield KvAuditLog(_kv(request.param, request, tmp_path, monkeypatch))


@pytest.fixture(params=BACKENDS)
def state(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if request.param == "local":
        from skyloop.local.db import Database
        from skyloop.local.remediation_state import SqliteRemediationState

        yield SqliteRemediationState(Database(tmp_path / "state.db"))
    elif request.param == "aws":
        from skyloop.clouds.aws.dynamodb import DynamoRemediationState

        yield DynamoRemediationState(_dynamo(request, tmp_path, monkeypatch))
    else:
        from skyloop.composed.remediation import KvRemediationState

        yield KvRemediationState(_kv(request.param, request, tmp_path, monkeypatch))


def test_the_chain_appends_lists_and_verifies(audit: Any) -> None:
    assert audit.verify()[0] and audit.entries() == []
    seqs = [audit.append("executed", {"action": "scale_out", "target": "api", "n": i}) for i in range(3)]
    assert seqs == [1, 2, 3]
    entries = audit.entries()
    assert [e["seq"] for e in entries] == [1, 2, 3] and entries[0]["action"] == "scale_out"
    assert [e["n"] for e in audit.entries(limit=2)] == [1, 2]
    ok, why = audit.verify()
    assert ok, why


def test_concurrent_appends_make_one_chain(audit: Any) -> None:
    def write(tag: str) -> None:
        for i in range(4):
            audit.append("decided", {"writer": tag, "i": i})

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e["seq"] for e in audit.entries()] == list(range(1, 13))
    ok, why = audit.verify()
    assert ok, why


def _edit_entry_2(audit: Any) -> None:
    """Change entry 2's payload behind the log's back, on each backend's own storage."""
    from skyloop.clouds.aws.dynamodb import DynamoAuditLog
    from skyloop.local.audit import SqliteAuditLog
    from skyloop.composed.remediation import KvAuditLog

    if isinstance(audit, KvAuditLog):
        key = audit._key(2)
        row = json.loads(audit.kv.get(key))
        row["payload"] = json.dumps({"i": 99})
        audit.kv.put(key, json.dumps(row).encode())
    elif isinstance(audit, SqliteAuditLog):  # around its append-only triggers, as someone editing the file would
        c = audit.db.conn()
        c.execute("DROP TRIGGER audit_no_update")
        c.execute("""UPDATE audit_log SET payload='{"i": 99}' WHERE seq=2""")
    else:
        assert isinstance(audit, DynamoAuditLog)
        audit.ddb.update_item(TableName=audit.table, Key={"pk": {"S": "audit"}, "sk": {"S": f"{2:012d}"}},
                              UpdateExpression="SET payload = :p", ExpressionAttributeValues={":p": {"S": '{"i": 99}'}})


def test_an_edited_entry_breaks_the_chain(audit: Any) -> None:
    for i in range(3):
        audit.append("executed", {"i": i})
    _edit_entry_2(audit)
    assert audit.verify() == (False, "audit entry 2 does not match the hash chain")


def test_a_head_left_behind_is_walked_forward(audit: Any) -> None:
    """A writer that died between its entry and the head: the next append finds the entry and goes on."""
    from skyloop.composed.remediation import HEAD, KvAuditLog

    if not isinstance(audit, KvAuditLog):
        pytest.skip("only the key-value chain keeps a head")
    audit.append("executed", {"i": 0})
    stale = audit.kv.get(HEAD)
    audit.append("executed", {"i": 1})
    audit.kv.put(HEAD, stale)
    assert audit.append("executed", {"i": 2}) == 3
    assert audit.verify()[0] and [e["i"] for e in audit.entries()] == [0, 1, 2]


def test_cooldowns_rates_and_a_redelivered_record(state: Any) -> None:
    assert state.last_executed("api", "scale_out") is None and state.count_since(0) == 0
    state.record("api", "scale_out", 100.0, request_id="r1")
    state.record("api", "scale_out", 100.0, request_id="r1")  # redelivered: remembered once
    state.record("api", "restart_service", 160.0, request_id="r2")
    state.record("db", "scale_out", 220.0, request_id="r3")
    assert state.last_executed("api", "scale_out") == 100.0
    assert state.count_since(0) == 3 and state.count_since(150.0) == 2 and state.count_since(500.0) == 0


def test_holds_are_kept_once_and_released_once(state: Any) -> None:
    body = json.dumps({"action": "restart_service", "target": "api", "severity": "critical"})
    state.hold("r9", body, "needs approval: critical", 50.0)
    state.hold("r9", json.dumps({"action": "other"}), "again", 60.0)  # a redelivery keeps the first
    state.hold("r8", json.dumps({"action": "scale_out"}), "needs approval", 40.0)
    held = state.held()
    assert [h["request_id"] for h in held] == ["r8", "r9"]
    assert held[1]["action"] == "restart_service" and held[1]["reason"] == "needs approval: critical"
    assert state.release_hold("r9", "approved") == body
    assert state.release_hold("r9", "approved") is None  # decided already
    assert state.release_hold("nope", "approved") is None
    assert [h["request_id"] for h in state.held()] == ["r8"]
