"""What every Skyloop Lambda shares: Powertools, the adapters, and the one rule for errors.

The rule: a *permanent* Skyloop error (bad CSV, malformed event, unknown version)
is parked on the dead-letter queue with its reason and the invocation succeeds,
so Lambda does not retry what cannot work; a *transient* one is raised, so
Lambda's retries (async) or the SQS redrive (batch) try again.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from skyloop.clouds.instance import FunctionInstance
from skyloop.delivery import deliver, settle

SERVICE = "skyloop"
logger = Logger(service=SERVICE)


class Untraced:
    """The Tracer's decorators, doing nothing: what a function runs under when tracing is off.

    Powertools' Tracer imports the X-Ray SDK even when it is disabled, and the SDK's recorder
    builds a botocore client at import: about 250 ms of every cold start (bench/coldstart.py).
    So the SDK is loaded only where it is used: in a function whose tracing is switched on."""

    def capture_lambda_handler(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn

    def capture_method(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn


def tracing_on(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Powertools' own rule (Tracer._is_tracer_disabled): in Lambda, outside SAM local, unless
    POWERTOOLS_TRACE_DISABLED. The template sets that variable from its TracingMode parameter."""
    from aws_lambda_powertools.shared.functions import strtobool  # Powertools' own reading of the variable

    off = strtobool(env.get("POWERTOOLS_TRACE_DISABLED", "false"))
    return bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL") and not off


def _tracer() -> Any:
    if not tracing_on():
        return Untraced()
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


tracer = _tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Skyloop"), service=SERVICE)

def _aws_settings() -> Any:
    from skyloop.clouds.aws.config import AwsSettings

    return AwsSettings()


instance = FunctionInstance("aws", _aws_settings)  # built once per container, reused across invocations
aws_settings, adapters = instance.settings, instance.adapters


def reset() -> None:
    """Tests: forget the adapters and settings so new environment variables take effect."""
    instance.use(None, None)


def guarded(function: str, raw: Any, work: Callable[[], dict[str, Any]], **context: Any) -> dict[str, Any]:
    """The core delivery rule (skyloop.delivery), mapped onto Lambda: done -> the result; retry ->
    raise, so Lambda's retries (async) or the SQS redrive (batch) try again; dead-letter -> the
    event goes to the dead-letter queue with its reason and the invocation succeeds."""
    from skyloop.clouds.aws.sqs import dead_letter_event

    def park(error: BaseException) -> None:
        dead_letter_event(aws_settings(), raw, error, function)
        metrics.add_metric(name="DeadLettered", unit=MetricUnit.Count, value=1)

    return settle(deliver(work, {"function": function, **context}), park)


def handle(function: str, raw: Any, *kinds: type) -> dict[str, Any]:
    """What every event-driven entry point does: decode with the one AWS decoder, refuse what
    this function does not take, dispatch each event to its handler, answer."""
    def work() -> dict[str, Any]:
        from skyloop.clouds.aws.events import accept, to_domain
        from skyloop.handlers import dispatch

        a = adapters()
        events = accept(to_domain(raw, training_bucket=aws_settings().bucket, read=a.store.get), function, *kinds)
        if not events:
            return {"status": "ignored", "reason": "no Skyloop event in this notification"}
        return {"status": "ok", "results": [dispatch(e, a) for e in events]}

    return guarded(function, raw, work)


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
