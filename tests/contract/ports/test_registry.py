"""The ModelRegistry contract (skyloop.ports) on every adapter: local (SQLite), SageMaker's
model registry on moto's server, and Vertex AI's (its generated client faked at the transport
edge: tests/integration/gcp/vertex_fake.py) with cards and state on fake-gcs-server, and Azure ML's
(its MLClient faked: tests/integration/azure/ml_fake.py) with cards and state on Azurite. Aliases
and their history are the core's ``AliasBook`` on the clouds."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from skyloop.errors import NotFound, SkyloopError
from skyloop.ports.registry import Status

from .conftest import REGION, _aws_kv, _bucket_name, gcs_client


def _vertex(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    pytest.importorskip("google.cloud.aiplatform_v1")
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.gcs import GcsBlobStore, GcsKeyValueStore
    from skyloop.clouds.gcp.vertex import VertexModelRegistry

    from ...integration.gcp.vertex_fake import FakeModelService

    client = gcs_client(endpoint, monkeypatch)
    client.create_bucket(_bucket_name(tmp_path))
    gcp = GcpSettings(project="skyloop-test", bucket=_bucket_name(tmp_path))
    return VertexModelRegistry(gcp, GcsBlobStore(gcp, client), GcsKeyValueStore(gcp, client), client=FakeModelService())


def _azureml(connection: str, tmp_path: Path) -> Any:
    pytest.importorskip("azure.ai.ml")
    from skyloop.clouds.azure.blob import AzureBlobStore
    from skyloop.clouds.azure.config import AzureSettings
    from skyloop.clouds.azure.ml import AzureMLRegistry
    from skyloop.clouds.azure.storage import blob_service

    from ...integration.azure.ml_fake import FakeMLClient
    from .conftest import _azure_kv

    azure = AzureSettings(connection_string=connection, container="reg" + "".join(c for c in tmp_path.name.lower() if c.isalnum())[-20:])
    blob_service(azure).create_container(azure.container)
    store = AzureBlobStore(azure)
    return AzureMLRegistry(azure, store, _azure_kv(connection, tmp_path), client=FakeMLClient(store, tmp_path))


@pytest.fixture(params=["local", "aws", "gcp", "azure"])
def registry(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if request.param == "local":
        from skyloop.local.db import Database
        from skyloop.local.registry import SqliteModelRegistry

        db = Database(tmp_path / "reg.db")
        yield SqliteModelRegistry(db)
        db.close()
        return
    if request.param == "gcp":
        yield _vertex(request.getfixturevalue("gcs_endpoint"), monkeypatch, tmp_path)
        return
    if request.param == "azure":  # Azure ML faked at its MLClient (tests/integration/azure/ml_fake.py), cards on Azurite
        yield _azureml(request.getfixturevalue("azurite"), tmp_path)
        return
    import boto3

    endpoint = request.getfixturevalue("moto_endpoint")
    kv = _aws_kv(endpoint, monkeypatch, f"reg-{tmp_path.name}")  # also sets the credentials
    bucket = f"reg-{tmp_path.name}".lower().replace("_", "-")[:60]
    boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=bucket)
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.clouds.aws.s3 import S3BlobStore
    from skyloop.clouds.aws.sagemaker import SageMakerModelRegistry

    aws = AwsSettings(endpoint_url=endpoint, region=REGION, bucket=bucket)
    yield SageMakerModelRegistry(aws, S3BlobStore(aws), kv)


def _register(reg: Any, group: str, key: str) -> Any:
    uri, sha = f"s3://models/{group}/{key}.joblib", "a" * 64
    if type(reg).__name__ in ("VertexModelRegistry", "AzureMLRegistry"):  # Vertex, Azure ML lays out the serving folder at upload: the bytes must exist
        data = f"artifact {key}".encode()
        uri, sha = reg.store.put(f"models/{group}/{key}.joblib", data), hashlib.sha256(data).hexdigest()
    return reg.register(group, artifact_uri=uri, artifact_sha256=sha,
                        metrics={"roc_auc": 0.8}, params={"n_estimators": 10}, lineage={"task": "classification"},
                        idempotency_key=key)


def test_register_is_pending_and_idempotent_per_key(registry: Any, tmp_path: Path) -> None:
    group = f"g-{tmp_path.name[-12:]}".replace("_", "-")
    v1 = _register(registry, group, "data-1")
    assert (v1.version, v1.status) == (1, Status.PENDING)
    assert _register(registry, group, "data-1").version == 1  # a redelivered upload
    assert _register(registry, group, "data-2").version == 2
    assert [v.version for v in registry.versions(group)] == [1, 2]
    with pytest.raises(NotFound):
        registry.get(group, 9)


def test_status_follows_the_transitions(registry: Any, tmp_path: Path) -> None:
    group = f"s-{tmp_path.name[-12:]}".replace("_", "-")
    _register(registry, group, "d")
    assert registry.set_status(group, 1, Status.APPROVED, actor="oncall").status == Status.APPROVED
    with pytest.raises(SkyloopError):
        registry.set_status(group, 1, Status.PENDING, actor="oncall")


def test_aliases_point_and_keep_their_history(registry: Any, tmp_path: Path) -> None:
    group = f"a-{tmp_path.name[-12:]}".replace("_", "-")
    for k in ("d1", "d2", "d3"):
        _register(registry, group, k)
    assert registry.alias(group, "production") is None
    for v in (1, 2, 2, 3, None, 2):
        registry.set_alias(group, "production", v)
    assert registry.alias(group, "production").version == 2
    assert registry.alias_history(group, "production") == [1, 2, 3, 2]  # repeats and unsets are not history
    with pytest.raises(NotFound):
        registry.set_alias(group, "canary", 7)
    with pytest.raises(SkyloopError, match="unknown alias"):
        registry.set_alias(group, "blue", 1)


def test_concurrent_alias_moves_lose_no_history_entry(registry: Any, tmp_path: Path) -> None:
    group = f"c-{tmp_path.name[-12:]}".replace("_", "-")
    for k in ("d1", "d2"):
        _register(registry, group, k)

    def flip(v: int) -> None:
        for _ in range(3):
            registry.set_alias(group, "staging", v)
            registry.set_alias(group, "staging", None)

    threads = [threading.Thread(target=flip, args=(v,)) for v in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(registry.alias_history(group, "staging")) == [1, 1, 1, 2, 2, 2]
