"""Read-modify-write on the key-value port, safe under concurrent writers.

Two detect invocations for one service (a redelivery racing its original, two shards of a
metric stream) each read the detector state, learn, and write it back; with plain get/put the
second write silently erased the first one's learning. ``update`` re-reads and re-applies the
change until its compare-and-set wins, so every writer's change lands, in some order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .errors import StaleState, ValueTooLarge

if TYPE_CHECKING:
    from .ports import KeyValueStore

ATTEMPTS = 8


def update(kv: "KeyValueStore", key: str, change: Callable[[bytes | None], bytes], attempts: int = ATTEMPTS) -> bytes:
    """Apply ``change(current) -> new`` atomically; returns what was written.

    ``change`` may run more than once (each time on the freshest value), so it must be a pure
    function of its input. After ``attempts`` lost races the caller gets ``StaleState``
    (transient): its message is retried later instead of spinning here."""
    for _ in range(attempts):
        cur = kv.get_versioned(key)
        new = change(None if cur is None else cur[0])
        try:
            kv.put_if(key, new, None if cur is None else cur[1])
            return new
        except StaleState:
            continue
    raise StaleState(f"{key}: still contended after {attempts} attempts")


def check_size(kv: "KeyValueStore", key: str, value: bytes) -> None:
    if len(value) > kv.max_value_bytes:
        raise ValueTooLarge(f"{key}: {len(value):,} bytes is above this store's {kv.max_value_bytes:,}-byte value limit")


__all__ = ["ATTEMPTS", "check_size", "update"]
