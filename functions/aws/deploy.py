"""Lambda: a model package was approved (EventBridge "SageMaker Model Package State Change"),
or a baking canary passed (Skyloop's CanaryPassed, sent by the detect function): start the
rollout's state machine (or, with none configured, run its steps here)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import count, handle, logger, metrics, tracer
from skyloop.events import CanaryPassed, ModelVersionApproved


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    out = handle("deploy", event, ModelVersionApproved, CanaryPassed)
    count("Rollouts", len(out.get("results", [])))
    return out
