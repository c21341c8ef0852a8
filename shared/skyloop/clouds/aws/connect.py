"""A deployed stack's settings, read from the stack itself: its ``SettingsFunction`` output names
the function whose SKYLOOP_* environment is the deployment's settings (all functions share them),
so the CLI runs on exactly what the functions run on, and nobody copies a table name by hand."""

from __future__ import annotations

from ...errors import AccessDenied, NotFound
from .config import AwsSettings
from .session import client, error_code

OUTPUT = "SettingsFunction"


def stack_settings(aws: AwsSettings, stack: str) -> dict[str, str]:
    cfn = client("cloudformation", aws)
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:
        code = error_code(exc)
        if code == "ValidationError":
            raise NotFound(f"no CloudFormation stack {stack!r} in {aws.region}") from None
        if code in ("AccessDenied", "AccessDeniedException"):
            raise AccessDenied(f"you may not read stack {stack!r}: it needs cloudformation:DescribeStacks") from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found[0].get("Outputs", [])}
    if OUTPUT not in outputs:
        raise NotFound(f"stack {stack!r} has no {OUTPUT} output: is it Skyloop's template (infra/aws/template.yaml)?")
    try:
        conf = client("lambda", aws).get_function_configuration(FunctionName=outputs[OUTPUT])
    except Exception as exc:
        if error_code(exc) in ("AccessDenied", "AccessDeniedException"):
            raise AccessDenied(f"you may not read function {outputs[OUTPUT]}: it needs lambda:GetFunctionConfiguration") from None
        raise
    env = dict((conf.get("Environment") or {}).get("Variables") or {})
    out = {k: v for k, v in env.items() if k.startswith("SKYLOOP_") and k != "SKYLOOP_HOME"}
    out["SKYLOOP_AWS_REGION"] = aws.region
    return out
