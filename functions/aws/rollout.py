"""Lambda: one step of a rollout, invoked by the Step Functions state machine
(infra/aws/statemachine/rollout.asl.json) with {"step": ..., "state": {...}}; it answers with the
state for the next step. Errors are the engine's to retry (transient) or to route to abort."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, logger, metrics, tracer
from skyloop.serving.rollout import RolloutContext, run_step, step_request


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step, state = step_request(event)
    logger.append_keys(model_group=state.get("group"), version=state.get("version"), step=step)
    out = run_step(step, state, RolloutContext.of(adapters()))
    if out["next"] == "done":
        count(f"Rollout_{out['status']}")
    logger.info("rollout step", extra={"next": out["next"], "wait": out["wait"], "status": out["status"]})
    return out
