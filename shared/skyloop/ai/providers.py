"""Which AI provider a name means. Only the local one is built so far; a cloud's is a typed
refusal that says so (issue 18), never a silent fall back to another provider."""

from __future__ import annotations

from typing import Any

from ..errors import CloudUnavailable

PROVIDERS = ("local", "aws", "gcp", "azure")


def provider(name: str = "local") -> Any:
    if name == "local":
        from .local import LocalAI

        return LocalAI()
    if name in PROVIDERS:
        raise CloudUnavailable(f"the {name} AI services adapter is not built yet (issue 18); --provider local runs offline")
    raise CloudUnavailable(f"unknown AI provider {name!r}; known: {', '.join(PROVIDERS)}")
