"""AWS adapters (extra ``skyloop[aws]``): S3, SQS + DLQ, EventBridge, DynamoDB,
SageMaker Model Registry / endpoints / training jobs, CloudWatch, ECS and SSM.

``build_adapters()`` wires them from ``SKYLOOP_AWS_*`` settings; each module
imports boto3 inside its constructors so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...adapters import Adapters
    from ...config import Settings
    from .config import AwsSettings


def build_adapters(settings: "Settings | None" = None, aws: "AwsSettings | None" = None) -> "Adapters":
    from .runtime import build

    return build(settings, aws)


__all__ = ["build_adapters"]
