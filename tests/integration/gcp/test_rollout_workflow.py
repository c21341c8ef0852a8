"""The rollout's Cloud Workflows source (infra/gcp/workflows/rollout.json), generated from the
core's step table, run by harness.Workflow against a scripted rollout-step function: polls sleep
the step's wait, a transient answer (503) is retried with backoff, a permanent failure of a step
that may abort goes to abort with the error, and one elsewhere fails the execution."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from skyloop.clouds.gcp.workflows import definition_json

from .harness import ROOT, Workflow, WorkflowError

URL = "https://step.example"


def test_the_checked_in_source_is_the_generated_one() -> None:
    assert (ROOT / "infra/gcp/workflows/rollout.json").read_text() == definition_json(), \
        "regenerate: python -m skyloop.clouds.gcp.workflows > infra/gcp/workflows/rollout.json"


def _run(script: Callable[[str, dict[str, Any]], tuple[int, Any]], start: str = "begin") -> tuple[Workflow, Any]:
    seen: list[str] = []

    def post(url: str, body: Any) -> tuple[int, Any]:
        assert url == URL and set(body) == {"step", "state"} and body["step"] == body["state"]["next"]
        seen.append(body["step"])
        return script(body["step"], dict(body["state"]))

    flow = Workflow(json.loads(definition_json()), post, {"ROLLOUT_STEP_URL": URL})
    flow.seen = seen  # type: ignore[attr-defined]
    return flow, flow.run({"state": {"group": "g", "version": 2, "next": start, "wait": 0, "done": []}})


def _then(nxt: str, **extra: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda st: {**st, "next": nxt, "wait": 0, **extra}


def test_steps_follow_next_and_polls_sleep() -> None:
    polled = {"n": 0}

    def script(step: str, st: dict[str, Any]) -> tuple[int, Any]:
        if step == "smoke" and polled["n"] < 2:
            polled["n"] += 1
            return 200, {**st, "next": "smoke", "wait": 30}
        nxt = {"begin": "staging", "staging": "smoke", "smoke": "promote", "promote": "done"}[step]
        return 200, {**st, "next": nxt, "wait": 0, "status": "promoted" if nxt == "done" else "running"}

    flow, final = _run(script)
    assert final["status"] == "promoted"
    assert flow.seen == ["begin", "staging", "smoke", "smoke", "smoke", "promote"]  # type: ignore[attr-defined]
    assert flow.sleeps == [30.0, 30.0]


def test_a_transient_answer_is_retried_with_backoff() -> None:
    failures = {"n": 0}

    def script(step: str, st: dict[str, Any]) -> tuple[int, Any]:
        if step == "staging" and failures["n"] < 3:
            failures["n"] += 1
            return 503, {"error": "endpoint_busy", "reason": "still applying"}
        return 200, _then({"begin": "staging", "staging": "done"}[step], status="ok")(st)

    flow, final = _run(script)
    assert final["status"] == "ok" and flow.sleeps == [15.0, 15.0, 15.0]


def test_a_permanent_failure_where_a_step_may_abort_goes_to_abort_with_the_error() -> None:
    def script(step: str, st: dict[str, Any]) -> tuple[int, Any]:
        if step == "smoke":
            return 500, {"error": "deployment_failed", "reason": "smoke test failed"}
        if step == "abort":
            assert st["caught"]["Error"] == 500 and st["caught"]["Cause"]["reason"] == "smoke test failed"
            return 200, {**st, "next": "done", "status": "rolled_back"}
        return 200, _then({"begin": "staging", "staging": "smoke"}[step])(st)

    flow, final = _run(script)
    assert final["status"] == "rolled_back" and flow.seen[-2:] == ["smoke", "abort"]  # type: ignore[attr-defined]


def test_a_permanent_failure_elsewhere_fails_the_execution() -> None:
    def script(step: str, st: dict[str, Any]) -> tuple[int, Any]:
        return 500, {"error": "deployment_failed", "reason": "v2 is REJECTED, not APPROVED"}

    with pytest.raises(WorkflowError) as failed:
        _run(script)
    assert failed.value.value["code"] == 500
    with pytest.raises(WorkflowError, match="begin or promote"):
        _run(script, start="smoke")
