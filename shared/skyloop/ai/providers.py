"""Which AI provider a name means: the local default (open tools, offline) or a cloud's AI services.
A provider that is not built is a typed refusal that says so, never a silent fall back to another."""

from __future__ import annotations

from typing import Any

from ..errors import CloudUnavailable

PROVIDERS = ("local", "aws", "gcp", "azure")


def provider(name: str = "local") -> Any:
    if name == "local":
        from .local import LocalAI

        return LocalAI()
    if name == "aws":
        from ..clouds import cloud
        from ..clouds.aws.ai import AwsAI
        from ..clouds.aws.config import AwsSettings

        cloud("aws")  # the SDK is installed, or one reason naming the extra
        return AwsAI(AwsSettings())
    if name == "gcp":
        from ..clouds import cloud
        from ..clouds.gcp.ai import GcpAI
        from ..clouds.gcp.config import GcpSettings

        cloud("gcp")
        return GcpAI(GcpSettings())
    if name in PROVIDERS:
        raise CloudUnavailable(f"the {name} AI services adapter is not built yet (issue 18); --provider local, aws or gcp")
    raise CloudUnavailable(f"unknown AI provider {name!r}; known: {', '.join(PROVIDERS)}")
