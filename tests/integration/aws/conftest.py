"""moto's server on 127.0.0.1, started by the tests themselves, and the AWS resources
the SAM template would create (same names as in events/aws/).

The only stand-in that is not moto: a minimal Lambda context object (the runtime
passes one; nothing here emulates Lambda itself).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")  # moto_endpoint (tests/conftest.py) runs it
pytest.importorskip("aws_lambda_powertools")

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "aws"
ACCOUNT, REGION = "123456789012", "us-east-1"
TRAINING_BUCKET = f"skyloop-training-{ACCOUNT}-{REGION}"
METRICS_BUCKET = f"skyloop-metrics-{ACCOUNT}-{REGION}"
GROUP = "churn-2026"
# as ECS publishes a service's metrics: CloudWatch matches the dimension set exactly, so a query by
# ServiceName alone reads nothing of them
ECS_API_DIMENSIONS = [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "api"}]


@dataclass
class Aws:
    endpoint: str
    queue_url: str
    dlq_url: str
    dead_letter_url: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    def moto_api(self, path: str, doc: dict[str, Any] | None = None) -> None:
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint}/moto-api/{path}", data=json.dumps(doc or {}).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def messages(self, url: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        for _ in range(10):
            res = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                      MessageAttributeNames=["All"])
            new = [m for m in res.get("Messages", []) if m["MessageId"] not in {o["MessageId"] for o in out}]
            if not new:
                break
            out += new
        return out


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Aws]:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                 "AWS_SESSION_TOKEN": "testing", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Skyloop",
                 "POWERTOOLS_DEV": "false"}.items():
        monkeypatch.setenv(k, v)
    a = Aws(moto_endpoint, "", "", "")
    a.moto_api("reset")
    s3 = a.client("s3")
    for b in (TRAINING_BUCKET, METRICS_BUCKET):
        s3.create_bucket(Bucket=b)
    sqs = a.client("sqs")
    a.dlq_url = sqs.create_queue(QueueName="skyloop-remediation-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=a.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    a.queue_url = sqs.create_queue(QueueName="skyloop-remediation", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        "VisibilityTimeout": "120"})["QueueUrl"]
    a.dead_letter_url = sqs.create_queue(QueueName="skyloop-dead-letters")["QueueUrl"]
    ddb = a.client("dynamodb")
    ddb.create_table(TableName="skyloop-idempotency", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ddb.create_table(TableName="skyloop-state", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    ecs = a.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "api:1", "memory": 512}])
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=2)
    a.client("ssm").create_document(Name="skyloop-clear-cache", DocumentType="Command", Content=json.dumps({
        "schemaVersion": "2.2", "description": "Flush the service cache",
        "mainSteps": [{"action": "aws:runShellScript", "name": "flush", "inputs": {"runCommand": ["redis-cli FLUSHALL"]}}]}))
    env = {
        "SKYLOOP_AWS_ENDPOINT_URL": moto_endpoint, "SKYLOOP_AWS_REGION": REGION, "SKYLOOP_AWS_BUCKET": TRAINING_BUCKET,
        "SKYLOOP_AWS_REMEDIATION_QUEUE_URL": a.queue_url, "SKYLOOP_AWS_REMEDIATION_DLQ_URL": a.dlq_url,
        "SKYLOOP_AWS_DEAD_LETTER_QUEUE_URL": a.dead_letter_url,
        "SKYLOOP_AWS_TARGETS": json.dumps({"api": {"cluster": "prod", "service": "api", "model_group": GROUP}}),
        "SKYLOOP_HOME": str(tmp_path / "home"),
        "SKYLOOP_DEPLOYMENT__CANARY_REQUESTS": "20",
        # the tests run the serving bundle under this machine's scikit-learn: the image "serves" it
        "SKYLOOP_AWS_INFERENCE_SKLEARN": importlib.metadata.version("scikit-learn"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    sys.path.insert(0, str(ROOT / "functions" / "aws"))
    import common

    from . import iam

    common.reset()
    iam.calls.clear()
    iam.touched.clear()
    iam.install(monkeypatch, {m: importlib.import_module(m) for m in ("train", "deploy", "rollout", "detect", "remediate", "analyze",
                                                                       "notify")})
    yield a
    common.reset()
    sys.path.remove(str(ROOT / "functions" / "aws"))
    missing = iam.unallowed(ROOT / "infra" / "aws" / "template.yaml")
    assert missing == [], f"calls the functions' roles in template.yaml do not allow: {missing}"


class LambdaContext:
    """What the Lambda runtime passes; Powertools reads these attributes."""

    function_name = "skyloop-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:skyloop-test"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/skyloop-test"
    log_stream_name = "2026/11/25/[$LATEST]abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())
