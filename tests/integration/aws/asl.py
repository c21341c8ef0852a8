"""Play a state machine's transitions in order, in this process: a stand-in for the Step Functions
engine, limited to what the rollout's definition uses.

moto stores state machines and starts executions (and its parser validates the definition), but it
cannot invoke a Lambda Task without Docker. This walker follows the definition itself: Choice rules
(StringEquals, NumericGreaterThan, And), Wait with SecondsPath (recorded, not slept), Task states
whose Payload is ``{"step": ..., "state.$": "$"}`` (the function is called directly with it),
Retry by error name with MaxAttempts (no delays), Catch with ResultPath, Succeed and Fail.
What it cannot check: the Lambda service integration's envelopes and timeouts, retry timing,
IAM, and the engine's payload limits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Played:
    status: str  # SUCCEEDED | FAILED
    output: dict[str, Any]
    path: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)


def _get(doc: dict[str, Any], path: str) -> Any:
    assert path.startswith("$."), path
    cur: Any = doc
    for part in path[2:].split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _matches(rule: dict[str, Any], doc: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(_matches(r, doc) for r in rule["And"])
    value = _get(doc, rule["Variable"])
    if "StringEquals" in rule:
        return isinstance(value, str) and value == rule["StringEquals"]
    if "NumericGreaterThan" in rule:
        return isinstance(value, (int, float)) and value > rule["NumericGreaterThan"]
    raise AssertionError(f"rule not supported by the walker: {rule}")


def _payload(template: Any, doc: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out = {}
        for k, v in template.items():
            if k.endswith(".$"):
                out[k[:-2]] = copy.deepcopy(doc) if v == "$" else _get(doc, v)
            else:
                out[k] = _payload(v, doc)
        return out
    return template


def play(definition: dict[str, Any], start: dict[str, Any], invoke: Callable[[dict[str, Any]], dict[str, Any]],
         *, max_transitions: int = 500) -> Played:
    states, name, doc = definition["States"], definition["StartAt"], copy.deepcopy(start)
    played = Played("RUNNING", doc)
    for _ in range(max_transitions):
        st = states[name]
        played.path.append(name)
        kind = st["Type"]
        if kind == "Succeed":
            played.status, played.output = "SUCCEEDED", doc
            return played
        if kind == "Fail":
            played.status, played.output = "FAILED", doc
            return played
        if kind == "Choice":
            name = next((c["Next"] for c in st["Choices"] if _matches(c, doc)), st.get("Default"))
            assert name, f"no choice matched and no Default in {played.path[-1]}"
            continue
        if kind == "Wait":
            played.waits.append(float(_get(doc, st["SecondsPath"])))
            name = st["Next"]
            continue
        assert kind == "Task", kind
        payload = _payload(st["Parameters"]["Payload"], doc)
        attempts: dict[int, int] = {}
        while True:
            try:
                result = invoke(payload)
                assert st["OutputPath"] == "$.Payload"
                doc = result
                name = st["Next"]
                break
            except Exception as exc:  # the engine sees the error name Lambda reports: the class name
                error = type(exc).__name__
                retry = next((i for i, r in enumerate(st.get("Retry", [])) if error in r["ErrorEquals"]
                              or "States.ALL" in r["ErrorEquals"]), None)
                if retry is not None and attempts.get(retry, 0) < st["Retry"][retry]["MaxAttempts"]:
                    attempts[retry] = attempts.get(retry, 0) + 1
                    played.retries.append(f"{played.path[-1]}: {error}")
                    continue
                catch = next(c for c in st["Catch"] if error in c["ErrorEquals"] or "States.ALL" in c["ErrorEquals"])
                assert catch["ResultPath"].count(".") == 1
                doc = {**doc, catch["ResultPath"][2:]: {"Error": error, "Cause": str(exc)}}
                name = catch["Next"]
                break
    raise AssertionError(f"no end after {max_transitions} transitions: {played.path[-20:]}")
