"""Lambda: a training CSV landed in S3 (direct notification or EventBridge "Object Created"),
or a managed training job it started has ended (EventBridge "SageMaker Training Job State Change")."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, guarded, logger, metrics, tracer
from skyloop.clouds.aws.events import training_events, training_job_event
from skyloop.handlers import on_training_data
from skyloop.handlers.train import on_training_job_completed


# S3's request id for a notification, the event id for the EventBridge form.
@logger.inject_lambda_context(correlation_id_path='Records[0].responseElements."x-amz-request-id" || id')
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        if event.get("detail-type") == "SageMaker Training Job State Change":
            job = training_job_event(event)
            if job is None:
                return {"status": "ignored", "reason": "not a finished Skyloop training job"}
            return {"status": "ok", "results": [on_training_job_completed(job, adapters())]}
        results = [on_training_data(e, adapters()) for e in training_events(event)]
        count("ModelsRegistered", sum(1 for r in results if not r.get("duplicate")))
        return {"status": "ok", "results": results}

    return guarded("train", event, work)
