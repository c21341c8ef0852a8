"""The rollout on Step Functions: the definition the SAM template deploys, the deploy function
starting one execution per request, and the machine's transitions played in order with every
step run by the rollout-step Lambda against moto's server (SageMaker, S3, DynamoDB).

moto keeps state machines and executions and (with its parser on) validates a definition, but it
does not run a Lambda Task without Docker: ``asl.play`` walks the definition instead (see there
for what that checks and what it cannot).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import asl
from .conftest import GROUP, ROOT, Aws, load_event
from .test_lambda_handlers import CHURN, UpdateEndpointFallback, _approved_event, _queue_predictions, upload

ASL_FILE = ROOT / "infra" / "aws" / "statemachine" / "rollout.asl.json"
STEP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:skyloop-rollout"


def _definition() -> dict[str, Any]:
    return json.loads(ASL_FILE.read_text().replace("${RolloutStepArn}", STEP_ARN))


def test_the_committed_definition_is_the_generated_one_and_every_state_is_reachable() -> None:
    from skyloop.clouds.aws.stepfunctions import definition_json
    from skyloop.serving.rollout import STEPS

    assert ASL_FILE.read_text() == definition_json(), "regenerate: python -m skyloop.clouds.aws.stepfunctions > " + str(ASL_FILE.relative_to(ROOT))
    states = _definition()["States"]
    seen, todo = set(), ["Route"]
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        st = states[s]
        todo += [c["Next"] for c in st.get("Choices", [])] + [c["Next"] for c in st.get("Catch", [])]
        todo += [st[k] for k in ("Next", "Default") if k in st]
    assert seen == set(states) and set(STEPS) <= seen


def test_moto_parses_the_definition_as_asl(aws: Aws) -> None:
    """moto's Step Functions parser (ported from LocalStack's ASL grammar) refuses a malformed machine."""
    sfn = aws.client("stepfunctions")
    aws.moto_api("config", {"stepfunctions": {"execute_state_machine": True}})
    try:
        with pytest.raises(Exception, match="ASLParserException"):
            sfn.create_state_machine(name="broken", roleArn="arn:aws:iam::123456789012:role/sfn",
                                     definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": True}}}))
        arn = sfn.create_state_machine(name="skyloop-rollout", roleArn="arn:aws:iam::123456789012:role/sfn",
                                       definition=json.dumps(_definition()))["stateMachineArn"]
        assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "Route"
    finally:
        aws.moto_api("config", {"stepfunctions": {"execute_state_machine": False}})


def _trained(aws: Aws, context: Any, version: int, data: bytes) -> None:
    import common
    import train
    from skyloop.ports.registry import approve

    upload(aws, data=data)
    train.handler(load_event("s3-object-created.json"), context)
    approve(common.adapters().registry, common.adapters().events, GROUP, version, actor="oncall")


@pytest.fixture
def machine(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = aws.client("stepfunctions").create_state_machine(
        name="skyloop-rollout", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps(_definition()))["stateMachineArn"]
    return str(arn)


def test_an_approval_starts_one_execution_per_request(aws: Aws, context: Any, machine: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import common
    import deploy

    _trained(aws, context, 1, CHURN)
    monkeypatch.setenv("SKYLOOP_AWS_ROLLOUT_STATE_MACHINE_ARN", machine)
    common.reset()
    out = deploy.handler(_approved_event(1), context)
    assert out["results"][0]["status"] == "started" and out["results"][0]["execution"].startswith(
        machine.replace(":stateMachine:", ":execution:"))
    sfn = aws.client("stepfunctions")
    runs = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(runs) == 1
    state = json.loads(sfn.describe_execution(executionArn=runs[0]["executionArn"])["input"])
    assert (state["group"], state["version"], state["next"]) == (GROUP, 1, "begin")
    assert deploy.handler(_approved_event(1), context)["results"][0]["duplicate"]  # EventBridge redelivery
    # the runner is idempotent by itself too: the same request's name and input start nothing new
    again = common.adapters().rollouts.start(runs[0]["name"], state)
    assert again["execution"] == runs[0]["executionArn"]
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
    # nothing was deployed by the deploy function itself
    assert aws.client("sagemaker").list_endpoints()["Endpoints"] == []


class SlowSettling:
    """moto's endpoints are InService at once; a real one updates for minutes. After each change
    the first ``settled`` answers False, so the machine's poll (Wait, then the same step) runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from skyloop.clouds.aws import sagemaker

        self.pending = False
        real_apply, real_traffic, real_settled = (sagemaker.SageMakerDeployer._apply,
                                                  sagemaker.SageMakerDeployer.set_traffic,
                                                  sagemaker.SageMakerDeployer.settled)

        def apply(dep: Any, *a: Any, **k: Any) -> None:
            real_apply(dep, *a, **k)
            self.pending = True

        def traffic(dep: Any, *a: Any, **k: Any) -> None:
            real_traffic(dep, *a, **k)
            self.pending = True

        def settled(dep: Any, group: str) -> bool:
            if self.pending:
                self.pending = False
                return False
            return bool(real_settled(dep, group))

        monkeypatch.setattr(sagemaker.SageMakerDeployer, "_apply", apply)
        monkeypatch.setattr(sagemaker.SageMakerDeployer, "set_traffic", traffic)
        monkeypatch.setattr(sagemaker.SageMakerDeployer, "settled", settled)


