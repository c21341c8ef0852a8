"""At most one application of each remediation request, on the key-value port.

Before acting, the request's plan is claimed (compare-and-set create); after acting, its result
is recorded. A redelivery finds the result and replays the bookkeeping, or finds a claimed plan
with no result (the worker died while acting) and re-applies that same absolute plan: a second
``set 4 replicas`` changes nothing. One mechanism for every cloud, where each executor used to
keep its own.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import StaleState
from ..ports import ActionResult
from .plans import Plan

if TYPE_CHECKING:
    from ..ports import KeyValueStore


def _key(request_id: str) -> str:
    return f"applied:{request_id}"


def prior(kv: "KeyValueStore", request_id: str) -> ActionResult | None:
    raw = kv.get(_key(request_id))
    doc = json.loads(raw) if raw else None
    if not doc or doc.get("result") is None:
        return None
    r = doc["result"]
    return ActionResult(bool(r["changed"]), r["detail"], r["before"], r["after"], replayed=True)


def claim(kv: "KeyValueStore", request_id: str, p: Plan) -> Plan:
    """The plan to apply: this one, or the one an earlier attempt claimed first."""
    try:
        kv.put_if(_key(request_id), json.dumps({"plan": p.to_dict(), "result": None}).encode(), None)
        return p
    except StaleState:
        raw = kv.get(_key(request_id))
        return Plan.from_dict(json.loads(raw or b"{}")["plan"])


def finish(kv: "KeyValueStore", request_id: str, p: Plan, result: ActionResult) -> None:
    doc: dict[str, Any] = {"plan": p.to_dict(), "result": {"changed": result.changed, "detail": result.detail,
                                                          "before": dict(result.before), "after": dict(result.after)}}
    kv.put(_key(request_id), json.dumps(doc, default=str).encode())


__all__ = ["claim", "finish", "prior"]
