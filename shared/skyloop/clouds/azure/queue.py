"""Storage Queues: the remediation ``Queue``, with a poison queue as its dead-letter path.

Messages are base64 (what the Functions host's queue trigger reads by default). The host itself
moves a message that failed ``maxDequeueCount`` times to ``<queue>-poison``; Skyloop parks a
message that can never succeed there at once, as JSON with its reason, so both kinds of dead
letter are in one place for the operator.
"""

from __future__ import annotations

import json
from typing import Any

from ...ports import DeadLetter, Message
from .config import AzureSettings
from .storage import queue_client

POISON = "-poison"


class StorageQueue:
    def __init__(self, azure: AzureSettings, name: str | None = None, *, client: Any = None, poison: Any = None) -> None:
        self.name = name or azure.remediation_queue
        self.client = client or queue_client(azure, self.name)
        self.poison = poison or queue_client(azure, self.name + POISON)

    def send(self, body: str, message_id: str | None = None) -> str:
        sent = self.client.send_message(body)
        return message_id or str(sent.id)

    def receive(self, max_messages: int = 10, visibility_timeout: float = 30.0) -> list[Message]:
        got = self.client.receive_messages(messages_per_page=min(max_messages, 32), max_messages=max_messages,
                                           visibility_timeout=max(1, int(visibility_timeout)))
        return [Message(str(m.id), str(m.content), str(m.pop_receipt), int(m.dequeue_count or 1)) for m in got]

    def ack(self, message: Message) -> None:
        self.client.delete_message(message.message_id, message.receipt)

    def nack(self, message: Message, delay: float = 0.0) -> None:
        self.client.update_message(message.message_id, message.receipt, visibility_timeout=int(delay))

    def dead_letter(self, message: Message, reason: str) -> None:
        self.poison.send_message(json.dumps({"skyloop_dead_letter": True, "message_id": message.message_id,
                                             "reason": reason[:1000], "body": message.body,
                                             "receive_count": message.receive_count}))
        self.ack(message)

    def dead_letters(self) -> list[DeadLetter]:
        """A peek at the poison queue: the messages stay there for the operator. One the host moved
        there (after maxDequeueCount) is its original body, with that as the reason."""
        out = []
        for m in self.poison.peek_messages(max_messages=32):
            try:
                doc = json.loads(m.content)
            except (TypeError, ValueError):
                doc = None
            if isinstance(doc, dict) and doc.get("skyloop_dead_letter"):
                out.append(DeadLetter(str(doc["message_id"]), str(doc["body"]), str(doc["reason"]),
                                      int(doc.get("receive_count", 1))))
            else:
                out.append(DeadLetter(str(m.id), str(m.content), "moved after maxDequeueCount", int(m.dequeue_count or 0)))
        return out

    def depth(self) -> int:
        return int(self.client.get_queue_properties().approximate_message_count)
