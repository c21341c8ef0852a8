"""Deployment history in the key-value store: written by rollouts, read by RCA.

Kept apart from ``deployment`` so that the detect path can ask "did production
change just before this incident?" without importing the rollout machinery.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from ..ports.kv import update

if TYPE_CHECKING:
    from ..ports import KeyValueStore


def _key(group: str) -> str:
    return f"deployments:{group}"


def _append(kv: KeyValueStore, key: str, entry: Mapping[str, Any], keep: int) -> None:
    """Append under compare-and-set: two rollouts recording at once both land."""
    update(kv, key, lambda raw: json.dumps(((json.loads(raw) if raw else []) + [dict(entry)])[-keep:]).encode())


def record_deployment(kv: KeyValueStore, group: str, entry: Mapping[str, Any]) -> None:
    _append(kv, _key(group), entry, 200)


def deployment_history(kv: KeyValueStore, group: str) -> list[dict[str, Any]]:
    raw = kv.get(_key(group))
    return json.loads(raw) if raw else []


def last_promotion(kv: KeyValueStore, group: str, before: float | None = None) -> dict[str, Any] | None:
    """The latest promotion to production at or before ``before`` (epoch seconds)."""
    for e in reversed(deployment_history(kv, group)):
        if e.get("kind") == "promoted" and (before is None or e["at"] <= before):
            return e
    return None


def record_gate_decision(kv: KeyValueStore, group: str, entry: Mapping[str, Any]) -> None:
    """Every gate decision, approvals and refusals alike, with the checks behind it."""
    _append(kv, f"gate:{group}", entry, 500)


def gate_decisions(kv: KeyValueStore, group: str) -> list[dict[str, Any]]:
    raw = kv.get(f"gate:{group}")
    return json.loads(raw) if raw else []
