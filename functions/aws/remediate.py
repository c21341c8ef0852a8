"""Lambda: remediation requests from SQS, with partial batch responses.

Each record goes through the core delivery rule (common.guarded): a poison message is
parked on the dead-letter queue with its reason at once and counts as handled; a transient
failure is reported in ``batchItemFailures``, so SQS redelivers it (and the redrive policy
moves it to the DLQ after ``maxReceiveCount``); its neighbours complete either way.

A SageMaker endpoint still applying a change is never waited on here (the function has 60 s; an
endpoint update takes minutes, and waiting up to 900 s put half-changed endpoints on the DLQ): the
action starts what it can, and ``EndpointBusy`` puts the request back on the queue with a delay
(1, 2, 4, 8, then 15 minutes), up to ``MAX_REQUEUES`` times; the at-most-once plan of the request
(skyloop.remediation.applied) makes the next attempt carry on where this one stopped.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import adapters, count, guarded, handle, logger, metrics, tracer
from skyloop.errors import EndpointBusy, InvalidEvent
from skyloop.events import RemediationRequested, parse_event
from skyloop.handlers import on_remediation

# A batch whose every message failed still answers with batchItemFailures instead of
# raising: the invocation is not an error, the redrive policy does its job.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _remediate(record: SQSRecord) -> dict[str, Any]:
    event = parse_event(record.body)
    if not isinstance(event, RemediationRequested):
        raise InvalidEvent(f"the remediation queue takes RemediationRequested, got {type(event).__name__}")
    result = on_remediation(event, adapters())
    logger.info("remediation", extra={"message_id": record.message_id, "status": result.get("status"),
                                      "duplicate": result.get("duplicate")})
    count("Remediations")
    return result


MAX_REQUEUES = 8  # about 1 h 15 min of waiting for an endpoint, then the redrive policy's own retries


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    try:
        return guarded("remediate", record.raw_event, lambda: _remediate(record), message_id=record.message_id)
    except EndpointBusy as exc:
        from skyloop.clouds.aws.sqs import ID_ATTR, REQUEUES_ATTR

        requeues, message_id = record.message_attributes[REQUEUES_ATTR], record.message_attributes[ID_ATTR]
        done = int(requeues.string_value or 0) if requeues is not None else 0
        if done >= MAX_REQUEUES:
            raise
        delay = min(60 * 2 ** done, 900)
        adapters().remediation.requeue(record.body, message_id.string_value if message_id is not None else None,  # type: ignore[attr-defined]
                                       done + 1, delay)
        logger.info("endpoint busy: remediation requeued", extra={"message_id": record.message_id, "requeues": done + 1,
                                                                  "delay_s": delay, "reason": exc.reason})
        return {"status": "requeued", "delay_s": delay, "reason": exc.reason}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if not _is_sqs_batch(event):  # a direct invocation (a RemediationRequested), or a shape refused with its reason
        return handle("remediate", event, RemediationRequested)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and isinstance(records, list) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" and "messageId" in r for r in records)
