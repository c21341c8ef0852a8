"""Skyloop's settings loader against pydantic-settings, which it replaced for cold-start time.

Each case sets the same variables for both and asserts the same validated object (or that
both refuse). pydantic-settings is a [dev] dependency for this test only.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError

from skyloop.clouds.aws.config import AwsSettings
from skyloop.config import Settings, describe_validation_error
from skyloop.envsettings import EnvSettings
from skyloop.errors import InvalidSetting

pydantic_settings = pytest.importorskip("pydantic_settings")


def _reference(model: type[EnvSettings]) -> type:
    """The same fields on pydantic-settings' BaseSettings, configured as the classes were before."""
    fields = model.model_fields
    return type(f"Ref{model.__name__}", (pydantic_settings.BaseSettings,), {
        "model_config": pydantic_settings.SettingsConfigDict(
            env_prefix=model.env_prefix, env_nested_delimiter="__", extra="ignore"),
        "__annotations__": {n: f.annotation for n, f in fields.items()},
        **dict(fields)})


CASES: list[tuple[type[EnvSettings], dict[str, str], dict[str, Any]]] = [
    (Settings, {}, {}),
    (Settings, {"SKYLOOP_DRY_RUN": "true", "SKYLOOP_HOME": "/tmp/h", "SKYLOOP_MODEL_GROUP": "churn"}, {}),
    (Settings, {"skyloop_dry_run": "1", "Skyloop_Guardrails__Max_Replicas": "20"}, {}),  # any case
    (Settings, {"SKYLOOP_GUARDRAILS__MAX_REPLICAS": "20", "SKYLOOP_GUARDRAILS__COOLDOWN_SECONDS": "5.5",
                "SKYLOOP_DETECTION__MIN_SEVERITY": "high", "SKYLOOP_TRAINING__FOLDS": "3"}, {}),
    (Settings, {"SKYLOOP_GUARDRAILS": '{"max_replicas": 30, "scale_step": 3}',
                "SKYLOOP_GUARDRAILS__MIN_REPLICAS": "2"}, {}),  # a whole group as JSON, one field beside it
    (Settings, {"SKYLOOP_GUARDRAILS__ALLOWED_ACTIONS": '["scale_out"]',
                "SKYLOOP_FLEET": '[{"name": "web", "replicas": 4}, {"name": "db", "kind": "db"}]'}, {}),
    (Settings, {"SKYLOOP_GUARDRAILS__MIN_REPLICAS": "3"}, {"guardrails": {"max_replicas": 4}}),  # deep merge
    (Settings, {"SKYLOOP_DRY_RUN": "true"}, {"dry_run": False}),  # the constructor wins
    (Settings, {"SKYLOOP_TRACKING__MLFLOW_URI": "sqlite:///m.db", "SKYLOOP_NOT_A_SETTING": "x",
                "SKYLOOP_GUARDRAILS__NOT_A_FIELD": "y", "OTHER": "z"}, {}),  # unknown names ignored
    (Settings, {"SKYLOOP_GUARDRAILS__MAX_REPLICAS": "many"}, {}),  # refused by both
    (Settings, {"SKYLOOP_GUARDRAILS__MIN_REPLICAS": "9", "SKYLOOP_GUARDRAILS__MAX_REPLICAS": "2"}, {}),  # validator
    (Settings, {"SKYLOOP_DEPLOYMENT__CANARY_PERCENT": "100"}, {}),  # a bound
    (AwsSettings, {}, {}),
    (AwsSettings, {"SKYLOOP_AWS_TARGETS": '{"api": {"cluster": "prod", "service": "api", "model_group": ""}}',
                   "SKYLOOP_AWS_ENDPOINT_WAIT_SECONDS": "0", "SKYLOOP_AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
                   "SKYLOOP_AWS_TRAINING_VOLUME_GB": "80"}, {}),
    (AwsSettings, {"SKYLOOP_AWS_ENDPOINT_WAIT_SECONDS": "-1"}, {}),
]


def _build(cls: type, kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", cls(**kwargs).model_dump()
    except (ValidationError, ValueError) as e:
        return "refused", type(e).__name__


@pytest.mark.parametrize("model,env,kwargs", CASES)
def test_same_settings_as_pydantic_settings(model: type[EnvSettings], env: dict[str, str], kwargs: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.upper().startswith("SKYLOOP_"):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ours, theirs = _build(model, kwargs), _build(_reference(model), kwargs)
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "ok":
        assert ours[1] == theirs[1]


def test_the_refusal_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYLOOP_GUARDRAILS__MAX_REPLICAS", "many")
    with pytest.raises(ValidationError) as e:
        Settings()
    assert describe_validation_error(e.value).startswith("SKYLOOP_GUARDRAILS__MAX_REPLICAS:")


def test_bad_json_is_a_clear_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYLOOP_FLEET", "[{name: web}]")
    with pytest.raises(InvalidSetting, match="SKYLOOP_FLEET must be JSON") as e:
        Settings()
    assert e.value.code == "invalid_setting"
