"""Roles versus calls: every AWS call a Lambda entry point makes in these tests is recorded
(botocore's ``_make_api_call``, tagged with the function whose handler is running) and must be
allowed by that function's role in ``infra/aws/template.yaml``: the action, and the resource.

moto does not enforce IAM, so without this a role missing a call the code makes passes every test
and fails in an account (issue 15 found two). The resource each call touches is derived from its
parameters (S3 bucket and key, DynamoDB table, SQS queue URL, Step Functions ARNs, the EventBridge
bus, the ECS service, SageMaker endpoint / endpoint config / model / training job / model package
names and ARNs) and matched, with IAM's wildcards, against the statement's resources. Those are
the template's intrinsics (Ref, GetAtt, Sub, Select, Split, Join) resolved against the names this
test stack uses (``STACK``) and the parameters' defaults.
Not checked: conditions, and the resource of calls not listed above (their action still is:
CloudWatch GetMetricData and SSM SendCommand, for instance). SageMaker's List* calls are checked
by action only: whether they take resource-level permissions is not modelled here.
"""

from __future__ import annotations

import contextvars
import fnmatch
import functools
import re
from pathlib import Path
from typing import Any, Callable

# botocore's service names whose IAM prefix differs, and operations IAM names another way
PREFIX = {"stepfunctions": "states", "sagemaker-runtime": "sagemaker", "monitoring": "cloudwatch"}
FREE = {"sts:GetCallerIdentity"}  # needs no permission
# what the managed policies every function role has (AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess) allow
MANAGED = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments",
           "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}

ACCOUNT, REGION = "123456789012", "us-east-1"
# the physical names of the template's resources in the test stack (tests/integration/aws/conftest.py
# and the settings' defaults): what each function is told by its SKYLOOP_AWS_* variables
STACK = {"TrainingBucket": f"skyloop-training-{ACCOUNT}-{REGION}", "MetricsBucket": f"skyloop-metrics-{ACCOUNT}-{REGION}",
         "IdempotencyTable": "skyloop-idempotency", "StateTable": "skyloop-state",
         "RemediationQueue": "skyloop-remediation", "RemediationDLQ": "skyloop-remediation-dlq",
         "DeadLetterQueue": "skyloop-dead-letters", "ClearCacheDocument": "skyloop-clear-cache",
         "SageMakerExecutionRole": "skyloop-sagemaker", "RolloutStateMachine": "skyloop-rollout",
         "NotificationQueue": "skyloop-notifications", "NotificationDLQ": "skyloop-notifications-dlq",
         "NotificationTopic": "skyloop-notifications", "NotificationKey": "0f0e0d0c-1111-2222-3333-444455556666"}

current: contextvars.ContextVar[str | None] = contextvars.ContextVar("skyloop_test_function", default=None)
calls: list[tuple[str, str]] = []  # (function, "prefix:Operation")
touched: list[tuple[str, str, str]] = []  # (function, "prefix:Operation", resource ARN)


