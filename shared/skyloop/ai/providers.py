"""Which AI provider a name means: the local default (open tools, offline) or a cloud's AI services.
A cloud whose SDK is missing is a typed refusal naming the extra, never a silent fall back."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import CloudUnavailable

PROVIDERS = ("local", "aws", "gcp", "azure")
# cloud -> (its AI module and class, its settings module and class)
CLOUD_AI = {"aws": ("AwsAI", "AwsSettings"), "gcp": ("GcpAI", "GcpSettings"), "azure": ("AzureAI", "AzureSettings")}


def provider(name: str = "local") -> Any:
    if name == "local":
        from .local import LocalAI

        return LocalAI()
    if name in CLOUD_AI:
        from ..clouds import cloud

        cloud(name)  # the SDK is installed, or one reason naming the extra
        ai_class, settings_class = CLOUD_AI[name]
        settings = getattr(importlib.import_module(f"skyloop.clouds.{name}.config"), settings_class)()
        return getattr(importlib.import_module(f"skyloop.clouds.{name}.ai"), ai_class)(settings)
    raise CloudUnavailable(f"unknown AI provider {name!r}; known: {', '.join(PROVIDERS)}")
