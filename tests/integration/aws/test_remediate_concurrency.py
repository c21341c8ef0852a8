"""Concurrent deliveries keep the cooldown on DynamoDB (moto): N processes, each a distinct
restart of one ECS service at the same moment, and exactly one restart runs."""

from pathlib import Path

from ...faults import concurrent_restarts


def test_n_processes_restart_once_on_dynamodb(aws, tmp_path: Path) -> None:
    statuses = concurrent_restarts("aws", str(tmp_path / "home"), 8)
    assert statuses.count("executed") == 1, statuses
    assert set(statuses) <= {"executed", "refused", "stale_state"}, statuses
    from skyloop.bootstrap import bootstrap

    audit = bootstrap("aws").audit.entries()
    assert sum(1 for e in audit if e["kind"] == "executed") == 1
    assert all("cooldown" in e["why"] for e in audit if e["kind"] == "decision" and e["verdict"] == "refuse")
