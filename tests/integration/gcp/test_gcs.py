"""The Cloud Storage BlobStore on fake-gcs-server: gs:// URIs, a bare name in the configured
bucket, a missing object as the core's NotFound, and CRC32C-checked transfers. The state store on
the same server runs the KeyValueStore and IdempotencyStore contract suites (tests/contract/ports)."""

from __future__ import annotations

from typing import Any

import pytest

from skyloop.errors import NotFound


@pytest.fixture
def store(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.gcs import GcsBlobStore

    from ...contract.ports.conftest import gcs_client

    client = gcs_client(gcs_endpoint, monkeypatch)
    for b in ("skyloop-training-test", "other-bucket"):
        if client.lookup_bucket(b) is None:
            client.create_bucket(b)
    return GcsBlobStore(GcpSettings(project="skyloop-test", bucket="skyloop-training-test"), client=client)


def test_put_get_exists_delete(store: Any) -> None:
    uri = store.put("models/churn/v1/model.joblib", b"\x00bytes")
    assert uri == "gs://skyloop-training-test/models/churn/v1/model.joblib"
    assert store.get(uri) == store.get("models/churn/v1/model.joblib") == b"\x00bytes"
    assert store.exists(uri) and not store.exists("gs://skyloop-training-test/nope")
    assert store.put("gs://other-bucket/x.csv", b"a,b\n") == "gs://other-bucket/x.csv"
    assert store.get("gs://other-bucket/x.csv") == b"a,b\n"
    store.delete(uri)
    store.delete(uri)  # deleting twice is not an error (at-least-once cleanup)
    with pytest.raises(NotFound, match="no object at gs://skyloop-training-test/models/churn/v1/model.joblib"):
        store.get(uri)


def test_names_with_spaces_and_unicode_round_trip(store: Any) -> None:
    uri = store.put("datasets/churn 2026 é.csv", b"x")
    assert uri.endswith("churn 2026 é.csv") and store.get(uri) == b"x"


def test_a_large_value_fits_the_state_store(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unlike DynamoDB's 400 KB item, no spill store is needed: an object holds the value."""
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.gcs import GcsKeyValueStore

    from ...contract.ports.conftest import gcs_client

    client = gcs_client(gcs_endpoint, monkeypatch)
    if client.lookup_bucket("skyloop-state-test") is None:
        client.create_bucket("skyloop-state-test")
    kv = GcsKeyValueStore(GcpSettings(project="skyloop-test", bucket="skyloop-state-test"), client=client)
    big = bytes(range(256)) * 8_192  # 2 MiB
    token = kv.put_if("series:wide", big, None)
    assert kv.get_versioned("series:wide") == (big, token)
    assert [b.name for b in client.list_blobs("skyloop-state-test")] == ["state/series:wide"]
