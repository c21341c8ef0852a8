"""Lambda: a training CSV landed in S3 (direct notification or EventBridge "Object Created")."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, guarded, logger, metrics, tracer
from skyloop.clouds.aws.events import training_events
from skyloop.handlers import on_training_data


# S3's request id for a notification, the event id for the EventBridge form.
@logger.inject_lambda_context(correlation_id_path='Records[0].responseElements."x-amz-request-id" || id')
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        results = [on_training_data(e, adapters()) for e in training_events(event)]
        count("ModelsRegistered", sum(1 for r in results if not r.get("duplicate")))
        return {"status": "ok", "results": results}

    return guarded("train", event, work)
