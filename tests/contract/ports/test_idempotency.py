"""The IdempotencyStore contract (skyloop.ports), on every adapter: local (the core's
``KvIdempotencyStore`` over SQLite), AWS (Powertools' DynamoDB persistence layer), and the core
store over DynamoDB's key-value items, GCS objects and Table Storage entities (what a cloud
without Powertools runs)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from skyloop.errors import InProgress

from .conftest import _aws_kv, _azure_kv, _bucket_name, _gcp_kv, aws_credentials


@pytest.fixture(params=["local", "aws-powertools", "aws-kv", "gcp", "azure"])
def idem(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from skyloop.composed.idempotency import KvIdempotencyStore

    if request.param == "local":
        from skyloop.local.db import Database
        from skyloop.local.kv import SqliteKeyValueStore

        db = Database(tmp_path / "idem.db")
        yield KvIdempotencyStore(SqliteKeyValueStore(db))
        db.close()
        return
    if request.param == "azure":  # the core store over Table Storage entities with ETag conditions
        yield KvIdempotencyStore(_azure_kv(request.getfixturevalue("azurite"), tmp_path))
        return
    if request.param == "gcp":  # the core store over GCS objects with generation preconditions
        yield KvIdempotencyStore(_gcp_kv(request.getfixturevalue("gcs_endpoint"), monkeypatch, _bucket_name(tmp_path)))
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    if request.param == "aws-kv":
        yield KvIdempotencyStore(_aws_kv(endpoint, monkeypatch, f"idem-{tmp_path.name}"))
        return
    import boto3

    aws_credentials(monkeypatch)
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.clouds.aws.dynamodb import DynamoIdempotencyStore

    table = f"idem-{tmp_path.name}"
    boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint).create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    yield DynamoIdempotencyStore(AwsSettings(endpoint_url=endpoint, region="us-east-1"), table=table)


def test_claim_complete_and_replay(idem: Any) -> None:
    assert idem.begin("k") is None
    with pytest.raises(InProgress):
        idem.begin("k")
    idem.complete("k", {"v": 1, "at": 2.5})
    assert idem.begin("k") == {"v": 1, "at": 2.5}


def test_a_released_claim_can_be_taken_again(idem: Any) -> None:
    assert idem.begin("j") is None
    idem.release("j")
    assert idem.begin("j") is None


def test_an_expired_claim_of_a_crashed_worker_is_taken_over(idem: Any) -> None:
    assert idem.begin("crash", expires_after=1.0) is None
    with pytest.raises(InProgress):
        idem.begin("crash")
    time.sleep(1.2)
    assert idem.begin("crash") is None


def test_one_winner_among_concurrent_claims(idem: Any) -> None:
    wins, busy = [], []

    def worker() -> None:
        try:
            if idem.begin("race") is None:
                wins.append(1)
        except InProgress:
            busy.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(busy) == 7
