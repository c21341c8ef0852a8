"""Azure Storage clients, one per service and process, from a connection string (Azurite, local)
or the account URL with the managed identity (in Azure: no key in configuration)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .config import AzureSettings

# Azurite 3.35 (the newest Node 20 runs) knows storage API versions up to 2025-07-05; the SDKs
# default to newer ones, which it refuses unless started with --skipApiVersionCheck (the tests do)


def _account_url(azure: AzureSettings, service: str) -> str:
    return azure.account_url.replace(".blob.", f".{service}.") if azure.account_url else ""


@lru_cache(maxsize=None)
def _credential() -> Any:
    from azure.identity import DefaultAzureCredential  # lazy: the core never imports azure

    return DefaultAzureCredential()


def blob_service(azure: AzureSettings) -> Any:
    from azure.storage.blob import BlobServiceClient

    if azure.connection_string:
        return BlobServiceClient.from_connection_string(azure.connection_string)
    return BlobServiceClient(_account_url(azure, "blob"), credential=_credential())


def queue_client(azure: AzureSettings, name: str) -> Any:
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

    # base64, as the Functions host's queue trigger expects by default
    encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
    if azure.connection_string:
        return QueueClient.from_connection_string(azure.connection_string, name, message_encode_policy=encode,
                                                  message_decode_policy=decode)
    return QueueClient(_account_url(azure, "queue"), name, credential=_credential(), message_encode_policy=encode,
                       message_decode_policy=decode)


def table_client(azure: AzureSettings, name: str) -> Any:
    from azure.data.tables import TableClient

    if azure.connection_string:
        return TableClient.from_connection_string(azure.connection_string, name)
    return TableClient(_account_url(azure, "table"), name, credential=_credential())
