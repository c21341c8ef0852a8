"""Nothing lost on a retry: every step of detect after scoring fails once, on the local adapters
(real SQLite), and the redelivery gives exactly one incident and one request. The same on moto's
DynamoDB and SQS: tests/integration/aws/test_detect_faults.py."""

import json

import pytest

from ..faults import DETECT_STEPS, detect_survives


@pytest.mark.parametrize("step", DETECT_STEPS, ids=lambda s: f"{s[1]}-{s[2] or s[0]}")
def test_detect_survives_one_failure_at_every_step(step, runtime):
    a = runtime.adapters

    def queued():
        msgs = a.remediation.receive(10, visibility_timeout=0.0)
        for m in msgs:
            a.remediation.nack(m, delay=0.0)
        return [json.loads(m.body)["request_id"] for m in msgs]

    detect_survives(a, step, queued)
    assert a.remediation.depth() == 1
