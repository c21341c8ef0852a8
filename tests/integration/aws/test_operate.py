"""Operating a deployed AWS stack with the CLI (issue 33): `skyloop connect aws --stack` reads the
stack's settings from the stack itself, then `skyloop --cloud aws ...` runs as a subprocess, as an
SRE runs it, on moto's server: it lists models, approves a version, lists incidents, approves a held
critical request (which the remediate function then carries out once, the audit naming the
approver's STS identity), verifies the audit chain and writes the report.

The stack is moto's too: CloudFormation with the template's ``SettingsFunction`` output and a Lambda
function carrying the functions' environment (moto runs no function code; nothing here invokes it)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from .conftest import GROUP, TRAINING_BUCKET, Aws, load_event
from .test_canary_on_sagemaker import sqs_event
from .test_lambda_handlers import upload

SKYLOOP = [sys.executable, "-m", "skyloop.app.cli"]


def _stack(aws: Aws) -> str:
    """What `sam deploy` leaves, as far as connect reads it: the stack's output naming the function
    whose environment is the deployment's settings."""
    env = {k: v for k, v in os.environ.items() if k.startswith("SKYLOOP_") and k != "SKYLOOP_HOME"}
    role = aws.client("iam").create_role(RoleName="skyloop-remediate", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("remediate.py", "def handler(event, context):\n    return {}\n")
    aws.client("lambda").create_function(FunctionName="skyloop-remediate", Runtime="python3.12", Role=role,
                                         Handler="remediate.handler", Code={"ZipFile": code.getvalue()},
                                         Environment={"Variables": env})
    template = {"Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"SettingsFunction": {"Value": "skyloop-remediate"}}}
    aws.client("cloudformation").create_stack(StackName="skyloop", TemplateBody=json.dumps(template))
    return "skyloop"


def _cli(args: list[str], home: Path, *, expect: int = 0) -> str:
    """The CLI in a process of its own, with only what an operator's shell has: credentials, the
    region and (moto) the endpoint. The deployment's names come from `skyloop connect`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SKYLOOP_") or k in ("SKYLOOP_AWS_ENDPOINT_URL", "SKYLOOP_AWS_REGION")}
    res = subprocess.run([*SKYLOOP, *args, "--home", str(home)], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == expect, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout if expect == 0 else res.stderr


def test_an_sre_operates_the_aws_stack_with_the_cli(aws: Aws, context: Any, tmp_path: Path) -> None:
    import common
    import detect
    import remediate
    import train
    from skyloop.events import RemediationRequested, Severity

    home = tmp_path / "operator"
    upload(aws)
    train.handler(load_event("s3-object-created.json"), context)  # v1, pending approval
    found = detect.handler(load_event("firehose-metric-stream-transform.json"), context)  # an incident on api
    assert [r["result"] for r in found["records"]] == ["Ok", "Ok"]

    out = _cli(["connect", "aws", "--stack", _stack(aws)], home)
    assert "settings of the aws deployment kept" in out
    kept = json.loads((home / "connections" / "aws.json").read_text())
    assert kept["SKYLOOP_AWS_BUCKET"] == TRAINING_BUCKET and kept["SKYLOOP_AWS_REMEDIATION_QUEUE_URL"] == aws.queue_url

    models = json.loads(_cli(["--cloud", "aws", "models", GROUP, "--json"], home))
    assert [(m["version"], m["status"]) for m in models] == [(1, "PENDING")]
    out = _cli(["--cloud", "aws", "approve", GROUP, "1", "--actor", "someone-else"], home)
    caller = aws.client("sts").get_caller_identity()["Arn"]
    assert f"as {caller}" in out.replace("\n", "")  # the caller's identity, not a name typed on the command line
    assert common.adapters().registry.get(GROUP, 1).status.value == "APPROVED"

    [incident] = json.loads(_cli(["--cloud", "aws", "incidents", "--json"], home))
    assert incident["service"] == "api" and incident["causes"]

    # a critical restart of the incident's service is held for a person
    held = RemediationRequested(request_id=f"{incident['anomaly_id']}:restart_service", action="restart_service",
                                target="api", severity=Severity.CRITICAL, anomaly_id=incident["anomaly_id"])
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.queue_url, MessageBody=held.model_dump_json())
    assert remediate.handler(sqs_event(aws, aws.messages(aws.queue_url)[-1:]), context) == {"batchItemFailures": []}
    sqs.purge_queue(QueueUrl=aws.queue_url)  # what the event source mapping deletes once the batch succeeds
    assert [h["request_id"] for h in common.adapters().state.held()] == [held.request_id]
    [row] = json.loads(_cli(["--cloud", "aws", "incidents", "--open", "--json"], home))
    assert row["state"] == "awaiting approval" and row["held"]["request_id"] == held.request_id
    listed = _cli(["--cloud", "aws", "remediate"], home)
    assert f"skyloop --cloud aws remediate --approve {held.request_id}" in listed.replace("\n", "")

    out = _cli(["--cloud", "aws", "remediate", "--approve", held.request_id, "--note", "paged, confirmed"], home)
    assert f"approved by {caller}" in out.replace("\n", "")
    [again] = aws.messages(aws.queue_url)  # back on the queue for the remediate function
    restarts = len(aws.client("ecs").list_task_definitions()["taskDefinitionArns"])
    assert remediate.handler(sqs_event(aws, [again]), context) == {"batchItemFailures": []}
    assert remediate.handler(sqs_event(aws, [again]), context) == {"batchItemFailures": []}  # redelivered: once
    audit = common.adapters().audit.entries()
    approved = [e for e in audit if e["kind"] == "approved"]
    assert [(e["request_id"], e["actor"]) for e in approved] == [(held.request_id, caller)]
    executed = [e for e in audit if e["kind"] == "executed" and e["request_id"] == held.request_id]
    assert len(executed) == 1 and len(aws.client("ecs").list_task_definitions()["taskDefinitionArns"]) == restarts

    assert "chain intact" in _cli(["--cloud", "aws", "audit", "verify"], home)
    report = tmp_path / "report.html"
    _cli(["--cloud", "aws", "report", "--out", str(report)], home)
    assert incident["anomaly_id"] in report.read_text()
    refused = _cli(["--cloud", "aws", "serve"], home, expect=2)  # one line: what to do instead
    assert "runs on the local default only; on aws, the endpoint is the cloud's own" in refused


def test_connect_names_what_is_missing(aws: Aws, tmp_path: Path) -> None:
    res = subprocess.run([*SKYLOOP, "connect", "aws", "--stack", "no-such-stack", "--home", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "no CloudFormation stack 'no-such-stack'" in res.stderr, res.stderr
