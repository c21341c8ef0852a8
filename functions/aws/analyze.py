"""Lambda: a file landed under ai/ in the training bucket (EventBridge "Object Created", or an S3
notification): analysed by AWS's AI services (Rekognition, Comprehend, Transcribe), the typed
result written beside it as ``<name>.skyloop-ai.json``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import count, handle, logger, metrics, tracer
from skyloop.events import MediaArrived


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    out = handle("analyze", event, MediaArrived)
    count("FilesAnalysed", sum(1 for r in out.get("results", []) if r.get("status") == "analysed"))
    return out
