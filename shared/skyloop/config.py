"""Settings: one validated object from ``SKYLOOP_*`` environment variables.

Nested groups use ``__`` (e.g. ``SKYLOOP_GUARDRAILS__MAX_REPLICAS=20``). A bad
value fails at start with pydantic's message instead of mid-incident.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, ClassVar, Mapping

from pydantic import BaseModel, Field, SecretStr, model_validator

from .envsettings import EnvSettings
from .events import Severity



class ApprovalGate(BaseModel):
    """The auto-approval policy's knobs; training/gate.py decides with them (and says how).
    Disabled by default: a person approves unless the operator opts in."""

    enabled: bool = False
    margin: float = 0.0
    min_score: float | None = None
    holdout_margin: float = 0.0
    require_holdout: bool = True
    max_segment_drop: float = Field(0.05, ge=0.0)


class TrainingSettings(BaseModel):
    folds: int = Field(5, ge=2, le=20)
    # In-function size rule, from bench/results/training.json (5-fold CV + final fit, 2 cores),
    # for a function of 3 GB and 15 minutes with a wide margin. Gradient boosting: 1M x 20 took
    # 40 s and 1.1 GiB peak, growing linearly: 32M cells (1.6M x 20) is about 70 s and 1.8 GiB.
    # The forest: 100k x 20 took 71 s and 0.5 GiB, growing faster than linearly (1M: 40 min):
    # 4M cells (200k x 20) is a few minutes. Above a limit, a dataset goes to a managed training
    # backend with the same code (none locally: refused with that reason).
    max_inline_bytes: int = 320 * 1024 * 1024
    max_inline_rows: int = 2_000_000
    max_inline_cells: int = 32_000_000
    max_inline_forest_cells: int = 4_000_000
    min_rows: int = 10
    # Share of each upload held back from CV and fitting: the gate's evidence that a candidate
    # beats production on the same unseen rows (0 turns it off; small datasets get none).
    holdout_fraction: float = Field(0.2, ge=0.0, le=0.5)


class DeploymentSettings(BaseModel):
    canary_percent: float = Field(10.0, gt=0, lt=100)
    smoke_rows: int = Field(8, ge=1)
    canary_requests: int = Field(50, ge=1)
    max_canary_error_rate: float = Field(0.0, ge=0, le=1)
    # Bake time: with it, a canary that passed its probes keeps its share of live traffic
    # this long, judged against production's records of the same minutes, before it is promoted
    # (CanaryPassed) or aborted through remediation (abort_canary). 0: promote after the probes.
    canary_bake_minutes: float = Field(0.0, ge=0)
    canary_min_minutes: int = Field(5, ge=1)  # minutes with canary traffic needed to pass
    # Window by window (detection/canary.py and twosample.py, as Kayenta does): a metric fails
    # when the canary is worse by more than the tolerance (a share of production's median)
    # with this confidence.
    canary_window_minutes: int = Field(10, ge=5)
    canary_confidence: float = Field(0.98, gt=0.5, lt=1)
    canary_tolerance: float = Field(0.2, ge=0)
    # How long a rollout step waits before it looks again at an endpoint still applying a change.
    poll_seconds: int = Field(30, ge=1, le=3600)
    # how many polls one step may wait (an endpoint that never settles): then the step fails and,
    # where it may, the rollout aborts; a workflow engine's loop had no bound
    max_polls: int = Field(120, ge=1)


class DetectionSettings(BaseModel):
    detector: str = "default"
    contamination: float = Field(0.1, gt=0, lt=0.5)
    z_threshold: float = Field(2.0, gt=0)
    # an incident: this many rows at MEDIUM, or one that stayed at least LOW this many rows after
    # it, or one CRITICAL row (detection/incidents.py: is_incident)
    min_incident_rows: int = Field(2, ge=1)
    merge_gap_rows: int = Field(3, ge=0)
    min_severity: Severity = Severity.MEDIUM
    recent_deploy_minutes: float = Field(30.0, ge=0)


class DriftSettings(BaseModel):
    psi: float = Field(0.2, gt=0)  # >= 0.2: a significant shift by common practice
    ks_alpha: float = Field(0.01, gt=0, lt=1)
    ks_min_d: float = Field(0.1, ge=0, le=1)
    min_rows: int = Field(50, ge=1)
    retrain: bool = True  # drift with newer labelled data named -> retrain on it


class TrackingSettings(BaseModel):
    """Where else runs are recorded. The registry is always the record; an MLflow
    tracking server or store (``sqlite:///mlflow.db``, ``http://host:5000``, or a
    ``file:`` store with MLflow's ``MLFLOW_ALLOW_FILE_STORE=true``) gets a mirror of it."""

    mlflow_uri: str | None = None
    mlflow_experiment_prefix: str = "skyloop/"  # one experiment per model group: "skyloop/churn"
    # where run artifacts (lineage.json) go for a local store; a server keeps its own default
    mlflow_artifact_root: str | None = None


class GuardrailSettings(BaseModel):
    allowed_actions: list[str] = ["scale_out", "restart_service", "clear_cache", "rollback_deployment", "abort_canary"]
    allowed_targets: list[str] = ["*"]
    cooldown_seconds: float = Field(300.0, ge=0)
    max_actions_per_window: int = Field(10, ge=1)
    window_seconds: float = Field(3600.0, gt=0)
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(10, ge=1)
    scale_step: int = Field(2, ge=1)
    # Destructive actions at or above this severity wait for a human.
    approval_severity: Severity = Severity.CRITICAL
    # a held request nobody decided within this long expires: audited, told, never carried out
    approval_ttl_minutes: float = Field(240.0, gt=0)
    destructive_actions: list[str] = ["restart_service", "rollback_deployment"]

    @model_validator(mode="after")
    def _bounds_in_order(self) -> "GuardrailSettings":
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        return self


class VerificationSettings(BaseModel):
    """After an action, the target's metrics must come back to their pre-incident normal
    (remediation/verification.py), or the incident escalates."""

    enabled: bool = True
    window_minutes: float = Field(15.0, gt=0)  # how long an action has to show its effect
    records: int = Field(3, ge=1)  # consecutive normal records that count as recovered
    tolerance: float = Field(4.0, gt=0)  # robust scales from the pre-incident median
    grace_seconds: float = Field(60.0, ge=0)  # records this soon after the action are not judged


class ServiceSpec(BaseModel):
    name: str
    kind: str = "web"
    replicas: int = Field(2, ge=0)
    model_group: str | None = None
    cache_entries: int = Field(1024, ge=0)


class AiSettings(BaseModel):
    """AI services on uploads (``ai/`` in the training store): which provider analyses them."""

    provider: str = "local"  # local | aws | gcp | azure (skyloop.bootstrap.ai_provider)
    max_bytes: int = Field(20 * 2**20, ge=1)  # larger media are refused with the reason, not read


class BatchSettings(BaseModel):
    """Batch scoring of uploads under ``batch/<group>/`` (skyloop.handlers.score)."""

    # above this the rows need a cloud's batch service (not run by this version): refused with why
    max_in_function_bytes: int = Field(256 * 2**20, ge=1)
    chunk_rows: int = Field(50_000, ge=1)  # memory stays flat: one chunk of rows at a time
    max_refusals_listed: int = Field(1000, ge=0)  # in the manifest; the count is always whole


class NotificationSettings(BaseModel):
    """Who is told, and how fast (skyloop.notify). The webhook URL and the routing key are secrets:
    the infrastructure passes them by reference (Secrets Manager, Secret Manager, Key Vault), and
    nothing logs them."""

    webhook_url: SecretStr | None = None  # a Slack-compatible incoming webhook
    pagerduty_routing_key: SecretStr | None = None  # PagerDuty Events API v2 integration key
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"  # overridable for tests
    max_per_minute: int = Field(30, ge=1)  # notices a minute; the rest wait for the next look, never dropped
    timeout_seconds: float = Field(5.0, gt=0)


class Settings(EnvSettings):
    env_prefix: ClassVar[str] = "SKYLOOP_"

    home: Path = Path(".skyloop")
    model_group: str = "default"
    dry_run: bool = False
    training: TrainingSettings = TrainingSettings()
    drift: DriftSettings = DriftSettings()
    deployment: DeploymentSettings = DeploymentSettings()
    detection: DetectionSettings = DetectionSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    verification: VerificationSettings = VerificationSettings()
    gate: ApprovalGate = ApprovalGate()
    tracking: TrackingSettings = TrackingSettings()
    ai: AiSettings = AiSettings()
    notifications: NotificationSettings = NotificationSettings()
    batch: BatchSettings = BatchSettings()
    # The local simulated fleet that remediation acts on (created if missing).
    fleet: list[ServiceSpec] = [ServiceSpec(name="api")]

    @property
    def db_path(self) -> Path:
        return self.home / "skyloop.db"

    @property
    def blob_root(self) -> Path:
        return self.home / "blobs"


# SKYLOOP_* variables that are not settings but are read elsewhere on purpose
OTHER_VARIABLES = {"SKYLOOP_AUDIT_KEY", "SKYLOOP_DEBUG", "SKYLOOP_ARTIFACT_SHA256", "SKYLOOP_WEBHOOK_TOKEN"}
OTHER_PREFIXES = ("SKYLOOP_AWS_", "SKYLOOP_GCP_", "SKYLOOP_AZURE_")  # each cloud's own settings


def setting_names(model: type[BaseModel] = Settings, prefix: str = "SKYLOOP_") -> list[str]:
    """Every environment variable a setting can be given by (nested groups joined by ``__``)."""
    names = []
    for name, field in model.model_fields.items():
        var = prefix + name.upper()
        names.append(var)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names += setting_names(ann, var + "__")
    return names


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """``SKYLOOP_*`` variables that set nothing (a typo is otherwise silently ignored), each
    with the closest real name."""
    env = os.environ if environ is None else environ
    known = setting_names()
    out = []
    for key in sorted(env):
        k = key.upper()
        if not k.startswith("SKYLOOP_") or k in OTHER_VARIABLES or k.startswith(OTHER_PREFIXES):
            continue
        if k in known:
            continue
        close = difflib.get_close_matches(k, known, n=1, cutoff=0.6)
        out.append((key, close[0] if close else None))
    return out


def describe_validation_error(exc: Any) -> str:
    """pydantic's multi-line report as one line that names the variable to fix."""
    parts = []
    for e in exc.errors()[:3]:
        loc = [str(x) for x in e.get("loc", ()) if not isinstance(x, int)]
        var = "SKYLOOP_" + "__".join(loc).upper() if loc else "a SKYLOOP_* setting"
        got = e.get("input")
        shown = f" (got {str(got)[:40]!r})" if isinstance(got, (str, int, float)) else ""
        parts.append(f"{var}: {e.get('msg', 'invalid')}{shown}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
