"""Azure Functions entry points (Python v2 programming model; the functions on a blueprint).

| function | trigger |
|---|---|
| train | Event Grid ``Microsoft.Storage.BlobCreated`` on the datasets container (a CSV, or a training job's result), Event Grid or CloudEvents schema |
| deploy | Event Grid: Azure ML ``ModelRegistered`` with ``approval=approved``, and Skyloop's ``ModelVersionApproved`` / ``CanaryPassed`` on the events topic; it starts the rollout orchestration |
| detect | HTTP ``POST /api/alerts``: an action group's common alert schema, or a metric batch |
| remediate | the remediation Storage Queue |
| invoke | HTTP ``POST /api/invoke/{function}``: a domain event sent directly to train, deploy, detect or remediate |
| rollout, rollout_step | the Durable Functions orchestration of the rollout and its one activity (``skyloop.clouds.azure.durable``) |

The rule for errors is the core's (``skyloop.delivery``): a permanent error is parked on the
dead-letter queue with its reason and the trigger completes; a transient one is raised, so Event
Grid retries (then its dead-letter container), the queue trigger retries until
``maxDequeueCount`` (then ``<queue>-poison``), and an HTTP caller gets a 503.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from skyloop.clouds.decoding import FUNCTIONS
from skyloop.clouds.instance import FunctionInstance, route
from skyloop.delivery import deliver, settle
from skyloop.logs import setup as setup_logs

setup_logs(os.environ.get("SKYLOOP_LOG_LEVEL", "INFO"))
log = logging.getLogger("skyloop.functions.azure")


def _azure_settings() -> Any:
    from skyloop.clouds.azure.config import AzureSettings

    return AzureSettings()


instance = FunctionInstance("azure", _azure_settings)  # built once per instance, reused across invocations
azure_settings, adapters, use = instance.settings, instance.adapters, instance.use

def as_dict(event: Any) -> Any:
    """What the Functions host hands a trigger, as the JSON the decoder reads."""
    if isinstance(event, func.EventGridEvent):
        return {"id": event.id, "topic": event.topic, "subject": event.subject, "eventType": event.event_type,
                "eventTime": event.event_time.isoformat() if event.event_time else None, "data": event.get_json(),
                "dataVersion": event.data_version}
    if isinstance(event, func.CloudEvent):
        return {"specversion": event.specversion, "id": event.id, "source": event.source, "type": event.type,
                "subject": event.subject, "time": event.time.isoformat() if event.time else None, "data": event.get_json()}
    return event


def handle(function: str, raw: Any, *, rollouts: Any = None, others: str = "refuse") -> dict[str, Any]:
    """Decode, keep the kinds this function takes, dispatch, and map the outcome onto Azure."""
    from skyloop.clouds.azure.events import to_domain

    def work() -> dict[str, Any]:
        a = adapters() if rollouts is None else dataclasses.replace(adapters(), rollouts=rollouts)
        return route(function, to_domain(raw, container=azure_settings().container), a, others=others)

    return _settle(function, raw, work)


def _settle(function: str, raw: Any, work: Any) -> dict[str, Any]:
    """The delivery rule mapped onto Azure: a retry is the trigger's own; a permanent failure is parked
    on the dead-letter queue with its reason and the invocation succeeds."""

    def park(error: BaseException) -> None:
        from skyloop.clouds.azure.eventgrid import dead_letter_event

        dead_letter_event(azure_settings(), raw, error, function)

    return settle(deliver(work, {"function": function}), park)


async def _with_rollouts(function: str, raw: Any, client: Any, **options: Any) -> dict[str, Any]:
    """``handle`` in a worker thread (the core is synchronous), starting rollouts through the
    durable client on this function's event loop."""
    import asyncio

    from skyloop.clouds.azure.durable import DurableRollouts

    rollouts = DurableRollouts(client, asyncio.get_running_loop())
    return await asyncio.to_thread(handle, function, raw, rollouts=rollouts, **options)


bp = df.Blueprint()


@bp.function_name("train")
@bp.event_grid_trigger(arg_name="event")
def train(event: func.EventGridEvent) -> None:
    out = handle("train", as_dict(event))
    log.info("train", extra={"status": out.get("status"), "results": len(out.get("results", []))})


@bp.function_name("deploy")
@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def deploy(event: func.EventGridEvent, client: Any) -> None:
    out = await _with_rollouts("deploy", as_dict(event), client, others="ignore")
    log.info("deploy", extra={"status": out.get("status"), "results": len(out.get("results", []))})


