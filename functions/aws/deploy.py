"""Lambda: a model package was approved (EventBridge "SageMaker Model Package State Change"),
or a baking canary passed (Skyloop's CanaryPassed, sent by the detect function)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, guarded, logger, metrics, tracer
from skyloop.clouds.aws.events import approval_event
from skyloop.events import CanaryPassed
from skyloop.handlers import on_canary_passed, on_model_approved


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        approved = approval_event(event)
        if approved is None:
            return {"status": "ignored", "reason": "not an approval"}
        if isinstance(approved, CanaryPassed):
            return {"status": "ok", "result": on_canary_passed(approved, adapters())}
        result = on_model_approved(approved, adapters())
        count("Rollouts")
        return {"status": "ok", "result": result}

    return guarded("deploy", event, work)
