"""Who the caller is on AWS: the STS caller identity's ARN (a role session names the person behind
it: ``arn:aws:sts::123456789012:assumed-role/oncall/alice``). An approval is recorded under it."""

from __future__ import annotations

from ...errors import AccessDenied
from .config import AwsSettings
from .session import client, error_code


def caller(aws: AwsSettings) -> str:
    try:
        return str(client("sts", aws).get_caller_identity()["Arn"])
    except Exception as exc:
        code = error_code(exc)
        if code or type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
            raise AccessDenied(f"no AWS identity to record the decision under ({code or type(exc).__name__}): "
                               "sign in (aws sso login, or AWS_PROFILE) and try again") from None
        raise
