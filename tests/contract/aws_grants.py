"""What Lambda and its event sources require of a function's role, checked on the template as
CloudFormation sees it after SAM's transform (the SAM CLI's own translator, from its virtualenv).

cfn-lint and checkov read the template's text; the platform reads the translated resources and
refuses at deploy time what they do not grant. The rules here are the platform's own, as its
documentation states them:
- a function's dead-letter queue (``DeadLetterConfig``) needs ``sqs:SendMessage`` on that queue in
  the function's role, or CreateFunction fails with InvalidParameterValueException;
- an on-failure destination (``EventInvokeConfig``) on SQS needs ``sqs:SendMessage`` too;
- an SQS event source mapping needs ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` and
  ``sqs:GetQueueAttributes`` on its queue;
- a dead-letter queue is used only for asynchronous invocations: a function nothing invokes
  asynchronously (no EventBridge rule, no S3 notification) keeps none, and a function does not park
  one failure twice (a dead-letter queue and an on-failure destination on the same queue).
"""

from __future__ import annotations

import json
import subprocess
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

doc = yaml_parse(open(sys.argv[1]).read())
for name, r in doc["Resources"].items():  # as `sam package` leaves them: code in S3
    for prop in ("CodeUri", "DefinitionUri"):
        if isinstance(r.get("Properties", {}).get(prop), str) and not r["Properties"][prop].startswith("s3://"):
            r["Properties"][prop] = f"s3://skyloop-package/{name}"
print(json.dumps(transform(doc, {}, NoManagedPolicies())))
"""


def translate(template: Path, python: Path) -> dict[str, Any]:
    """The template after SAM's transform, by the translator the SAM CLI ships (``python``: its
    virtualenv's interpreter)."""
    import os

    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    res = subprocess.run([str(python), "-c", TRANSLATE, str(template)], capture_output=True, text=True, timeout=300,
                         env=env)
    if res.returncode != 0:
        raise AssertionError(f"SAM's transform failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout)


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def _ref_name(v: Any) -> str | None:
    """The logical id an intrinsic points at (Ref X, GetAtt X.Arn)."""
    if isinstance(v, dict):
        if "Ref" in v:
            return str(v["Ref"])
        if "Fn::GetAtt" in v:
            att = v["Fn::GetAtt"]
            return str(att[0] if isinstance(att, list) else att.split(".")[0])
    return None


def grants(template: dict[str, Any], role: str, action: str, resource: Any) -> bool:
    """Whether an inline policy of ``role`` allows ``action`` on ``resource`` (same intrinsic, or '*')."""
    props = template["Resources"][role]["Properties"]
    for policy in props.get("Policies", []):
        for st in _list(policy["PolicyDocument"]["Statement"]):
            if st.get("Effect") != "Allow" or not any(fnmatch(action, a) for a in _list(st.get("Action", []))):
                continue
            if any(r == "*" or _key(r) == _key(resource) for r in _list(st.get("Resource", []))):
                return True
    return False


def problems(template: dict[str, Any]) -> list[str]:
    res = template["Resources"]
    out: list[str] = []
    functions = {k: v for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
    role_of = {k: _ref_name(v["Properties"]["Role"]) for k, v in functions.items()}
    async_sources = {name: False for name in functions}
    for r in res.values():
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"].get("Principal") in (
                "events.amazonaws.com", "s3.amazonaws.com", "sns.amazonaws.com"):
            name = _ref_name(r["Properties"]["FunctionName"])
            if name in async_sources:
                async_sources[name] = True
    failure_queue: dict[str, str] = {}
    for r in res.values():
        if r["Type"] == "AWS::Lambda::EventInvokeConfig":
            name = _ref_name(r["Properties"]["FunctionName"])
            dest = (r["Properties"].get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
            if name in functions and dest is not None:
                failure_queue[name] = _key(dest)
                if not grants(template, str(role_of[name]), "sqs:SendMessage", dest):
                    out.append(f"{name}: its on-failure destination needs sqs:SendMessage in {role_of[name]}")
        if r["Type"] == "AWS::Lambda::EventSourceMapping":
            name = _ref_name(r["Properties"]["FunctionName"])
            src = r["Properties"].get("EventSourceArn")
            if name in functions and _ref_name(src) and res.get(str(_ref_name(src)), {}).get("Type") == "AWS::SQS::Queue":
                for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                    if not grants(template, str(role_of[name]), action, src):
                        out.append(f"{name}: its SQS event source needs {action} in {role_of[name]}")
    for name, fn in functions.items():
        dlq = (fn["Properties"].get("DeadLetterConfig") or {}).get("TargetArn")
        if dlq is None:
            continue
        if not grants(template, str(role_of[name]), "sqs:SendMessage", dlq):
            out.append(f"{name}: its dead-letter queue needs sqs:SendMessage in {role_of[name]} "
                       "(CreateFunction fails with InvalidParameterValueException)")
        if not async_sources[name]:
            out.append(f"{name}: a dead-letter queue, but nothing invokes it asynchronously: it is never used")
        if failure_queue.get(name) == _key(dlq):
            out.append(f"{name}: a dead-letter queue and an on-failure destination on the same queue park one failure twice")
    return out
