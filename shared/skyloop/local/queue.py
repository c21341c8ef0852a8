"""SQLite queue with SQS semantics: visibility timeout, receive count, dead letters.

A message that is received but not acked reappears after its visibility timeout
(a crashed worker loses nothing); after ``max_receives`` deliveries it moves to
the dead-letter table with the last reason, like an SQS redrive policy.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..ports import DeadLetter, Message
from .db import Database


class SqliteQueue:
    def __init__(self, db: Database, name: str = "remediation", *, max_receives: int = 5) -> None:
        self.db = db
        self.name = name
        self.max_receives = max_receives

    def send(self, body: str, message_id: str | None = None) -> str:
        """Enqueue; sending the same ``message_id`` twice keeps one message (dedup)."""
        mid = message_id or uuid.uuid4().hex
        now = time.time()
        with self.db.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO queue_messages(queue, message_id, body, visible_at, sent_at)"
                " VALUES (?,?,?,?,?)",
                (self.name, mid, body, now, now),
            )
        return mid

    def receive(self, max_messages: int = 10, visibility_timeout: float = 30.0) -> list[Message]:
        now = time.time()
        out: list[Message] = []
        with self.db.tx() as c:
            rows = c.execute(
                "SELECT message_id, body, receive_count FROM queue_messages"
                " WHERE queue=? AND visible_at<=? ORDER BY sent_at, message_id LIMIT ?",
                (self.name, now, max_messages),
            ).fetchall()
            for r in rows:
                receipt = uuid.uuid4().hex
                count = r["receive_count"] + 1
                c.execute(
                    "UPDATE queue_messages SET receive_count=?, visible_at=?, receipt=?"
                    " WHERE queue=? AND message_id=?",
                    (count, now + visibility_timeout, receipt, self.name, r["message_id"]),
                )
                out.append(Message(r["message_id"], r["body"], receipt, count))
        return out

    def ack(self, message: Message) -> None:
        with self.db.tx() as c:
            c.execute(
                "DELETE FROM queue_messages WHERE queue=? AND message_id=? AND receipt=?",
                (self.name, message.message_id, message.receipt),
            )

    def nack(self, message: Message, delay: float = 0.0) -> None:
        """Make the message visible again (after ``delay``), or dead-letter it when out of tries."""
        if message.receive_count >= self.max_receives:
            self.dead_letter(message, f"gave up after {message.receive_count} deliveries")
            return
        with self.db.tx() as c:
            c.execute(
                "UPDATE queue_messages SET visible_at=? WHERE queue=? AND message_id=? AND receipt=?",
                (time.time() + delay, self.name, message.message_id, message.receipt),
            )

    def dead_letter(self, message: Message, reason: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO queue_dead_letters(queue, message_id, body, reason, receive_count, at)"
                " VALUES (?,?,?,?,?,?)",
                (self.name, message.message_id, message.body, reason, message.receive_count, time.time()),
            )
            c.execute("DELETE FROM queue_messages WHERE queue=? AND message_id=?", (self.name, message.message_id))

    def dead_letters(self) -> list[DeadLetter]:
        rows = self.db.conn().execute(
            "SELECT message_id, body, reason, receive_count FROM queue_dead_letters WHERE queue=? ORDER BY at",
            (self.name,),
        ).fetchall()
        return [DeadLetter(r["message_id"], r["body"], r["reason"], r["receive_count"]) for r in rows]

    def depth(self) -> int:
        return self.db.conn().execute(
            "SELECT COUNT(*) FROM queue_messages WHERE queue=?", (self.name,)
        ).fetchone()[0]


class QueuePublisher:
    """The local ``EventPublisher``: domain events go onto a queue that the runtime drains,
    which is the local twin of an EventBridge rule invoking its target. Publishing one event
    id twice keeps one message (the queue dedups by message id)."""

    def __init__(self, queue: SqliteQueue) -> None:
        self.queue = queue

    def publish(self, event: Any) -> str:
        return self.queue.send(event.model_dump_json(), message_id=event.event_id)
