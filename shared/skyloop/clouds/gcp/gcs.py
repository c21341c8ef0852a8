"""Cloud Storage: the BlobStore (``gs://bucket/name`` URIs; a bare name means the configured
bucket) and the KeyValueStore on objects.

State on GCS objects rather than Firestore: an object's ``generation`` is a version token that
GCS itself checks (``if_generation_match``), so compare-and-set needs no second service, no
database to provision and no extra IAM role beyond the bucket's; values may be far larger than
a Firestore document's 1 MiB (no spilling); and the same emulator tests blobs and state. The
price: a prefix listing is a list plus one read per key (only the report lists), and writes to
one key are limited to about one per second, which the per-key state (one detector, one group)
stays well under.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ...errors import NotFound, StaleState, TransientError
from ...ports.kv import check_size
from .config import GcpSettings


@lru_cache(maxsize=None)
def storage_client(project: str) -> Any:
    """One client per process (a function instance reuses it). With STORAGE_EMULATOR_HOST set the
    library talks to the emulator and needs no credentials."""
    import os

    from google.cloud import storage  # lazy: the core never imports google

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client(project=project)


def split_uri(uri: str, default_bucket: str) -> tuple[str, str]:
    if uri.startswith("gs://"):
        bucket, _, name = uri[5:].partition("/")
        return bucket, name
    return default_bucket, uri.lstrip("/")


def _transient(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, (gexc.TooManyRequests, gexc.InternalServerError, gexc.ServiceUnavailable,
                            gexc.GatewayTimeout))


class GcsBlobStore:
    def __init__(self, gcp: GcpSettings, client: Any = None) -> None:
        self.bucket = gcp.bucket
        self.client = client or storage_client(gcp.project)

    def _blob(self, uri: str) -> tuple[Any, str]:
        bucket, name = split_uri(uri, self.bucket)
        return self.client.bucket(bucket).blob(name), f"gs://{bucket}/{name}"

    def put(self, key: str, data: bytes) -> str:
        blob, uri = self._blob(key)
        # the library sends a CRC32C of the body: GCS refuses one corrupted in transit
        blob.upload_from_string(data, content_type="application/octet-stream", checksum="crc32c")
        return uri

    def get(self, uri: str) -> bytes:
        from google.api_core import exceptions as gexc

        blob, where = self._blob(uri)
        try:
            data: bytes = blob.download_as_bytes(checksum="crc32c")
            return data
        except gexc.NotFound:
            raise NotFound(f"no object at {where}") from None
        except Exception as exc:
            if _transient(exc):
                raise TransientError(f"Cloud Storage {type(exc).__name__} reading {where}") from None
            raise

    def exists(self, uri: str) -> bool:
        blob, _ = self._blob(uri)
        return bool(blob.exists())

    def delete(self, uri: str) -> None:
        from google.api_core import exceptions as gexc

        blob, _ = self._blob(uri)
        try:
            blob.delete()
        except gexc.NotFound:
            pass


class GcsKeyValueStore:
    """Each key an object under ``state/``; its generation is the version token. ``put_if`` with
    ``expected=None`` writes only if no object exists (``if_generation_match=0``)."""

    max_value_bytes = 32 * 2**20  # GCS takes far more; a function's memory is the real bound
    PREFIX = "state/"

    def __init__(self, gcp: GcpSettings, client: Any = None) -> None:
        self.client = client or storage_client(gcp.project)
        self.bucket = self.client.bucket(gcp.state_bucket_name)

    def _name(self, key: str) -> str:
        return self.PREFIX + key

    def get(self, key: str) -> bytes | None:
        got = self.get_versioned(key)
        return None if got is None else got[0]

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        from google.api_core import exceptions as gexc

        blob = self.bucket.blob(self._name(key))
        try:
            data = blob.download_as_bytes()
        except gexc.NotFound:
            return None
        return data, str(blob.generation)

    def put(self, key: str, value: bytes) -> None:
        check_size(self, key, value)
        self.bucket.blob(self._name(key)).upload_from_string(value)

    def put_if(self, key: str, value: bytes, expected: str | None) -> str:
        from google.api_core import exceptions as gexc

        check_size(self, key, value)
        blob = self.bucket.blob(self._name(key))
        try:
            blob.upload_from_string(value, if_generation_match=int(expected) if expected else 0)
        except gexc.PreconditionFailed:
            raise StaleState(f"{key}: changed since it was read") from None
        return str(blob.generation)

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        out = []
        for blob in self.client.list_blobs(self.bucket, prefix=self._name(prefix)):
            key = blob.name[len(self.PREFIX):]
            value = self.get(key)
            if value is not None:  # deleted between the listing and the read
                out.append((key, value))
        return sorted(out)
