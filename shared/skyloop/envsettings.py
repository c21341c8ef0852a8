"""Settings from environment variables, on pydantic alone.

pydantic-settings did this before. Its import (asyncio, python-dotenv, its CLI and
cloud-secret sources) cost about 100 ms of every cold start, a third of the AWS
detect entry point's init (bench/coldstart.py), for the one feature Skyloop uses:
prefixed variables, ``__`` between a group and its field, JSON for lists, dicts and
whole groups, names matched case-insensitively, values given to the constructor
deep-merged over the environment. That is this module; pydantic still validates
every value. ``tests/unit/test_envsettings.py`` holds it to pydantic-settings'
behaviour on the same variables.
"""

from __future__ import annotations

import json
import os
import types
import typing
from typing import Any, ClassVar, Mapping

from pydantic import BaseModel, ConfigDict

from .errors import InvalidSetting

_COMPLEX = (list, set, frozenset, tuple, dict, Mapping)


def _group(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _is_complex(annotation: Any) -> bool:
    """A value pydantic-settings reads as JSON: a group, a container, or a union holding one."""
    if _group(annotation):
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_complex(a) for a in typing.get_args(annotation) if a is not type(None))
    base = origin or annotation
    return isinstance(base, type) and issubclass(base, _COMPLEX)


def _merge(into: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(into)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, Mapping) else v
    return out


def env_values(model: type[BaseModel], env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """The values ``env`` (keys upper-cased) gives ``model``'s fields under ``prefix``."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = prefix + name.upper()
        if key in env:
            raw = env[key]
            try:
                out[name] = json.loads(raw) if _is_complex(field.annotation) else raw
            except json.JSONDecodeError as e:
                raise InvalidSetting(f"{key} must be JSON for this setting: {e.msg} at position {e.pos}") from None
        group = _group(field.annotation)
        if group is not None:
            nested = env_values(group, env, key + "__")
            if nested:
                base = out.get(name)
                out[name] = _merge(base, nested) if isinstance(base, dict) else nested
    return out


class EnvSettings(BaseModel):
    """A settings object whose fields default from ``<env_prefix><FIELD>`` variables."""

    model_config = ConfigDict(extra="ignore", validate_default=True)
    env_prefix: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        env = {k.upper(): v for k, v in os.environ.items() if k.upper().startswith(self.env_prefix)}
        super().__init__(**_merge(env_values(type(self), env, self.env_prefix), values))
