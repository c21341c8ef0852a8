"""The rollout's steps on Durable Functions: the orchestration (a generator the function app
registers) and the runner that starts one.

The orchestration loops: call the ``rollout_step`` activity with ``{"step", "state"}`` (retried
with backoff when it raises: a transient failure), take the state it answers, wait on a durable
timer when a step asked to be polled again, and go on at ``state["next"]`` until ``done``. A
step that failed for good answers ``{"failed": ...}`` instead of raising, so it is not retried:
where a step may abort the orchestration goes to ``abort`` with the error in ``state["caught"]``
(as on Step Functions and Cloud Workflows), elsewhere it fails. Durable Functions replays the
generator from its history, so it does nothing but yield tasks and compute from their results.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Coroutine, Generator, Mapping

from ...errors import InvalidRequest
from ...ports.rollout import ABORTABLE, DONE, ENTRIES

ORCHESTRATOR, ACTIVITY = "rollout", "rollout_step"
# The Python SDK's RetryOptions has a fixed interval (no backoff): a minute apart, twenty times,
# outlasts an endpoint update as Step Functions' and Workflows' doubling from 15 s to 5 min does
FIRST_RETRY_SECONDS, MAX_ATTEMPTS = 60, 20


class RolloutFailed(Exception):
    """A step failed for good where no rollback applies (the orchestration fails with it)."""


def orchestration(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    import azure.durable_functions as df

    state: dict[str, Any] = dict(context.get_input()["state"])
    if state.get("next") not in ENTRIES:
        raise InvalidRequest("a rollout starts at begin or promote")
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=FIRST_RETRY_SECONDS * 1000,
                            max_number_of_attempts=MAX_ATTEMPTS)
    while True:
        try:
            answer = yield context.call_activity_with_retry(ACTIVITY, retry, {"step": state["next"], "state": state})
        except Exception as exc:  # its retries exhausted
            if state["next"] not in ABORTABLE:
                raise
            state = {**state, "caught": {"Error": type(exc).__name__, "Cause": str(exc)[:1000]}, "next": "abort"}
            continue
        if "failed" in answer:
            raise RolloutFailed(f"{answer['failed']}: {answer.get('reason', '')}")
        state = answer
        if state["next"] == DONE:
            return state
        if state.get("wait"):
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=float(state["wait"])))


class DurableRollouts:
    """``RolloutRunner`` on Durable Functions: the instance ID is the request's execution name,
    so a redelivered approval finds the orchestration it started and starts nothing new.

    The durable client speaks asyncio on the function's event loop, while the core's handlers are
    synchronous and run in a worker thread (``asyncio.to_thread``): each client call is handed to
    that loop and awaited from the thread."""

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop, orchestrator: str = ORCHESTRATOR) -> None:
        self.client, self.loop, self.orchestrator = client, loop, orchestrator

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def start(self, name: str, state: Mapping[str, Any]) -> dict[str, Any]:
        out = {"model_group": state["group"], "version": state["version"], "status": "started", "execution": name}
        status = self._run(self.client.get_status(name))
        if status is not None and getattr(status, "runtime_status", None) is not None:
            return {**out, "already_started": True}
        self._run(self.client.start_new(self.orchestrator, instance_id=name, client_input={"state": dict(state)}))
        return {**out, "already_started": False}
