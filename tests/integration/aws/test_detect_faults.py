"""Nothing lost on a retry, on moto's DynamoDB and SQS: every step of detect after scoring fails
once and the redelivery gives exactly one incident and one request (tests/faults.py)."""

import json

import pytest

from ...faults import DETECT_STEPS, detect_survives


@pytest.mark.parametrize("step", DETECT_STEPS, ids=lambda s: f"{s[1]}-{s[2] or s[0]}")
def test_detect_survives_one_failure_at_every_step_on_aws(step, aws):
    from skyloop.bootstrap import bootstrap

    adapters = bootstrap("aws")
    detect_survives(adapters, step, lambda: [json.loads(m["Body"])["request_id"] for m in aws.messages(aws.queue_url)])
