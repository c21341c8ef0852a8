"""AWS event mappers under hostile input: any JSON-ish document either maps to a domain
event (or None: not for Skyloop) or raises a typed Skyloop error, never anything else.
Mutations start from the real samples in events/aws/, so the fuzzer reaches deep fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyloop.clouds.aws import cloudwatch as cw
from skyloop.clouds.aws.events import approval_event, s3_objects, to_domain, training_job_event
from skyloop.errors import SkyloopError

EVENTS = Path(__file__).resolve().parents[2] / "events" / "aws"
SAMPLES = {p.name: json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))}


def decode(raw: Any) -> Any:
    """The one decoder, with metric-stream objects that hold what the sample holds."""
    return to_domain(raw, training_bucket="skyloop-training-123456789012-us-east-1",
                     read=lambda uri: (EVENTS / "data" / "metric-stream-records.jsonl").read_bytes())


MAPPERS = [decode, s3_objects, approval_event, training_job_event, cw.alarm_of, cw.firehose_records]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(doc: Any, path: tuple, value: Any, delete: bool) -> Any:
    doc = json.loads(json.dumps(doc))
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated(draw: Any) -> Any:
    name = draw(st.sampled_from(sorted(SAMPLES)))
    doc = SAMPLES[name]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        doc = _mutate(doc, path, draw(values), draw(st.booleans()))
    return doc


def _total(doc: Any) -> None:
    for mapper in MAPPERS:
        try:
            mapper(doc)
        except SkyloopError as exc:
            assert exc.reason and "\n" not in exc.reason


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated())
def test_mutated_aws_samples_map_or_fail_typed(doc: Any) -> None:
    if isinstance(doc, dict):
        _total(doc)


@settings(max_examples=500, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(["Records", "detail-type", "detail", "source", "alarmData", "records",
                                            "deliveryStreamArn", "type", "id"]), values, max_size=5))
def test_random_documents_map_or_fail_typed(doc: dict) -> None:
    _total(doc)
