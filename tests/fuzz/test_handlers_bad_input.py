"""Bad input through each handler's real delivery path (the local runtime's queue drain):
a typed error, a structured log line with its code, the message dead-lettered with its
reason, no state written, and the next good event still served."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyloop.config import Settings
from skyloop.local.runtime import LocalRuntime

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
cells = st.one_of(st.integers(-3, 3).map(str), st.sampled_from(["", "nan", "inf", "x", '"', "1e999"]), st.text(max_size=4))


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> LocalRuntime:
    return LocalRuntime(Settings(home=tmp_path_factory.mktemp("bad-input"), guardrails={"cooldown_seconds": 0}))


def _state(rt: LocalRuntime) -> tuple:
    prefix = rt.adapters.idempotency.prefix  # a released claim stays as an empty record: count completed ones
    with rt.db.tx() as c:
        kv = c.execute("SELECT COUNT(*) FROM kv WHERE key NOT LIKE ?", (prefix + "%",)).fetchone()[0]
    idem = sum(1 for _, v in rt.adapters.kv.items(prefix) if (json.loads(v) or {}).get("status") == "COMPLETED")
    return (len(rt.registry.versions()), kv, idem, rt.adapters.remediation.depth(), rt.fleet.describe("api")["replicas"])


def _deliver_bad(rt: LocalRuntime, body: str, caplog: pytest.LogCaptureFixture) -> None:
    before, dead = _state(rt), len(rt.event_queue.dead_letters())
    caplog.clear()
    rt.event_queue.send(body)
    with caplog.at_level(logging.ERROR, logger="skyloop"):
        report = rt.drain(rt.event_queue)
    assert report.dead_lettered == 1 and report.processed == 0, report
    letter = rt.event_queue.dead_letters()[-1]
    assert len(rt.event_queue.dead_letters()) == dead + 1 and letter.reason and "\n" not in letter.reason
    record = next(r for r in caplog.records if r.getMessage().startswith("permanent failure"))
    assert getattr(record, "error", None) and getattr(record, "reason", None)
    assert _state(rt) == before  # nothing written by a message that failed


@SETTINGS
@given(header=st.lists(st.sampled_from(["a", "b", "label", "a", ""]), max_size=4),
       rows=st.lists(st.lists(cells, max_size=5), max_size=12))
def test_train_bad_csv(rt: LocalRuntime, caplog: pytest.LogCaptureFixture, header: list, rows: list) -> None:
    csv = "\n".join([",".join(header)] + [",".join(r) for r in rows]).encode()
    uri = rt.adapters.store.put("inbox/fuzz.csv", csv)
    _deliver_bad(rt, json.dumps({"type": "TrainingDataArrived", "uri": uri}), caplog)


@SETTINGS
@given(records=st.lists(st.fixed_dictionaries({"timestamp": st.sampled_from(["2026-11-24T00:00:00Z", "never", "", 1e20]),
                                               "values": st.dictionaries(st.sampled_from(["nope", "", "x"]),
                                                                         st.floats(allow_nan=True), max_size=2)}),
                        min_size=1, max_size=5),
       spoil=st.sampled_from([("timestamp", "never"), ("timestamp", ""), ("timestamp", 1e20), ("values", {}),
                              ("values", {"cpu": "high"}), ("values", [])]),
       at=st.integers(0, 4))
def test_detect_bad_records(rt: LocalRuntime, caplog: pytest.LogCaptureFixture, records: list, spoil: tuple,
                            at: int) -> None:
    records[at % len(records)][spoil[0]] = spoil[1]  # at least one record is malformed
    _deliver_bad(rt, json.dumps({"type": "MetricBatch", "service": "api", "records": records}, allow_nan=True), caplog)


@SETTINGS
@given(group=st.text(min_size=1, max_size=10), version=st.integers(1, 10**6))
def test_deploy_unknown_version(rt: LocalRuntime, caplog: pytest.LogCaptureFixture, group: str, version: int) -> None:
    _deliver_bad(rt, json.dumps({"type": "ModelVersionApproved", "model_group": group, "version": version}), caplog)


@SETTINGS
@given(action=st.text(max_size=12), target=st.text(min_size=1, max_size=8), params=st.dictionaries(
    st.text(max_size=5), st.integers(), max_size=2))
def test_remediate_unknown_or_malformed_action(rt: LocalRuntime, caplog: pytest.LogCaptureFixture, action: str,
                                              target: str, params: dict) -> None:
    from skyloop.remediation.actions import CATALOGUE

    if action in CATALOGUE and target == "api" and not params:
        return  # a valid request: not this test's business
    body = {"type": "RemediationRequested", "request_id": f"fuzz-{action}-{target}", "action": action or " ",
            "target": target, "params": params}
    _deliver_bad(rt, json.dumps(body), caplog)


def test_after_all_that_a_good_event_is_served(rt: LocalRuntime) -> None:
    rt.event_queue.send(json.dumps({"type": "RemediationRequested", "request_id": "good-after-fuzz",
                                        "action": "clear_cache", "target": "api"}))
    assert rt.drain(rt.event_queue).processed == 1
