"""Blob Storage: the BlobStore. A URI is the blob's URL (what Event Grid reports and Azure ML
takes as a path); a bare name means the configured container."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from ...errors import NotFound, TransientError
from .config import AzureSettings
from .storage import blob_service


class AzureBlobStore:
    def __init__(self, azure: AzureSettings, service: Any = None) -> None:
        self.container = azure.container
        self.service = service or blob_service(azure)

    def locate(self, uri: str) -> tuple[str, str]:
        """(container, blob name) of a blob's URL, or of a bare name in the configured container."""
        if uri.startswith(("https://", "http://")):
            path = unquote(urlsplit(uri).path).lstrip("/")
            parts = path.split("/", 2)
            # Azurite's URLs carry the account as the first path segment
            if parts and parts[0] == self.service.account_name and len(parts) == 3:
                parts = parts[1:]
            else:
                parts = path.split("/", 1)
            return parts[0], parts[1]
        return self.container, uri.lstrip("/")

    def _client(self, uri: str) -> Any:
        return self.service.get_blob_client(*self.locate(uri))

    def put(self, key: str, data: bytes) -> str:
        blob = self._client(key)
        # validate_content: an MD5 per request, so a body corrupted in transit is refused
        blob.upload_blob(data, overwrite=True, validate_content=True)
        return str(blob.url)

    def get(self, uri: str) -> bytes:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        blob = self._client(uri)
        try:
            download = blob.download_blob(validate_content=True)
            copy = getattr(getattr(download, "properties", None), "copy", None)
            if getattr(copy, "status", None) == "pending":
                # on an account with a hierarchical namespace, BlobCreated for CopyBlob fires when the
                # copy starts: what is there now is not the blob yet; a redelivery reads it once done
                raise TransientError(f"a copy into {blob.url} is still in progress")
            data: bytes = download.readall()
            return data
        except ResourceNotFoundError:
            raise NotFound(f"no blob at {blob.url}") from None
        except HttpResponseError as exc:
            if exc.status_code in (429, 500, 503):
                raise TransientError(f"Blob Storage {exc.status_code} reading {blob.url}") from None
            raise

    def exists(self, uri: str) -> bool:
        return bool(self._client(uri).exists())

    def delete(self, uri: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._client(uri).delete_blob()
        except ResourceNotFoundError:
            pass
