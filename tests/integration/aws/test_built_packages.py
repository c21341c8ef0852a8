"""The Lambda packages as built, run the way Lambda runs them, on the samples in events/aws/.

Each function's ``build/aws/<function>/`` (infra/aws/package.py; rebuilt here when the code it
was built from changed) is imported by CPython 3.13, the template's runtime, with ``-I -S -B``:
only the package on ``sys.path`` (plus, for train, a folder with just the boto3 the Lambda
runtime provides), no site-packages, no bytecode written (``/var/task`` is read-only). Its
handler is called on a sample event against moto's server. This is what found numpy's missing
``_core/tests`` (issue 15): the in-process tests import this machine's libraries, not the
package's.

What it cannot check: Lambda's own runtime loop (the bootstrap that calls the handler), the
runtime's exact boto3 version, memory and time limits, IAM (moto does not enforce it; the
roles-versus-calls check in conftest covers the in-process runs only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ECS_API_DIMENSIONS, GROUP, ROOT, Aws, load_event
from .test_lambda_handlers import _approved_event, upload

BUILD = ROOT / "build" / "aws"
sys.path.insert(0, str(ROOT / "infra" / "aws"))
import package  # noqa: E402  (infra/aws/package.py: the builder, and its choice of interpreter)

RUNNER = r"""
import json, sys
paths, function = json.loads(sys.argv[1]), sys.argv[2]
sys.path[:0] = paths
assert not any("site-packages" in p for p in sys.path if p not in paths), sys.path
module = __import__(function)

class Context:
    function_name = "skyloop-" + function
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyloop-" + function
    aws_request_id = "5f3a2c1e-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/skyloop-" + function
    log_stream_name = "2026/11/26/[$LATEST]0123456789abcdef"

    @staticmethod
    def get_remaining_time_in_millis():
        return 300_000

