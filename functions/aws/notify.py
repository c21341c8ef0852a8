"""Lambda: people are told. Two triggers, one function:

- a schedule (every minute) reads what the committed state warrants and queues each new notice on
  the notifications queue, once per channel (skyloop.notify.deliver.tell_new);
- the notifications queue delivers each notice to its channel (the Slack-compatible webhook,
  PagerDuty, the SNS topic) with partial batch responses: a channel's 5xx or timeout is reported in
  ``batchItemFailures`` and SQS redelivers it (its redrive policy parks it after maxReceiveCount), a
  refusal is parked on the dead-letter queue with its reason; its neighbours are delivered either way.

Nothing here runs inside the pipeline's own work: a failing channel never holds up a detection or a
remediation, and it loses nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, guarded, logger, metrics, tracer
from skyloop.notify.deliver import deliver, tell_new

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        told = deliver(record.body, adapters().notifiers)
        count("Notified")
        return told

    return guarded("notify", record.raw_event, work, message_id=record.message_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if records and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records):
        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    # the schedule (or a direct invocation): look at the state, queue what is new
    queued = tell_new(adapters(), cli="skyloop --cloud aws")
    if queued is None:
        return {"status": "ignored", "reason": "no notification channel or queue configured"}
    logger.info("notices queued", extra={"queued": len(queued)})
    return {"status": "ok", "queued": queued}
