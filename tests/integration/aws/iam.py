"""Roles versus calls: every AWS call a Lambda entry point makes in these tests is recorded
(botocore's ``_make_api_call``, tagged with the function whose handler is running) and must be an
action that function's role in ``infra/aws/template.yaml`` allows.

moto does not enforce IAM, so without this a role missing a call the code makes passes every test
and fails in an account (issue 15 found two). Checked: the action (service prefix and operation).
Not checked: resource ARNs and conditions, which would need the template's intrinsics resolved.
"""

from __future__ import annotations

import contextvars
import functools
from pathlib import Path
from typing import Any, Callable

# botocore's service names whose IAM prefix differs, and operations IAM names another way
PREFIX = {"stepfunctions": "states", "sagemaker-runtime": "sagemaker", "monitoring": "cloudwatch"}
FREE = {"sts:GetCallerIdentity"}  # needs no permission
# what the managed policies every function role has (AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess) allow
MANAGED = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments",
           "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}

current: contextvars.ContextVar[str | None] = contextvars.ContextVar("skyloop_test_function", default=None)
calls: list[tuple[str, str]] = []  # (function, "prefix:Operation")


def allowed_actions(template: Path) -> dict[str, set[str]]:
    """function module (train, deploy ...) -> the actions its role's inline policies allow."""
    from cfnlint.decode import decode

    doc, _ = decode(str(template))
    res = doc["Resources"]
    out: dict[str, set[str]] = {}
    for r in res.values():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        module = r["Properties"]["Handler"].split(".")[0]
        role = res[r["Properties"]["Role"]["Fn::GetAtt"][0]]
        actions = set(MANAGED)
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                if st.get("Effect") == "Allow":
                    acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                    actions.update(acts)
        out[module] = actions
    return out


# DynamoDB transactions are authorised per item operation inside them (AWS: "Using IAM with
# DynamoDB transactions"): there is no TransactWriteItems action to grant
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
            "Get": "GetItem"}


def _actions(client: Any, operation: str, params: Any) -> list[str]:
    service = client.meta.service_model.service_name
    prefix = PREFIX.get(service, service)
    if service == "dynamodb" and operation in {"TransactWriteItems", "TransactGetItems"}:
        return sorted({f"dynamodb:{TRANSACT[k]}" for item in params.get("TransactItems", []) for k in item})
    return [f"{prefix}:{operation}"]


def install(monkeypatch: Any, modules: dict[str, Any]) -> None:
    """Record calls made while one of ``modules``' handlers runs."""
    import botocore.client

    real = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: Any) -> Any:
        fn = current.get()
        if fn is not None:
            calls.extend((fn, a) for a in _actions(client, operation, params))
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    for name, module in modules.items():
        monkeypatch.setattr(module, "handler", _tagged(name, module.handler))


def _tagged(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        import os

        # the template always gives deploy the state machine; a test that leaves it out runs the
        # rollout's steps inside deploy, and in an account those calls are the rollout function's
        inline = name == "deploy" and not os.environ.get("SKYLOOP_AWS_ROLLOUT_STATE_MACHINE_ARN")
        token = current.set("deploy+rollout" if inline else name)
        try:
            return handler(*args, **kwargs)
        finally:
            current.reset(token)

    return run


def unallowed(template: Path) -> list[str]:
    allowed = allowed_actions(template)
    allowed["deploy+rollout"] = allowed["deploy"] | allowed["rollout"]
    return sorted({f"{fn} -> {action}" for fn, action in calls
                   if action not in FREE and action not in allowed.get(fn, set())})
