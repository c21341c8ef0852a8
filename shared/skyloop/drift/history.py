"""A model group's drift history: the one owner of ``drift:<group>``. Two drift reports for one
group (two scoring jobs finishing together) both land: the append is a compare-and-set, where the
handler's plain read and write once let the second erase the first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from ..ports.kv import update

if TYPE_CHECKING:
    from ..ports import KeyValueStore

PREFIX = "drift:"
KEEP = 100  # reports per group


def record(kv: "KeyValueStore", group: str, entry: Mapping[str, Any]) -> None:
    update(kv, PREFIX + group, lambda raw: json.dumps((json.loads(raw or b"[]") + [dict(entry)])[-KEEP:]).encode())


def history(kv: "KeyValueStore", group: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(kv.get(PREFIX + group) or b"[]")
    return found


def latest(kv: "KeyValueStore") -> dict[str, dict[str, Any]]:
    """Each group's newest report (the report's read side)."""
    out = {}
    for key, raw in kv.items(PREFIX):
        reports = json.loads(raw)
        if reports:
            out[key[len(PREFIX):]] = reports[-1]
    return out


__all__ = ["KEEP", "history", "latest", "record"]
