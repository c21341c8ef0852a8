"""`skyloop incidents`: the read side over the incident repository (issue 33, item 4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from skyloop.events import AnomalyFound, RootCause, Severity
from skyloop.incidents import Incidents
from skyloop.incidents.views import incident_rows


def _incident(kv, n: int, service: str = "api") -> AnomalyFound:  # type: ignore[no-untyped-def]
    start = datetime(2026, 3, 2, 12, tzinfo=timezone.utc) + timedelta(hours=n)
    a = AnomalyFound(event_id=f"anomaly:{n}", anomaly_id=f"{service}-{n}", service=service, start=start,
                     end=start + timedelta(minutes=5), peak_score=0.9, severity=Severity.CRITICAL,
                     deviating_metrics=["cpu_usage"], rows=5,
                     causes=[RootCause(metric="cpu_usage", confidence=0.8, evidence="z=9", recommendation="scale out",
                                       action="scale_out")])
    Incidents(kv).save(a)
    return a


def test_each_state_an_incident_can_be_in(runtime) -> None:  # type: ignore[no-untyped-def]
    kv = runtime.adapters.kv
    repo = Incidents(kv)
    resolved, unresolved, waiting, going_on, ended = (_incident(kv, n) for n in range(5))
    repo.save_resolution(resolved.anomaly_id, {"status": "resolved", "attempts": [
        {"action": "scale_out", "outcome": "resolved", "detail": "cpu back", "escalated_to": None}]})
    repo.save_resolution(unresolved.anomaly_id, {"status": "escalated_to_human", "attempts": [
        {"action": "restart_service", "outcome": "unresolved", "detail": "still high", "escalated_to": "human"}]})
    repo.set_open("api", {"anomaly_id": going_on.anomaly_id, "last_ts": 0.0})
    held = [{"request_id": f"{waiting.anomaly_id}:restart_service", "action": "restart_service",
             "anomaly_id": waiting.anomaly_id}]
    rows = {r["anomaly_id"]: r for r in incident_rows(kv, held)}
    assert {k: r["state"] for k, r in rows.items()} == {
        resolved.anomaly_id: "resolved", unresolved.anomaly_id: "unresolved", waiting.anomaly_id: "awaiting approval",
        going_on.anomaly_id: "open", ended.anomaly_id: "ended"}
    assert rows[resolved.anomaly_id]["tried"] == [{"action": "scale_out", "outcome": "resolved", "detail": "cpu back",
                                                   "escalated_to": None}]
    assert rows[waiting.anomaly_id]["held"] == {"request_id": f"{waiting.anomaly_id}:restart_service",
                                                "action": "restart_service"}
    assert rows[going_on.anomaly_id]["causes"] == [{"metric": "cpu_usage", "confidence": 0.8, "action": "scale_out"}]
    assert [r["anomaly_id"] for r in incident_rows(kv, held, open_only=True)] == [waiting.anomaly_id, going_on.anomaly_id]