def _json(doc: Any, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(doc, default=str), status_code=status, mimetype="application/json")


def _body(req: func.HttpRequest) -> Any:
    try:
        return req.get_json()
    except ValueError:
        return None


def _answer(run: Any) -> func.HttpResponse:
    """200 with the result (a parked event included); 503 for a transient failure, which the
    caller (an action group, a script) retries."""
    from skyloop.errors import SkyloopError

    try:
        return _json(run(), 200)
    except SkyloopError as exc:
        return _json({"error": exc.code, "reason": exc.reason}, 503)


@bp.function_name("detect")
@bp.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def detect(req: func.HttpRequest) -> func.HttpResponse:
    body = _body(req)
    if body is None:
        return _json({"error": "invalid_event", "reason": "the body is not JSON"}, 400)
    return _answer(lambda: handle("detect", body))


@bp.function_name("remediate")
# the queue is on Skyloop's data account, not the host's: its own identity-based connection (SKYLOOP_QUEUES__*)
@bp.queue_trigger(arg_name="msg", queue_name="%SKYLOOP_AZURE_REMEDIATION_QUEUE%", connection="SKYLOOP_QUEUES")
def remediate(msg: func.QueueMessage) -> None:
    try:
        raw: Any = msg.get_json()
    except ValueError:
        raw = {"unreadable_message": msg.get_body().decode(errors="replace")[:2000]}
    out = handle("remediate", raw)
    log.info("remediate", extra={"message_id": msg.id, "dequeue_count": msg.dequeue_count, "status": out.get("status")})


@bp.function_name("notify_look")
@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *")  # every minute
def notify_look(timer: func.TimerRequest) -> None:
    """People are told: what the committed state warrants and was not told, queued once per channel."""
    from skyloop.notify.deliver import tell_new

    queued = tell_new(adapters(), cli="skyloop --cloud azure")
    log.info("notify look", extra={"queued": None if queued is None else len(queued), "past_due": timer.past_due})


@bp.function_name("notify")
@bp.queue_trigger(arg_name="msg", queue_name="%SKYLOOP_AZURE_NOTICES_QUEUE%", connection="SKYLOOP_QUEUES")
def notify(msg: func.QueueMessage) -> None:
    """One queued notice to its channel: a 5xx or timeout is raised (the host retries, then moves it to
    <queue>-poison), a refusal is parked on the dead-letter queue with its reason."""
    from skyloop.notify.deliver import deliver as tell

    body = msg.get_body().decode(errors="replace")
    out = _settle("notify", {"notice": body[:2000]}, lambda: tell(body, adapters().notifiers))
    log.info("notify", extra={"message_id": msg.id, "dequeue_count": msg.dequeue_count, "channel": out.get("channel")})


@bp.function_name("invoke")
@bp.route(route="invoke/{function}", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def invoke(req: func.HttpRequest, client: Any) -> func.HttpResponse:
    from skyloop.errors import SkyloopError

    function = req.route_params.get("function", "")
    if function not in FUNCTIONS:
        return _json({"error": "invalid_request", "reason": f"no function {function!r}; known: {', '.join(FUNCTIONS)}"}, 404)
    body = _body(req)
    if body is None:
        return _json({"error": "invalid_event", "reason": "the body is not JSON"}, 400)
    try:
        return _json(await _with_rollouts(function, body, client), 200)
    except SkyloopError as exc:
        return _json({"error": exc.code, "reason": exc.reason}, 503)


@bp.orchestration_trigger(context_name="context")
def rollout(context: df.DurableOrchestrationContext) -> Any:
    from skyloop.clouds.azure.durable import orchestration

    return (yield from orchestration(context))


@bp.activity_trigger(input_name="payload")
def rollout_step(payload: dict[str, Any]) -> dict[str, Any]:
    """One step; a permanent failure is answered (not raised) so the orchestration does not retry it."""
    from skyloop.errors import SkyloopError
    from skyloop.serving.rollout import RolloutContext, run_step, step_request

    step, state = step_request(payload)  # a malformed request is raised, not answered: the orchestration's bug
    try:
        out = run_step(step, state, RolloutContext.of(adapters()))
    except SkyloopError as exc:
        if exc.retryable:
            raise
        return {"failed": exc.code, "reason": exc.reason}
    log.info("rollout step", extra={"group": out.get("group"), "next": out["next"], "wait": out["wait"]})
    return out


app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)
