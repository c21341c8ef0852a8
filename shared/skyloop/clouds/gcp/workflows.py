"""The rollout's steps on Cloud Workflows: the workflow's source, generated from the core's step
table, and the runner that starts an execution.

The workflow is one loop: POST ``{"step", "state"}`` to the rollout-step function (OIDC, the
workflow's service account), take the state it answers, sleep ``state.wait`` seconds when a step
asked to be polled again, and go on at ``state.next`` until it is ``done``. The function answers a
transient failure with 429/503, which the workflow retries with backoff (``http.default_retry_
predicate``); any other failure of a step that may abort goes to ``abort`` with the error in
``state.caught``, as on Step Functions, and elsewhere fails the execution. The source is written
to ``infra/gcp/workflows/rollout.json`` and a test keeps the two equal:
``python -m skyloop.clouds.gcp.workflows > infra/gcp/workflows/rollout.json``.
The function's URL comes from the workflow's environment (``ROLLOUT_STEP_URL``), set by Terraform.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any, Mapping

from ...ports.rollout import ABORTABLE, DONE, ENTRIES
from .config import GcpSettings


def definition() -> dict[str, Any]:
    abortable = sorted(ABORTABLE)
    call = {
        "try": {
            "call": "http.post",
            "args": {"url": "${url}", "auth": {"type": "OIDC"}, "timeout": 600,
                     "body": {"step": "${state.next}", "state": "${state}"}},
            "result": "response",
        },
        "retry": {"predicate": "${http.default_retry_predicate}", "max_retries": 8,
                  "backoff": {"initial_delay": 15, "max_delay": 300, "multiplier": 2}},
        "except": {"as": "e", "steps": [
            {"abort_or_fail": {"switch": [
                {"condition": f"${{state.next in {json.dumps(abortable)}}}", "steps": [
                    {"note": {"assign": [
                        {"state.caught": {"Error": '${default(map.get(e, "code"), "error")}',
                                          "Cause": '${default(map.get(e, "body"), default(map.get(e, "message"), ""))}'}},
                        {"state.next": "abort"}]}},
                    {"again": {"next": "step"}}]}]}},
            {"fail": {"raise": "${e}"}},
        ]},
    }
    return {"main": {"params": ["args"], "steps": [
        {"init": {"assign": [{"state": "${args.state}"}, {"url": '${sys.get_env("ROLLOUT_STEP_URL")}'}]}},
        {"route": {"switch": [{"condition": f"${{state.next in {json.dumps(list(ENTRIES))}}}", "next": "step"}],
                   "next": "unknown_entry"}},
        {"step": call},
        {"advance": {"assign": [{"state": "${response.body}"}]}},
        {"finished": {"switch": [{"condition": f'${{state.next == "{DONE}"}}', "return": "${state}"}]}},
        {"poll": {"switch": [{"condition": "${state.wait > 0}", "steps": [
            {"sleep": {"call": "sys.sleep", "args": {"seconds": "${state.wait}"}}}]}]}},
        {"loop": {"next": "step"}},
        {"unknown_entry": {"raise": {"code": 400, "message": "a rollout starts at begin or promote"}}},
    ]}}


def definition_json() -> str:
    return json.dumps(definition(), indent=2) + "\n"


@lru_cache(maxsize=None)
def executions_client() -> Any:
    from google.cloud.workflows import executions_v1  # lazy: the core never imports google

    return executions_v1.ExecutionsClient()


def run_label(name: str) -> str:
    """A label value (<= 63 of [a-z0-9_-]) that names one rollout request."""
    return hashlib.sha256(name.encode()).hexdigest()[:40]


class WorkflowsRollouts:
    """``RolloutRunner`` on Cloud Workflows. Executions take no caller-chosen ID, so each carries
    its request as the ``skyloop-run`` label: a redelivered approval finds the execution it
    started (running or finished) and starts nothing new."""

    def __init__(self, gcp: GcpSettings, client: Any = None) -> None:
        self.gcp = gcp
        self.client = client or executions_client()
        self.workflow = gcp.rollout_workflow  # projects/<p>/locations/<r>/workflows/<name>

    def start(self, name: str, state: Mapping[str, Any]) -> dict[str, Any]:
        from google.cloud.workflows import executions_v1

        label = run_label(name)
        found = list(self.client.list_executions(request=executions_v1.ListExecutionsRequest(
            parent=self.workflow, filter=f'labels.skyloop-run="{label}"')))
        if found:
            return {"model_group": state["group"], "version": state["version"], "status": "started",
                    "execution": found[0].name, "already_started": True}
        execution = self.client.create_execution(request=executions_v1.CreateExecutionRequest(
            parent=self.workflow, execution=executions_v1.Execution(
                argument=json.dumps({"state": dict(state)}), labels={"skyloop-run": label})))
        return {"model_group": state["group"], "version": state["version"], "status": "started",
                "execution": execution.name, "already_started": False}


if __name__ == "__main__":
    import sys

    sys.stdout.write(definition_json())