def _play(state: dict[str, Any], context: Any) -> asl.Played:
    import rollout

    return asl.play(_definition(), state, lambda payload: rollout.handler(payload, context))


@pytest.fixture
def v1_in_production(aws: Aws, context: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> UpdateEndpointFallback:
    import common
    import deploy

    monkeypatch.setenv("SKYLOOP_AWS_ENDPOINT_WAIT_SECONDS", "0")
    _trained(aws, context, 1, CHURN)
    fallback = UpdateEndpointFallback(aws)
    fallback.attach(common.adapters().deployer.sm)
    _queue_predictions(aws, GROUP, 1, [8], tmp_path, monkeypatch)
    assert deploy.handler(_approved_event(1), context)["results"][0]["status"] == "promoted"  # inline: no machine set
    _trained(aws, context, 2, CHURN.replace(b"\n1,", b"\n2,", 5))
    return fallback


def test_the_machine_rolls_v2_out_step_by_step_polling_a_settling_endpoint(
        aws: Aws, context: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        v1_in_production: UpdateEndpointFallback) -> None:
    import common
    from skyloop.serving.rollout import start_state

    a = common.adapters()
    SlowSettling(monkeypatch)
    before = len(v1_in_production.calls)
    _queue_predictions(aws, GROUP, 2, [8, 20], tmp_path, monkeypatch)
    run = _play(start_state(a.registry.get(GROUP, 2), "approval-2"), context)
    assert run.status == "SUCCEEDED" and run.output["status"] == "promoted", run.output
    tasks = [s for s in run.path if s in {"begin", "staging", "smoke", "canary", "probe", "promote"}]
    assert list(dict.fromkeys(tasks)) == ["begin", "staging", "smoke", "canary", "probe", "promote"]
    assert run.waits and "wait, then smoke" in run.path  # staging was updating: the machine came back
    assert a.registry.alias(GROUP, "production").version == 2
    sm = aws.client("sagemaker")
    cfg = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName=f"skyloop-{GROUP}")["EndpointConfigName"])
    assert [(v["VariantName"], v["ModelName"]) for v in cfg["ProductionVariants"]] == [("production", f"skyloop-{GROUP}-v2")]
    # every endpoint change ran once: staging, canary, production, then the two slots removed
    assert len(v1_in_production.calls) - before == 5, v1_in_production.calls[before:]

    # asked again for the version production serves: begin -> redeploy, no canary against itself
    again = _play(start_state(a.registry.get(GROUP, 2), "redeploy-2"), context)
    assert again.output["status"] == "redeployed" and "canary" not in again.path


def test_a_failed_smoke_test_is_routed_to_abort_by_the_machine(
        aws: Aws, context: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        v1_in_production: UpdateEndpointFallback) -> None:
    import common
    from skyloop.ports.registry import Status
    from skyloop.serving.rollout import start_state

    a = common.adapters()
    aws.moto_api("static/sagemaker/endpoint-results", {"account_id": "123456789012", "region": "us-east-1", "results": [
        {"Body": json.dumps({"predictions": ["maybe"] * 8}), "ContentType": "application/json",
         "InvokedProductionVariant": "staging", "CustomAttributes": ""}]})
    run = _play(start_state(a.registry.get(GROUP, 2), "approval-2"), context)
    assert run.status == "SUCCEEDED" and run.output["status"] == "rolled_back"
    assert run.path[-3:] == ["abort", "after abort", "Done"] and run.output["failed_step"] == "smoke"
    assert a.registry.get(GROUP, 2).status == Status.REJECTED
    assert a.deployer.slots(GROUP) == {"production": 1}


