"""Cloud Functions (2nd gen) entry points, for functions-framework: one source, one entry point per
function (``--entry-point train|deploy|detect|remediate|rollout_step``).

Every event-driven function takes Eventarc's CloudEvents (binary or structured mode), and a
Skyloop domain event sent directly: ``curl -X POST <url> -H "ce-type: dev.skyloop.event" -H
"ce-source: cli" -H "ce-id: <id>" -H "ce-specversion: 1.0" -H "Content-Type: application/json"
-d @event.json``. What each takes:

| function | Eventarc trigger |
|---|---|
| train | ``google.cloud.storage.object.v1.finalized`` on the training bucket (a CSV, or a training job's result), and the training-checks topic (Cloud Scheduler's ``TrainingCheckDue``: AutoML pipelines that ended) |
| deploy | ``google.cloud.audit.log.v1.written`` for Vertex AI's MergeVersionAliases / UpdateModel, and the events topic (ModelVersionApproved, CanaryPassed) |
| detect | the alerts topic (Cloud Monitoring incidents, schema 1.2) and metric batches (MetricBatch) |
| remediate | the remediation topic (RemediationRequested) |

The rule for errors is the core's (``skyloop.delivery``): a permanent error is published to the
dead-letter topic with its reason and the event is acknowledged; a transient one is raised, so
functions-framework answers 500 and Eventarc redelivers (``retry_policy = RETRY_POLICY_RETRY``).
Eventarc's trigger subscriptions take no dead-letter policy and redeliver until the topic's
retention ends (7 days), so an event still failing ``SKYLOOP_GCP_MAX_RETRY_SECONDS`` (a day) after
it occurred is parked on the dead-letter topic with its reason and acknowledged.

``rollout_step`` is an HTTP function that Cloud Workflows calls for each step of a rollout
(``skyloop.clouds.gcp.workflows``): 200 with the next state, 503 for a transient failure (the
workflow retries), 500 for any other (the workflow aborts the rollout where a step may abort).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import functions_framework

from skyloop.clouds.instance import FunctionInstance, route
from skyloop.delivery import deliver, settle
from skyloop.logs import setup as setup_logs

setup_logs(os.environ.get("SKYLOOP_LOG_LEVEL", "INFO"))  # JSON lines: Cloud Logging reads them as structured
log = logging.getLogger("skyloop.functions.gcp")

def _gcp_settings() -> Any:
    from skyloop.clouds.gcp.config import GcpSettings

    return GcpSettings()


instance = FunctionInstance("gcp", _gcp_settings)  # built once per instance, reused across invocations
gcp_settings, adapters, use = instance.settings, instance.adapters, instance.use


def _handle(function: str, cloud_event: Any, others: str = "refuse") -> dict[str, Any]:
    """Decode with the one Google Cloud decoder, keep the kinds this function takes (``others``:
    refuse the rest, or ignore them: the events topic carries kinds for other functions too),
    dispatch each, and map the outcome onto Eventarc."""
    from skyloop.clouds.gcp.events import cloudevent_dict, to_domain

    raw = cloudevent_dict(cloud_event)

    def work() -> dict[str, Any]:
        return route(function, to_domain(raw, training_bucket=gcp_settings().bucket), adapters(), others=others)

    return _settle(function, raw, work)


def _settle(function: str, raw: dict[str, Any], work: Any) -> dict[str, Any]:
    """The delivery rule mapped onto Eventarc: done -> 200; transient -> 500, redelivered, until a
    day has passed; permanent (or past that day) -> parked on the dead-letter topic with why."""

    def give_up(error: BaseException) -> BaseException | None:
        """Eventarc retries for a day at most: past the window, parked with why."""
        age = _age_seconds(raw)
        if age is None or age < gcp_settings().max_retry_seconds:
            return None  # functions-framework answers 500: Eventarc redelivers
        from skyloop.errors import SkyloopError

        reason = error.reason if isinstance(error, SkyloopError) else f"{type(error).__name__}: {error}"
        final = SkyloopError(f"still failing {age / 3600:.1f} h after the event occurred: {reason}")
        final.code = "retries_exhausted"
        return final

    def park(error: BaseException) -> None:
        from skyloop.clouds.gcp.pubsub import dead_letter_event

        dead_letter_event(gcp_settings(), raw, error, function)

    return settle(deliver(work, {"function": function, "ce_id": raw.get("id"), "ce_type": raw.get("type")}), park, give_up)


def _age_seconds(raw: dict[str, Any]) -> float | None:
    """How long ago the event occurred, by its CloudEvent ``time`` (None when it has none)."""
    from datetime import datetime, timezone

    try:
        at = datetime.fromisoformat(str(raw["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (datetime.now(timezone.utc) - at).total_seconds()


@functions_framework.cloud_event
def train(cloud_event: Any) -> None:
    out = _handle("train", cloud_event)
    log.info("train", extra={"status": out.get("status"), "results": len(out.get("results", []))})


@functions_framework.cloud_event
def deploy(cloud_event: Any) -> None:
    out = _handle("deploy", cloud_event, others="ignore")
    log.info("deploy", extra={"status": out.get("status"), "results": len(out.get("results", []))})


@functions_framework.cloud_event
def detect(cloud_event: Any) -> None:
    out = _handle("detect", cloud_event)
    log.info("detect", extra={"status": out.get("status"), "results": len(out.get("results", []))})


@functions_framework.cloud_event
def remediate(cloud_event: Any) -> None:
    out = _handle("remediate", cloud_event)
    log.info("remediate", extra={"status": out.get("status"), "results": len(out.get("results", []))})


@functions_framework.cloud_event
def notify(cloud_event: Any) -> None:
    """People are told. The notices topic carries two kinds of message: Cloud Scheduler's tick (every
    minute: queue what the committed state warrants and was not told) and a queued notice for one
    channel (deliver it). The delivery rule is the others': a channel's 5xx or timeout answers 500
    and Eventarc redelivers; a refusal, or a day of failures, is parked with its reason."""
    from skyloop.clouds.gcp.events import cloudevent_dict, published_data
    from skyloop.notify.deliver import deliver as tell, tell_new

    raw = cloudevent_dict(cloud_event)

    def work() -> dict[str, Any]:
        doc = published_data(raw)
        if isinstance(doc, dict) and doc.get("type") == "NotifyTick":
            queued = tell_new(adapters(), cli="skyloop --cloud gcp")
            return {"status": "ignored", "reason": "no channel configured"} if queued is None else \
                {"status": "ok", "queued": len(queued)}
        return tell(json.dumps(doc), adapters().notifiers)

    out = _settle("notify", raw, work)
    log.info("notify", extra={"status": out.get("status"), "channel": out.get("channel")})


@functions_framework.http
def rollout_step(request: Any) -> tuple[str, int, dict[str, str]]:
    from skyloop.errors import SkyloopError
    from skyloop.serving.rollout import RolloutContext, run_step, step_request

    headers = {"Content-Type": "application/json"}
    try:
        step, state = step_request(request.get_json(silent=True))
        out = run_step(step, state, RolloutContext.of(adapters()))
    except SkyloopError as exc:
        log.warning("rollout step failed", extra={"error": exc.code, "reason": exc.reason, "retryable": exc.retryable})
        return json.dumps({"error": exc.code, "reason": exc.reason}), 503 if exc.retryable else 500, headers
    except Exception as exc:  # noqa: BLE001 - a bug: the workflow aborts the rollout where it may
        log.exception("rollout step crashed")
        return json.dumps({"error": type(exc).__name__, "reason": "internal error"}), 500, headers
    log.info("rollout step", extra={"group": out.get("group"), "next": out["next"], "wait": out["wait"]})
    return json.dumps(out, default=str), 200, headers