class Stack:
    """The template's intrinsics, resolved against ``STACK`` and the parameters' defaults."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.params = {k: v.get("Default", "") for k, v in doc.get("Parameters", {}).items()}

    def _arn(self, logical: str) -> str:
        kind, name = self.doc["Resources"][logical]["Type"], STACK[logical]
        return {"AWS::S3::Bucket": f"arn:aws:s3:::{name}",
                "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
                "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
                "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                "AWS::Serverless::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
                "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
                "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}",
                }[kind]

    def ref(self, name: str) -> str:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return str(self.params[name])
        kind = self.doc["Resources"][name]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{STACK[name]}"
        return self._arn(name) if kind in ("AWS::Serverless::StateMachine", "AWS::SNS::Topic") else STACK[name]

    def resolve(self, node: Any, local: dict[str, str] | None = None) -> Any:
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return [self.resolve(n, local) for n in node]
        [(fn, arg)] = node.items()
        if fn == "Ref":
            return self.ref(arg)
        if fn == "Fn::GetAtt":
            logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            assert attr == "Arn", f"GetAtt {attr} is not modelled"
            return self._arn(logical)
        if fn == "Fn::Select":
            return self.resolve(arg[1], local)[int(arg[0])]
        if fn == "Fn::Split":
            return self.resolve(arg[1], local).split(arg[0])
        if fn == "Fn::Join":
            return arg[0].join(self.resolve(arg[1], local))
        if fn == "Fn::Sub":
            text, given = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            names = {k: self.resolve(v, local) for k, v in given.items()}

            def one(m: re.Match[str]) -> str:
                key = m.group(1)
                if key in names:
                    return str(names[key])
                if key.endswith(".Arn"):
                    return self._arn(key.removesuffix(".Arn"))
                return self.ref(key)

            return re.sub(r"\$\{([^}!]+)\}", one, text)
        raise ValueError(f"{fn} is not modelled")


def allowed_statements(template: Path) -> dict[str, list[tuple[list[str], list[str]]]]:
    """function module (train, deploy ...) -> its role's Allow statements as (actions, resources)."""
    from cfnlint.decode import decode

    doc, _ = decode(str(template))
    stack, res = Stack(doc), doc["Resources"]
    out: dict[str, list[tuple[list[str], list[str]]]] = {}
    for r in res.values():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        module = r["Properties"]["Handler"].split(".")[0]
        role = res[r["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements: list[tuple[list[str], list[str]]] = [(sorted(MANAGED), ["*"])]
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                if st.get("Effect") == "Allow":
                    acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                    resources = stack.resolve(st["Resource"])
                    statements.append((acts, resources if isinstance(resources, list) else [resources]))
        out[module] = statements
    return out


def allowed_actions(template: Path) -> dict[str, set[str]]:
    """function module (train, deploy ...) -> the actions its role's inline policies allow."""
    return {fn: {a for acts, _ in sts for a in acts} for fn, sts in allowed_statements(template).items()}


# DynamoDB transactions are authorised per item operation inside them (AWS: "Using IAM with
# DynamoDB transactions"): there is no TransactWriteItems action to grant
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
            "Get": "GetItem"}


# S3 operations whose IAM action has another name
S3_ACTION = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket"}
# SageMaker parameters naming a resource, and that resource's ARN type
SAGEMAKER = {"TransformJobName": "transform-job", "EndpointName": "endpoint", "EndpointConfigName": "endpoint-config", "ModelName": "model",
             "TrainingJobName": "training-job", "ModelPackageGroupName": "model-package-group"}


def _actions(client: Any, operation: str, params: Any) -> list[tuple[str, str | None]]:
    """The IAM actions a call needs, each with the resource ARN it needs them on (None: not derived)."""
    service = client.meta.service_model.service_name
    prefix = PREFIX.get(service, service)
    if service == "dynamodb" and operation in {"TransactWriteItems", "TransactGetItems"}:
        return sorted({(f"dynamodb:{TRANSACT[k]}", _table(body["TableName"]))
                       for item in params.get("TransactItems", []) for k, body in item.items()})
    action = f"{prefix}:{S3_ACTION.get(operation, operation) if service == 's3' else operation}"
    return [(action, _resource(service, operation, params))]


def _table(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _resource(service: str, operation: str, params: dict[str, Any]) -> str | None:
    if service == "s3" and "Bucket" in params:
        key = params.get("Key")
        return f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key is not None else "")
    if service == "dynamodb" and "TableName" in params:
        return _table(params["TableName"])
    if service == "sqs" and "QueueUrl" in params:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{params['QueueUrl'].rstrip('/').rsplit('/', 1)[-1]}"
    if service == "stepfunctions":
        return params.get("stateMachineArn") or params.get("executionArn")
    if service == "sns" and "TopicArn" in params:
        return str(params["TopicArn"])
    if service == "secretsmanager" and "SecretId" in params:
        return str(params["SecretId"])
    if service == "events" and operation == "PutEvents":
        buses = {e.get("EventBusName") or "default" for e in params.get("Entries", [])}
        if len(buses) == 1:
            bus = buses.pop()
            return bus if bus.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    if service == "ecs" and "service" in params:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{params.get('cluster', 'default')}/{params['service']}"
    if service == "ecs" and "services" in params and len(params["services"]) == 1:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{params.get('cluster', 'default')}/{params['services'][0]}"
    if service in ("sagemaker", "sagemaker-runtime") and not operation.startswith("List"):
        for key in ("ModelPackageArn", "ModelPackageName", "ResourceArn"):
            if str(params.get(key, "")).startswith("arn:"):
                return str(params[key])
        for key, kind in SAGEMAKER.items():
            if key in params:
                return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{params[key]}".lower()
    return None


def allows(statements: list[tuple[list[str], list[str]]], action: str, resource: str | None) -> bool:
    """IAM's matching: some Allow statement names the action and, where the resource is derived, it."""
    for actions, resources in statements:
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
            continue
        if resource is None or any(r == "*" or _arn_match(resource, r) for r in resources):
            return True
    return False


def _arn_match(arn: str, pattern: str) -> bool:
    # SageMaker lower-cases resource names in its ARNs; other services' ARNs match case-sensitively
    if arn.startswith("arn:aws:sagemaker:"):
        arn, pattern = arn.lower(), pattern.lower()
    return fnmatch.fnmatchcase(arn, pattern)


def install(monkeypatch: Any, modules: dict[str, Any]) -> None:
    """Record calls made while one of ``modules``' handlers runs."""
    import botocore.client

    real = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: Any) -> Any:
        fn = current.get()
        if fn is not None:
            for action, resource in _actions(client, operation, params):
                calls.append((fn, action))
                touched.append((fn, action, resource or ""))
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
    """Each recorded call its function's role does not allow: "fn -> action" when no statement names
    the action, "fn -> action on arn" when none names it on that resource."""
    statements = allowed_statements(template)
    statements["deploy+rollout"] = statements["deploy"] + statements["rollout"]
    out = set()
    for fn, action, resource in touched:
        if action in FREE:
            continue
        if not allows(statements.get(fn, []), action, None):
            out.add(f"{fn} -> {action}")
        elif resource and not allows(statements[fn], action, resource):
            out.add(f"{fn} -> {action} on {resource}")
    return sorted(out)
