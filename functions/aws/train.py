"""Lambda: a training CSV landed in S3 (direct notification or EventBridge "Object Created"),
a managed training job it started has ended (EventBridge "SageMaker Training Job State Change"),
rows to score landed under batch/<group>/ (this package carries pandas and scikit-learn), or a Batch
Transform job it started for rows above the size rule has ended ("SageMaker Transform Job State Change")."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import count, handle, logger, metrics, tracer
from skyloop.events import BatchJobCompleted, BatchPredictionRequested, TrainingDataArrived, TrainingJobCompleted


# S3's request id for a notification, the event id for the EventBridge form.
@logger.inject_lambda_context(correlation_id_path='Records[0].responseElements."x-amz-request-id" || id')
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    out = handle("train", event, TrainingDataArrived, TrainingJobCompleted, BatchPredictionRequested,
                 BatchJobCompleted)
    count("ModelsRegistered", sum(1 for r in out.get("results", []) if "version" in r and not r.get("duplicate")))
    return out
