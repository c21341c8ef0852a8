"""Telling once, per channel, at a bounded rate, without ever holding up the loop.

``enqueue`` puts each notice the state warrants on the notifications queue once per channel (the
notice's key marks it told: ``notified:<key>``, written after the messages, so a crash between the
two repeats a notice rather than losing it), at most ``per_minute`` a minute: the rest stay untold
and are found again on the next look, never dropped. ``deliver`` runs as that queue's handler under
the delivery rule: a channel's transient failure (5xx, timeout, 429) comes back later, a refusal is
dead-lettered with its reason, and neither touches the pipeline's own work, which was committed
before anything here was read."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import ChannelRefused, InvalidEvent, TransientError
from ..ports.kv import update
from ..ports.notify import Notice

if TYPE_CHECKING:
    from ..adapters import Adapters
    from ..ports import KeyValueStore, Queue
    from ..ports.notify import Notifier

TOLD, RATE = "notified:", "notify:rate"


def enqueue(kv: "KeyValueStore", queue: "Queue", notices: Sequence[Notice], channels: Sequence[str], *,
            now: float, per_minute: int) -> list[str]:
    """The keys of the notices queued now (those not told before, within the rate)."""
    queued = []
    for n in notices:
        if kv.get(TOLD + n.key) is not None:
            continue
        try:
            _take(kv, now, per_minute)
        except TransientError:
            break  # the rest wait for the next look
        for ch in channels:
            queue.send(json.dumps({"channel": ch, "notice": n.model_dump(mode="json")}), message_id=f"{n.key}@{ch}")
        kv.put(TOLD + n.key, json.dumps({"kind": n.kind, "channels": list(channels)}).encode())
        queued.append(n.key)
    return queued


def _take(kv: "KeyValueStore", now: float, per_minute: int) -> None:
    """One token from the bucket (``per_minute`` a minute, refilled continuously), or ``TransientError``."""
    def take(raw: bytes | None) -> bytes:
        b = json.loads(raw) if raw else {"tokens": float(per_minute), "at": now}
        tokens = min(float(per_minute), b["tokens"] + max(0.0, now - b["at"]) * per_minute / 60.0)
        if tokens < 1.0:
            raise TransientError(f"notifications are at their limit of {per_minute} a minute; told later")
        return json.dumps({"tokens": tokens - 1.0, "at": now}).encode()

    update(kv, RATE, take)


def deliver(body: str, notifiers: Mapping[str, "Notifier"]) -> dict[str, Any]:
    try:
        doc = json.loads(body)
        name, notice = str(doc["channel"]), Notice.model_validate(doc["notice"])
    except (ValueError, KeyError, TypeError):  # pydantic's ValidationError is a ValueError
        raise InvalidEvent("a notifications message is not a queued notice ({\"channel\", \"notice\"})") from None
    channel = notifiers.get(name)
    if channel is None:
        raise ChannelRefused(f"the {name} channel is no longer configured")
    channel.send(notice)
    return {"channel": channel.name, "notice": notice.key, "kind": notice.kind}


def tell_new(adapters: "Adapters", *, cli: str = "skyloop") -> list[str] | None:
    """Queue what the committed state warrants and was not told yet (None: no channel, or no queue)."""
    from .watch import notices

    a = adapters
    if not a.notifiers or a.notifications is None:
        return None
    return enqueue(a.kv, a.notifications, notices(a, cli=cli), sorted(a.notifiers), now=a.clock.now(),
                   per_minute=a.settings.notifications.max_per_minute)


__all__ = ["RATE", "TOLD", "deliver", "enqueue", "tell_new"]
