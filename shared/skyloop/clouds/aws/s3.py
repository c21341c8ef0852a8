"""S3 BlobStore: ``s3://bucket/key`` URIs; a bare key means the configured bucket."""

from __future__ import annotations

from urllib.parse import unquote_plus

from ...errors import NotFound, TransientError
from .config import AwsSettings
from .session import client, error_code

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


def split_uri(uri: str, default_bucket: str) -> tuple[str, str]:
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        return bucket, key
    return default_bucket, uri.lstrip("/")


class S3BlobStore:
    def __init__(self, aws: AwsSettings) -> None:
        self.bucket = aws.bucket
        self.s3 = client("s3", aws)

    def put(self, key: str, data: bytes) -> str:
        import hashlib
        import base64

        # Content-MD5 makes S3 refuse a body corrupted in transit instead of storing it.
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        bucket, k = split_uri(key, self.bucket)
        self.s3.put_object(Bucket=bucket, Key=k, Body=data, ContentMD5=md5)
        return f"s3://{bucket}/{k}"

    def get(self, uri: str) -> bytes:
        bucket, key = split_uri(uri, self.bucket)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            code = error_code(exc)
            if code in _MISSING:
                raise NotFound(f"no object at s3://{bucket}/{key}") from None
            if code in {"SlowDown", "InternalError", "ServiceUnavailable"}:
                raise TransientError(f"S3 {code} reading s3://{bucket}/{key}") from None
            raise

    def exists(self, uri: str) -> bool:
        bucket, key = split_uri(uri, self.bucket)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:
            if error_code(exc) in _MISSING:
                return False
            raise

    def delete(self, uri: str) -> None:
        bucket, key = split_uri(uri, self.bucket)
        self.s3.delete_object(Bucket=bucket, Key=key)


def object_key(raw_key: str) -> str:
    """S3 event keys are URL-encoded with '+' for spaces (S3 docs, event message structure)."""
    return unquote_plus(raw_key)
