"""boto3 clients, created once per process (a Lambda container reuses them)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .config import AwsSettings


@lru_cache(maxsize=None)
def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    import boto3  # lazy: the core never imports boto3
    from botocore.config import Config

    cfg = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url, config=cfg)


def client(service: str, aws: AwsSettings) -> Any:
    return _client(service, aws.region, aws.endpoint_url)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
