"""SQS Queue with its dead-letter queue (domain events go to EventBridge: eventbridge.py).

The remediation queue's redrive policy (SAM template) moves a message that keeps
failing to the DLQ after ``maxReceiveCount``; ``dead_letter`` moves a permanently
bad one there at once, with its reason as a message attribute, so nobody has to
wait for five failed receives to learn that a message can never succeed.
"""

from __future__ import annotations

import json

from ...errors import TransientError
from ...ports import DeadLetter, Message
from .config import AwsSettings
from .session import client

ID_ATTR = "skyloop-message-id"
REASON_ATTR = "skyloop-dead-letter-reason"
REQUEUES_ATTR = "skyloop-requeues"  # how often a request was put back to wait for a busy endpoint


def _attr(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class SqsQueue:
    def __init__(self, aws: AwsSettings, queue_url: str | None = None, dlq_url: str | None = None) -> None:
        self.url = queue_url or aws.remediation_queue_url
        self.dlq_url = dlq_url or aws.remediation_dlq_url
        self.sqs = client("sqs", aws)

    def send(self, body: str, message_id: str | None = None) -> str:
        attrs = {ID_ATTR: _attr(message_id)} if message_id else {}
        res = self.sqs.send_message(QueueUrl=self.url, MessageBody=body, MessageAttributes=attrs)
        return message_id or res["MessageId"]

    def receive(self, max_messages: int = 10, visibility_timeout: float = 30.0) -> list[Message]:
        res = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=min(max_messages, 10), VisibilityTimeout=int(visibility_timeout),
            MessageSystemAttributeNames=["ApproximateReceiveCount"], MessageAttributeNames=["All"], WaitTimeSeconds=0,
        )
        return [from_sqs_record(m) for m in res.get("Messages", [])]

    def ack(self, message: Message) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    def nack(self, message: Message, delay: float = 0.0) -> None:
        self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=message.receipt,
                                           VisibilityTimeout=int(delay))

    def requeue(self, body: str, message_id: str | None, requeues: int, delay: int) -> None:
        """Put a request back, delayed (SQS allows 15 minutes at most), as a new message: the
        receive count that the redrive policy counts starts again, the request's own count of
        requeues goes on (``REQUEUES_ATTR``)."""
        attrs = {REQUEUES_ATTR: _attr(str(requeues))} | ({ID_ATTR: _attr(message_id)} if message_id else {})
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body, MessageAttributes=attrs,
                              DelaySeconds=max(0, min(int(delay), 900)))

    def dead_letter(self, message: Message, reason: str) -> None:
        if not self.dlq_url:
            raise TransientError("no dead-letter queue configured; leaving the message for the redrive policy")
        self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=message.body, MessageAttributes={
            ID_ATTR: _attr(message.message_id), REASON_ATTR: _attr(reason[:1000])})
        self.ack(message)

    def dead_letters(self) -> list[DeadLetter]:
        """A peek at the DLQ (visibility 0: the messages stay for the operator)."""
        res = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       MessageSystemAttributeNames=["ApproximateReceiveCount"],
                                       MessageAttributeNames=["All"])
        out = []
        for m in res.get("Messages", []):
            attrs = m.get("MessageAttributes", {})
            msg = from_sqs_record(m)
            reason = attrs.get(REASON_ATTR, {}).get("StringValue", "redriven after maxReceiveCount")
            out.append(DeadLetter(msg.message_id, msg.body, reason, msg.receive_count))
        return out

    def depth(self) -> int:
        res = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(res["Attributes"]["ApproximateNumberOfMessages"])


def from_sqs_record(m: dict) -> Message:
    """A Message from either receive_message's shape or a Lambda SQS event record."""
    attrs = m.get("MessageAttributes") or m.get("messageAttributes") or {}
    custom = attrs.get(ID_ATTR) or {}
    mid = custom.get("StringValue") or custom.get("stringValue") or m.get("MessageId") or m.get("messageId")
    system = m.get("Attributes") or m.get("attributes") or {}
    return Message(message_id=str(mid), body=m.get("Body", m.get("body", "")),
                   receipt=m.get("ReceiptHandle", m.get("receiptHandle", "")),
                   receive_count=int(system.get("ApproximateReceiveCount", 1)))


def dead_letter_event(aws: AwsSettings, raw: object, error: BaseException, function: str) -> None:
    """Park an event that can never succeed (bad CSV, unknown version ...) with its reason."""
    if not aws.dead_letter_queue_url:
        raise TransientError("no dead-letter queue configured (SKYLOOP_AWS_DEAD_LETTER_QUEUE_URL)")
    reason = str(error)[:1000]
    body = json.dumps({"function": function, "error": getattr(error, "code", type(error).__name__), "reason": reason,
                       "event": raw}, default=str)
    client("sqs", aws).send_message(QueueUrl=aws.dead_letter_queue_url, MessageBody=body[:250_000],
                                    MessageAttributes={REASON_ATTR: _attr(reason)})
