"""Typed errors shared by every handler.

Each error says whether retrying can help (`retryable`), because that single
bit decides what a batch handler does with the message: retry with backoff, or
dead-letter it with the one-line reason carried by ``str(error)``.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """Control characters escaped: a reason often quotes input (a group name, a header),
    and a newline in it must not forge a second log line or dead-letter record."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class SkyloopError(Exception):
    """Base class: a one-line, user-facing reason, safe to log and to show."""

    retryable: bool = False
    code: str = "skyloop_error"

    def __init__(self, reason: str, **context: object) -> None:
        reason = one_line(str(reason))
        super().__init__(reason)
        self.reason = reason
        self.context = context

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "reason": self.reason, **{k: str(v) for k, v in self.context.items()}}


class InvalidEvent(SkyloopError):
    """The event does not parse into any domain event we know."""

    code = "invalid_event"


class InvalidSetting(SkyloopError):
    """A SKYLOOP_* variable cannot be read (pydantic's own ValidationError covers bad values)."""

    code = "invalid_setting"


class InvalidDataset(SkyloopError):
    """A training CSV failed validation; registration must not happen."""

    code = "invalid_dataset"


class InvalidRequest(SkyloopError):
    """A prediction request does not match the model's input schema."""

    code = "invalid_request"


class InvalidMetrics(SkyloopError):
    """Metric records are malformed (no numeric columns, bad timestamps ...)."""

    code = "invalid_metrics"


class ArtifactIntegrityError(SkyloopError):
    """An artifact's bytes do not match the sha256 the registry vouches for."""

    code = "artifact_integrity"


class NotFound(SkyloopError):
    code = "not_found"


class ForeignModel(NotFound):
    """The registry holds this version, but Skyloop did not register it (another team's model in
    a shared registry): not Skyloop's to deploy, and not an error to dead-letter either."""

    code = "foreign_model"


class StateConflict(SkyloopError):
    """The requested transition is not allowed from the current state."""

    code = "state_conflict"


class GuardrailViolation(SkyloopError):
    """A remediation was refused by policy (allow-list, bounds, cooldown, rate)."""

    code = "guardrail_violation"


class UnknownAction(SkyloopError):
    code = "unknown_action"


class TrainingFailed(SkyloopError):
    """A managed training job failed or stopped; nothing was registered."""

    code = "training_failed"


class DeploymentFailed(SkyloopError):
    """Staging smoke test or canary check failed; the rollout was rolled back."""

    code = "deployment_failed"


class ModelRefused(DeploymentFailed):
    """The candidate itself failed a judgement of its own behaviour (its smoke tests, its canary):
    the one deployment failure that rejects the version. A platform fault (a timeout, a quota, an
    image that cannot load the model, an endpoint that never settles) rolls back and leaves the
    version APPROVED, to be redeployed once the fault is fixed."""

    code = "model_refused"


class TrackingUnavailable(SkyloopError):
    """The MLflow mirror could not be written (not installed, unreachable, refused).
    The registry, which is the record, is unaffected."""

    code = "tracking_unavailable"


class ValueTooLarge(SkyloopError):
    """A state value above the key-value store's stated limit: refused, never truncated."""

    code = "value_too_large"


class NotSupported(SkyloopError):
    """A provider or runtime lacks an operation, a feature or a model family (an AI provider's
    language, AutoML outside Vertex AI, loading a model a cloud service serves itself): the reason
    names what does have it, where something does."""

    code = "not_supported"


class CloudUnavailable(SkyloopError):
    """A cloud's adapters were asked for but cannot be built here: an unknown name, a cloud this
    version does not ship, or its SDK extra not installed (the reason names the pip command)."""

    code = "cloud_unavailable"


class AccessDenied(SkyloopError):
    """The function's identity may not make a call: a grant is missing. Retrying cannot help, so
    it is refused at once, naming the permission and where the infrastructure grants it."""

    code = "access_denied"


class ChannelRefused(SkyloopError):
    """A notification channel refused a notice for good (a 4xx: a revoked webhook, a bad routing key):
    dead-lettered with the reason, never retried, and never in the way of the pipeline's work."""

    code = "channel_refused"


class TransientError(SkyloopError):
    """Worth retrying: a dependency was busy or briefly unavailable."""

    retryable = True
    code = "transient"


class StaleState(TransientError):
    """A compare-and-set write lost: another writer changed the value since it was read."""

    code = "stale_state"


class EndpointBusy(TransientError):
    """A serving endpoint is still applying an earlier change and refuses another one now."""

    code = "endpoint_busy"


class InProgress(TransientError):
    """Another worker holds the idempotency record for this event right now."""

    code = "in_progress"
