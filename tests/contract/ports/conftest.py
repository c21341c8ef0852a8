"""Port contract suite: each test is written once against a port and runs on every adapter set
this machine can run (local on real SQLite; AWS on moto's server). GCP and Azure join here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

REGION = "us-east-1"


def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto accepts any: the clients only need some to sign with."""
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)


def _aws_kv(endpoint: str, monkeypatch: pytest.MonkeyPatch, table: str) -> Any:
    boto3 = pytest.importorskip("boto3")
    aws_credentials(monkeypatch)
    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.clouds.aws.dynamodb import DynamoKeyValueStore

    return DynamoKeyValueStore(AwsSettings(endpoint_url=endpoint, region=REGION, state_table=table))


def _bucket_name(tmp_path: Path) -> str:
    return f"b-{tmp_path.name}".lower().replace("_", "-")[:60]


def _aws_blobs(endpoint: str, bucket: str) -> Any:
    import boto3

    boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=bucket)
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.clouds.aws.s3 import S3BlobStore

    return S3BlobStore(AwsSettings(endpoint_url=endpoint, region=REGION, bucket=bucket))


def gcs_client(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("google.cloud.storage")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    return storage.Client(project="skyloop-test", credentials=AnonymousCredentials())


def _gcp_kv(endpoint: str, monkeypatch: pytest.MonkeyPatch, bucket: str) -> Any:
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.gcs import GcsKeyValueStore

    client = gcs_client(endpoint, monkeypatch)
    client.create_bucket(bucket)
    return GcsKeyValueStore(GcpSettings(project="skyloop-test", bucket=bucket), client=client)


def _azure_kv(connection: str, tmp_path: Path) -> Any:
    pytest.importorskip("azure.data.tables")
    from skyloop.clouds.azure.config import AzureSettings
    from skyloop.clouds.azure.storage import table_client
    from skyloop.clouds.azure.tables import TableKeyValueStore

    azure = AzureSettings(connection_string=connection, state_table="t" + "".join(c for c in tmp_path.name if c.isalnum())[-40:])
    client = table_client(azure, azure.state_table)
    client.create_table()
    return TableKeyValueStore(azure, client)


@pytest.fixture(params=["local", "aws", "aws+s3", "gcp", "azure"])
def kv(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """local: SQLite. aws: DynamoDB. aws+s3: DynamoDB spilling values above its item limit to S3
    (``composed.spilling.SpillingStore``), as the AWS functions run it."""
    if request.param == "local":
        from skyloop.local.db import Database
        from skyloop.local.kv import SqliteKeyValueStore

        db = Database(tmp_path / "kv.db")
        yield SqliteKeyValueStore(db)
        db.close()
    elif request.param == "gcp":  # objects with generation preconditions, on fake-gcs-server
        yield _gcp_kv(request.getfixturevalue("gcs_endpoint"), monkeypatch, _bucket_name(tmp_path))
    elif request.param == "azure":  # Table Storage entities with ETag conditions, on Azurite
        yield _azure_kv(request.getfixturevalue("azurite"), tmp_path)
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        store = _aws_kv(endpoint, monkeypatch, f"kv-{tmp_path.name}")
        if request.param == "aws+s3":
            from skyloop.composed.spilling import SpillingStore

            store = SpillingStore(store, _aws_blobs(endpoint, f"spill-{tmp_path.name}".lower().replace("_", "-")[:60]),
                                  limit=4 * 2**20)
        yield store
