"""The local runtime: adapters on ``$SKYLOOP_HOME`` and the loop that drains the queues.

``drain`` is the local twin of an SQS event source mapping with partial batch
responses: a message that fails permanently goes to the dead-letter table with
its reason, a transient failure is retried with backoff, and neither stops the
rest of the batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from ..bootstrap import bootstrap
from ..config import Settings
from ..delivery import Outcome, backoff, deliver
from ..errors import SkyloopError
from ..events import RemediationRequested, parse_event
from ..handlers import dispatch
from ..ports import Clock, Message, Queue
from .db import Database
from .deployer import LocalDeployer
from .fleet import LocalFleet
from .queue import SqliteQueue
from .registry import SqliteModelRegistry

log = logging.getLogger("skyloop.runtime")

@dataclass
class DrainReport:
    processed: int = 0
    dead_lettered: int = 0
    retried: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


class _Keeping:
    """A queue whose acknowledgements are held back: a dry run's messages stay queued."""

    def __init__(self, queue: Queue, kept: list[Message]) -> None:
        self.queue, self.kept = queue, kept

    def ack(self, msg: Message) -> None:
        self.kept.append(msg)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queue, name)


class LocalRuntime:
    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None, seed: int | None = None) -> None:
        self.settings = settings or Settings()
        s = self.settings
        self.db = Database(s.db_path)
        self.adapters = bootstrap("local", s, clock=clock, db=self.db, seed=seed)
        self.fleet: LocalFleet = self.adapters.executor  # type: ignore[assignment]
        self.event_queue: SqliteQueue = self.adapters.events.queue  # type: ignore[attr-defined]  # drained by pump()

    # convenience typed accessors
    @property
    def registry(self) -> SqliteModelRegistry:
        return self.adapters.registry  # type: ignore[return-value]

    @property
    def deployer(self) -> LocalDeployer:
        return self.adapters.deployer  # type: ignore[return-value]

    def handle_message(self, msg: Message, handler: Callable[[Any], dict[str, Any]], queue: Queue, report: DrainReport,
                       parse: Callable[[str], Any] = parse_event) -> None:
        d = deliver(lambda: handler(parse(msg.body)),
                    {"message_id": msg.message_id, "receive_count": msg.receive_count})
        if d.outcome is Outcome.DONE:
            assert d.result is not None
            report.results.append(d.result)
            queue.ack(msg)
            report.processed += 1
            return
        if d.outcome is Outcome.RETRY:
            queue.nack(msg, delay=backoff(msg.receive_count))
            report.retried += 1
            if not isinstance(d.error, SkyloopError):
                report.errors.append({"message_id": msg.message_id, "error": d.code, "reason": d.reason})
            return
        queue.dead_letter(msg, f"{d.code}: {d.reason}")
        report.dead_lettered += 1
        report.errors.append({"message_id": msg.message_id, "error": d.code, "reason": d.reason})

    def drain(self, queue: Queue, handler: Callable[[Any], dict[str, Any]] | None = None, *, batch_size: int = 10,
              keep: bool = False, parse: Callable[[str], Any] = parse_event) -> DrainReport:
        """``keep``: messages handled are put back afterwards instead of acknowledged (a dry run
        looks at the queue; the live run that follows acts on it)."""
        handler = handler or (lambda ev: dispatch(ev, self.adapters))
        report = DrainReport()
        kept: list[Message] = []
        target = _Keeping(queue, kept) if keep else queue
        while True:
            msgs = queue.receive(batch_size, visibility_timeout=300.0)
            if not msgs:
                for m in kept:
                    queue.nack(m, delay=0.0)
                return report
            for m in msgs:
                self.handle_message(m, handler, target, report, parse)

    def pump(self, *, dry_run: bool | None = None) -> dict[str, DrainReport]:
        """Drain the event channel, then the remediation queue, until both are quiet."""
        from ..handlers import on_remediation

        def remediation_handler(ev: Any) -> dict[str, Any]:
            if not isinstance(ev, RemediationRequested):
                raise SkyloopError(f"remediation queue got a {type(ev).__name__}")
            return on_remediation(ev, self.adapters, dry_run=dry_run)

        from ..handlers.detect import sweep

        out = {
            "events": self.drain(self.event_queue),
            "remediation": self.drain(self.adapters.remediation, remediation_handler,
                                      keep=self.settings.dry_run if dry_run is None else dry_run),
        }
        sweep(self.adapters)  # actions whose target went silent past their window: to a human
        told = self.notify()
        if told is not None:
            out["notifications"] = told
        return out

    def notify(self) -> DrainReport | None:
        """Tell what the committed state warrants, once per subject and state, each channel on its
        own (None: no channel is configured). A failing channel is retried on a later pump and
        dead-lettered with its reason; it never holds up the loop."""
        from ..notify.deliver import deliver as tell, tell_new

        a = self.adapters
        if tell_new(a) is None or a.notifications is None:
            return None
        return self.drain(a.notifications, lambda body: tell(body, a.notifiers), parse=str)

    def approve_held(self, request_id: str, *, actor: str, note: str | None = None) -> RemediationRequested:
        """A person approves a held remediation: their record, then the request back on the queue."""
        return self.decide_held(request_id, "approved", actor=actor, note=note)

    def decide_held(self, request_id: str, decision: str, *, actor: str, note: str | None = None) -> RemediationRequested:
        from ..remediation.approvals import decide_in

        return decide_in(self.adapters, request_id, decision, actor=actor, note=note)  # type: ignore[arg-type]

    def close(self) -> None:
        self.db.close()