def test_a_transient_error_is_retried_by_the_machine(
        aws: Aws, context: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        v1_in_production: UpdateEndpointFallback) -> None:
    import common
    from skyloop.clouds.aws import sagemaker
    from skyloop.errors import EndpointBusy
    from skyloop.serving.rollout import start_state

    real, failures = sagemaker.SageMakerDeployer.deploy, ["busy", "busy"]

    def flaky(dep: Any, *a: Any, **k: Any) -> None:
        if failures:
            failures.pop()
            raise EndpointBusy("someone else changed the endpoint")
        real(dep, *a, **k)

    monkeypatch.setattr(sagemaker.SageMakerDeployer, "deploy", flaky)
    _queue_predictions(aws, GROUP, 2, [8, 20], tmp_path, monkeypatch)
    run = _play(start_state(common.adapters().registry.get(GROUP, 2), "approval-2"), context)
    assert run.retries == ["staging: EndpointBusy"] * 2 and run.output["status"] == "promoted"


def test_an_error_the_step_cannot_classify_is_caught_into_abort_without_retries(
        aws: Aws, context: Any, monkeypatch: pytest.MonkeyPatch, v1_in_production: UpdateEndpointFallback) -> None:
    import common
    from skyloop.clouds.aws import sagemaker
    from skyloop.serving.rollout import start_state

    def boom(*a: Any, **k: Any) -> None:
        raise KeyError("ProductionVariants")  # a response shape the deployer did not expect

    monkeypatch.setattr(sagemaker.SageMakerDeployer, "deploy", boom)
    a = common.adapters()
    run = _play(start_state(a.registry.get(GROUP, 2), "approval-2"), context)
    assert run.retries == []  # not a transient error: no retry
    assert run.output["status"] == "rolled_back" and run.output["failed_step"] == "staging"
    assert run.output["reason"].startswith("KeyError")
    assert a.registry.alias(GROUP, "production").version == 1


def test_a_step_that_times_out_is_retried_before_anything_is_blamed() -> None:
    """Sandbox.Timedout (the function) and States.Timeout (the task) went straight to abort, and the
    version was rejected for the platform's timeout."""
    from skyloop.clouds.aws.stepfunctions import definition
    from skyloop.serving.rollout import STEPS

    states = definition()["States"]
    for step in STEPS:
        retried = {e for r in states[step]["Retry"] for e in r["ErrorEquals"]}
        assert {"Sandbox.Timedout", "States.Timeout", "Lambda.TooManyRequestsException"} <= retried, step


def test_a_first_endpoint_that_fails_is_deleted_so_abort_and_the_next_rollout_work(
        aws: Aws, context: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SageMaker takes only DeleteEndpoint on a Failed endpoint. A first rollout whose endpoint
    failed (its container never passed /ping) made abort fail too, and every later rollout of the
    group, until someone deleted the endpoint by hand. moto never fails an endpoint: its describe
    says Failed here until the endpoint is deleted."""
    import common
    from skyloop.ports.registry import Status
    from skyloop.serving.rollout import start_state

    monkeypatch.setenv("SKYLOOP_AWS_ENDPOINT_WAIT_SECONDS", "0")
    _trained(aws, context, 1, CHURN)
    a = common.adapters()
    UpdateEndpointFallback(aws).attach(a.deployer.sm)
    sm, failing = a.deployer.sm, [True]
    describe, delete = sm.describe_endpoint, sm.delete_endpoint

    def failed_describe(**kw: Any) -> Any:
        out = describe(**kw)
        reason = "The primary container for production variant staging did not pass the ping health check."
        return {**out, "EndpointStatus": "Failed", "FailureReason": reason} if failing else out

    def deleted(**kw: Any) -> Any:
        failing.clear()
        return delete(**kw)

    monkeypatch.setattr(sm, "describe_endpoint", failed_describe)
    monkeypatch.setattr(sm, "delete_endpoint", deleted)
    run = _play(start_state(a.registry.get(GROUP, 1), "approval-1"), context)
    assert run.status == "SUCCEEDED" and run.output["status"] == "rolled_back", run.output
    assert "failed and was deleted" in run.output["reason"] and "ping health check" in run.output["reason"]
    assert a.registry.get(GROUP, 1).status == Status.APPROVED  # the platform's fault: deploy it again
    assert a.deployer.slots(GROUP) == {}

    _queue_predictions(aws, GROUP, 1, [8], tmp_path, monkeypatch)
    again = _play(start_state(a.registry.get(GROUP, 1), "approval-1-again"), context)
    assert again.output["status"] == "promoted", again.output
    assert a.deployer.slots(GROUP) == {"production": 1}
