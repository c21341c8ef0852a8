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


def test_an_uncommitted_outbox_of_another_batch_is_not_dropped_from_under_it(runtime):
    """Batch A wrote its outbox and is about to commit; batch B of the same service must not drop
    that outbox (A would then commit, die, and its effects be lost): B waits, transiently. A's own
    redelivery drops it at once and computes it again; so does anyone once it is old."""
    import time

    from skyloop import outbox
    from skyloop.errors import StaleState

    kv = runtime.adapters.kv
    kv.put("detector:api", b"state-v0")
    saved = kv.get_versioned("detector:api")
    staged = outbox.Staged(kv)
    staged.kv.put("incident:api", b'{"anomaly_id": "a"}')
    kv.put_if("outbox:detector:api", staged.to_bytes(b"state-v1", saved[1], {"batch": "A"}), None)
    with pytest.raises(StaleState, match="another batch is committing"):
        outbox.recover(kv, "detector:api", saved, runtime.adapters.remediation, None, owner="B")
    assert outbox.recover(kv, "detector:api", saved, runtime.adapters.remediation, None, owner="A") is None
    assert kv.get("outbox:detector:api") == outbox.CLEARED and kv.get("incident:api") is None
    # an old one is dropped by anyone
    got = kv.get_versioned("outbox:detector:api")
    doc = json.loads(staged.to_bytes(b"state-v1", saved[1], {"batch": "A"}))
    doc["at"] = time.time() - outbox.IN_FLIGHT_SECONDS - 1
    kv.put_if("outbox:detector:api", json.dumps(doc).encode(), got[1])
    assert outbox.recover(kv, "detector:api", saved, runtime.adapters.remediation, None, owner="B") is None