result = module.handler(json.loads(sys.stdin.read()), Context())
print("SKYLOOP-RESULT " + json.dumps(result, default=str))
"""


@pytest.fixture(scope="session")
def python313() -> str:
    try:
        return package._interpreter()
    except SystemExit as e:
        pytest.skip(f"the built packages need the runtime's CPython to run: {e}")


def invoke(python: str, name: str, event: dict[str, Any], **env: str) -> Any:
    pkg = package.fresh(name)
    paths = [str(pkg)] + ([] if package.ships_sdk(name) else [package._runtime_sdk()])
    lambda_env = {**os.environ, "LAMBDA_TASK_ROOT": str(pkg), "AWS_LAMBDA_FUNCTION_NAME": f"skyloop-{name}", **env}
    run = subprocess.run([python, "-I", "-S", "-B", "-c", RUNNER, json.dumps(paths), name], input=json.dumps(event),
                         capture_output=True, text=True, cwd=pkg, env=lambda_env, timeout=600)
    assert run.returncode == 0, f"{name} failed in its package:\n{run.stderr[-3000:]}"
    [line] = [x for x in run.stdout.splitlines() if x.startswith("SKYLOOP-RESULT ")]
    return json.loads(line.removeprefix("SKYLOOP-RESULT "))


def _package_sklearn() -> str:
    [dist] = package.fresh("train").glob("scikit_learn-*.dist-info")
    return dist.name.split("-")[1]


def test_train_deploy_and_rollout_packages_on_their_samples(aws: Aws, python313: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """train really trains (the package's scikit-learn, pandas and numpy under 3.13); deploy
    starts the rollout's execution; the rollout step function's first steps run against moto."""
    import common
    from skyloop.ports.registry import approve

    from .test_rollout_state_machine import _definition

    monkeypatch.setenv("SKYLOOP_AWS_INFERENCE_SKLEARN", _package_sklearn())  # the image built for it
    upload(aws)
    out = invoke(python313, "train", load_event("s3-object-created.json"))
    assert out["status"] == "ok" and out["results"][0]["status"] == "PENDING", out
    assert out["results"][0]["metrics"]
    [pkg] = aws.client("sagemaker").list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert pkg["ModelApprovalStatus"] == "PendingManualApproval"
    again = invoke(python313, "train", load_event("s3-object-created.json"))  # at-least-once
    assert again["results"][0]["duplicate"] is True

    common.reset()
    approve(common.adapters().registry, common.adapters().events, GROUP, 1, actor="oncall")
    aws.moto_api("config", {"stepfunctions": {"execute_state_machine": False}})
    machine = aws.client("stepfunctions").create_state_machine(
        name="skyloop-rollout", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps(_definition()))["stateMachineArn"]
    started = invoke(python313, "deploy", _approved_event(1), SKYLOOP_AWS_ROLLOUT_STATE_MACHINE_ARN=machine)
    assert started["results"][0]["status"] == "started", started
    [run] = aws.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    state = json.loads(aws.client("stepfunctions").describe_execution(executionArn=run["executionArn"])["input"])

    step = invoke(python313, "rollout", {"step": state["next"], "state": state}, SKYLOOP_AWS_ENDPOINT_WAIT_SECONDS="0")
    assert step["next"] == "staging" and step["status"] == "running", step
    staged = invoke(python313, "rollout", {"step": "staging", "state": step}, SKYLOOP_AWS_ENDPOINT_WAIT_SECONDS="0")
    assert staged["status"] == "running" and staged["next"] != "abort", staged
    endpoints = aws.client("sagemaker").list_endpoints()["Endpoints"]
    assert endpoints, "the staging step created no endpoint"


def test_detect_and_remediate_packages_on_their_samples(aws: Aws, python313: str) -> None:
    """detect reads the alarm's window from CloudWatch and queues remediation; remediate takes
    the SQS batch (its poison record parked alone) and scales the ECS service. detect is also
    run with tracing on, so the X-Ray SDK is imported from the package as TracingMode=Active has it."""
    from .test_lambda_handlers import _queued_requests
    from datetime import datetime, timedelta, timezone

    cw = aws.client("cloudwatch")
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    lines = [json.loads(x) for x in (ROOT / "events/aws/data/metric-stream-records.jsonl").read_text().splitlines()]
    t_last = max(d["timestamp"] for d in lines)
    data = [{"MetricName": d["metric_name"], "Timestamp": end - timedelta(milliseconds=t_last - d["timestamp"]),
             "Value": d["value"]["sum"] / d["value"]["count"], "Unit": "Percent",
             "Dimensions": ECS_API_DIMENSIONS} for d in lines]
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/ECS", MetricData=data[i:i + 500])
    found = invoke(python313, "detect", load_event("eventbridge-cloudwatch-alarm.json"),
                   POWERTOOLS_TRACE_DISABLED="false", AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR",
                   _X_AMZN_TRACE_ID="Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=0")
    assert found["status"] == "ok" and "cpu_usage" in found["results"][0]["anomalies"][0]["deviating_metrics"], found
    assert _queued_requests(aws)

    batch = load_event("sqs-remediation-batch.json")
    assert invoke(python313, "remediate", batch) == {"batchItemFailures": []}
    ecs = aws.client("ecs")
    assert ecs.describe_services(cluster="prod", services=["api"])["services"][0]["desiredCount"] == 4
    assert invoke(python313, "remediate", batch) == {"batchItemFailures": []}  # redelivered: one effect
    assert ecs.describe_services(cluster="prod", services=["api"])["services"][0]["desiredCount"] == 4


def test_the_serving_image_serves_what_the_train_package_trained(aws: Aws, python313: str, tmp_path: Path) -> None:
    """The serving image's recipe (build/aws/serving-image, infra/aws/serving/) pins the train
    package's libraries. Its server, run here on exactly those libraries (the train package's
    folder, CPython 3.13), loads a model the packaged train function trained and answers SageMaker's
    /ping and /invocations. No Docker here: `docker build` itself is not run."""
    import io
    import socket
    import tarfile
    import urllib.error
    import urllib.request

    import common
    from skyloop.clouds.aws.sagemaker import serving_bundle
    from bench.serving import wait_healthy
    from skyloop.serving.deployment import smoke_rows

    train_pkg = package.fresh("train")
    pins = (BUILD / "serving-image" / "requirements.txt").read_text().split()
    versions = package.pinned_versions(train_pkg)
    # the train package is exactly its lock: every distribution in it pinned, nothing else pulled in
    lock = dict(line.split("==") for line in package.TRAIN_LOCK.read_text().split() if "==" in line)
    assert versions == lock, set(versions.items()) ^ set(lock.items())
    assert pins[:len(package.SERVING_LIBRARIES)] == [f"{lib}=={versions[lib]}" for lib in package.SERVING_LIBRARIES]
    server = package.server_site()

    upload(aws)
    assert invoke(python313, "train", load_event("s3-object-created.json"))["results"][0]["status"] == "PENDING"
    common.reset()
    a = common.adapters()
    v = a.registry.get(GROUP, 1)
    model_dir = tmp_path / "model"
    with tarfile.open(fileobj=io.BytesIO(serving_bundle(a.store.get(v.artifact_uri))), mode="r:gz") as tar:
        tar.extractall(model_dir, filter="data")

    def serve(sha256: str) -> tuple[subprocess.Popen[str], str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        serve_py = str(BUILD / "serving-image" / "serve.py")
        # the train package leaves python-dateutil to the Lambda runtime; the image's pip installs it
        paths = [str(train_pkg), str(server), package._runtime_sdk()]
        code = (f"import sys, runpy; sys.path[:0] = {paths!r}; sys.argv = [{serve_py!r}, 'serve']; "
                f"runpy.run_path({serve_py!r}, run_name='__main__')")
        env = {"SKYLOOP_MODEL_DIR": str(model_dir), "SKYLOOP_BIND": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": str(port),
               "SAGEMAKER_PROGRAM": "inference.py", "SKYLOOP_ARTIFACT_SHA256": sha256,
               "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
        proc = subprocess.Popen([python313, "-I", "-S", "-B", "-c", code], env=env, stderr=subprocess.PIPE, text=True)
        return proc, f"http://127.0.0.1:{port}"

    proc, url = serve(v.artifact_sha256)
    try:
        wait_healthy(proc, int(url.rsplit(":", 1)[1]), "/ping")
        rows = smoke_rows(v.lineage, 5)
        req = urllib.request.Request(f"{url}/invocations", data=json.dumps({"rows": rows}, default=str).encode(),
                                     headers={"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(req, timeout=30).read())
        assert len(answer["predictions"]) == 5, answer
        bad = urllib.request.Request(f"{url}/invocations", data=b"{not json", headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(bad, timeout=30)
            raise AssertionError("a malformed request was answered 200")
        except urllib.error.HTTPError as e:
            assert e.code == 400
    except Exception as e:
        proc.terminate()
        raise AssertionError(f"{e}; the server said:\n{proc.communicate(timeout=30)[1][-3000:]}") from e
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)

    # bytes the registry does not vouch for: the server refuses to load them and never answers /ping
    proc, url = serve("0" * 64)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "refusing to load" in err
