"""The KeyValueStore contract (skyloop.ports), on every adapter: versions, compare-and-set,
the value limit, prefixes, and no lost update under concurrent writers."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from skyloop.errors import StaleState, ValueTooLarge
from skyloop.ports.kv import update


def test_get_put_and_prefix_listing(kv: Any) -> None:
    assert kv.get("detector:api") is None and kv.get_versioned("detector:api") is None
    kv.put("detector:api", b"\x00state")
    kv.put("detector:db", b"other")
    kv.put("series:api", b"rows")
    assert kv.get("detector:api") == b"\x00state"
    assert sorted(k for k, _ in kv.items("detector:")) == ["detector:api", "detector:db"]


def test_compare_and_set(kv: Any) -> None:
    v1 = kv.put_if("canary:g", b"a", None)  # create: the key must not exist
    with pytest.raises(StaleState):
        kv.put_if("canary:g", b"b", None)
    assert kv.get_versioned("canary:g") == (b"a", v1)
    v2 = kv.put_if("canary:g", b"b", v1)
    assert v2 != v1 and kv.get("canary:g") == b"b"
    with pytest.raises(StaleState):  # the token read before the last write is spent
        kv.put_if("canary:g", b"c", v1)
    kv.put("canary:g", b"blind")  # an unconditional write moves the version too
    with pytest.raises(StaleState):
        kv.put_if("canary:g", b"c", v2)
    assert kv.get("canary:g") == b"blind"


def test_value_limit_is_stated_and_enforced(kv: Any) -> None:
    assert kv.max_value_bytes >= 350_000
    too_big = b"x" * (kv.max_value_bytes + 1)
    with pytest.raises(ValueTooLarge, match="value limit"):
        kv.put("series:big", too_big)
    with pytest.raises(ValueTooLarge):
        kv.put_if("series:big", too_big, None)
    assert kv.get("series:big") is None


def test_concurrent_read_modify_write_loses_no_update(kv: Any) -> None:
    """Four writers, each adding its own entries to one list (as deployment history does):
    every entry lands. With plain get/put the same race lost entries."""
    writers, each = 4, 6

    def add(tag: str) -> None:
        for i in range(each):
            update(kv, "deployments:g", lambda cur: json.dumps((json.loads(cur) if cur else []) + [f"{tag}{i}"]).encode(),
                   attempts=200)

    threads = [threading.Thread(target=add, args=(f"w{n}-",)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = json.loads(kv.get("deployments:g"))
    assert sorted(got) == sorted(f"w{n}-{i}" for n in range(writers) for i in range(each))


def test_plain_get_put_would_lose_updates(kv: Any) -> None:
    """Why the contract exists: two writers that read the same version and both write; the
    second compare-and-set is refused instead of erasing the first."""
    kv.put("detector:api", b"v0")
    _, token = kv.get_versioned("detector:api")
    kv.put_if("detector:api", b"learned by A", token)
    with pytest.raises(StaleState):
        kv.put_if("detector:api", b"learned by B", token)
    assert kv.get("detector:api") == b"learned by A"


def test_a_wide_service_series_tail_fits_the_store(kv: Any) -> None:
    """24 metrics x 2,000 rows measured 417 KB, above DynamoDB's item limit (moto enforces it):
    the tail keeps the rows that fit, and a redelivered batch's rows are not appended twice."""
    import numpy as np

    from skyloop.detection.series import SERIES_ROWS, append_series, load_series, rows_that_fit

    cols = [f"m{j}" for j in range(24)]
    t = np.arange(SERIES_ROWS, dtype=float) * 60
    x = np.random.default_rng(0).normal(size=(SERIES_ROWS, 24))
    append_series(kv, "wide", cols, t, x, np.zeros(SERIES_ROWS))
    append_series(kv, "wide", cols, t[-10:], x[-10:], np.zeros(10))  # redelivered rows
    got = load_series(kv, "wide")
    assert got is not None and len(got["t"]) == rows_that_fit(kv, 24) and got["t"][-1] == t[-1]
    assert np.all(np.diff(got["t"]) > 0) and len(kv.get("series:wide")) <= kv.max_value_bytes


def test_a_value_above_the_item_limit_spills_and_stays_consistent(kv: Any) -> None:
    """Only where a spill store is configured: a value above the item limit round-trips, keeps
    compare-and-set, and a replaced or losing value leaves no blob behind."""
    from skyloop.composed.spilling import SpillingStore

    if not isinstance(kv, SpillingStore):
        pytest.skip("this adapter set keeps every value in its item")
    big = bytes(range(256)) * 2_000  # 512,000 bytes: above DynamoDB's item
    token = kv.put_if("series:big", big, None)
    assert kv.get("series:big") == big and kv.get_versioned("series:big") == (big, token)
    assert dict(kv.items("series:"))["series:big"] == big
    assert len(kv.inner.get("series:big")) < 1024  # the item holds a pointer
    spilled = lambda: kv.blobs.s3.list_objects_v2(Bucket=kv.blobs.bucket).get("KeyCount", 0)  # noqa: E731
    assert spilled() == 1
    with pytest.raises(StaleState):
        kv.put_if("series:big", big[::-1], None)  # a losing writer's blob is deleted
    assert spilled() == 1
    update(kv, "series:big", lambda cur: (cur or b"") + b"!")
    assert kv.get("series:big") == big + b"!" and spilled() == 1  # the replaced blob is deleted
    kv.put("series:big", b"small again")
    assert kv.get("series:big") == b"small again" and spilled() == 0


def test_each_key_is_its_own_partition_on_dynamodb(kv: Any) -> None:
    """Issue 14 found every key under one partition key: one hot partition for all state."""
    ddb = getattr(getattr(kv, "inner", kv), "ddb", None)
    if ddb is None:
        pytest.skip("not DynamoDB")
    table = getattr(kv, "inner", kv).table
    kv.put("detector:api", b"a")
    kv.put("detector:db", b"b")
    pks = {i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"]}
    assert pks == {"kv#detector:api", "kv#detector:db"}
