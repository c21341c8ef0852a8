import json

import pytest

from skyloop.errors import InvalidEvent
from skyloop.events import MetricBatch, RemediationRequested, Severity, TrainingDataArrived, parse_event


def test_parses_each_domain_event_by_type():
    ev = parse_event(json.dumps({"type": "TrainingDataArrived", "uri": "data/x.csv"}))
    assert isinstance(ev, TrainingDataArrived) and ev.uri == "data/x.csv"
    ev = parse_event({"type": "RemediationRequested", "request_id": "r1", "action": "scale_out", "target": "api"})
    assert isinstance(ev, RemediationRequested) and ev.severity == Severity.MEDIUM


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"uri": "x"}, "no 'type'"),
        ({"type": "Nope"}, "Nope"),
        ({"type": "TrainingDataArrived"}, "uri"),
        ({"type": "ModelVersionApproved", "model_group": "g", "version": 0}, "version"),
        ({"type": "MetricBatch", "records": []}, "records"),
        ({"type": "MetricBatch", "records": [{"timestamp": "2026-01-01T00:00:00Z", "values": {"cpu": "hot"}}]}, "values"),
        ({"type": "TrainingDataArrived", "uri": "x", "surprise": 1}, "surprise"),
    ],
)
def test_malformed_events_raise_invalid_event_with_one_line_reason(raw, fragment):
    with pytest.raises(InvalidEvent) as exc:
        parse_event(raw)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_oversized_payload_is_refused_before_parsing():
    with pytest.raises(InvalidEvent, match="limit"):
        parse_event(b" " * (6 * 1024 * 1024 + 1))


def test_metric_batch_content_key_ignores_event_id():
    rec = {"timestamp": "2026-01-01T00:00:00Z", "values": {"cpu": 1.0}}
    a = MetricBatch(service="api", records=[rec])
    b = MetricBatch(service="api", records=[rec])
    assert a.event_id != b.event_id and a.content_key() == b.content_key()
    assert MetricBatch(service="web", records=[rec]).content_key() != a.content_key()


def test_infinite_metric_value_is_rejected():
    with pytest.raises(InvalidEvent, match="infinite"):
        parse_event({"type": "MetricBatch", "records": [{"timestamp": "2026-01-01T00:00:00Z", "values": {"cpu": float("inf")}}]})


def test_severity_is_ordered():
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.NORMAL
    assert max(Severity.LOW, Severity.HIGH) == Severity.HIGH
