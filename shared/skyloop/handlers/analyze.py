"""Trigger: an image, text or audio file landed under ``ai/``, or an AI job it started finished."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import MediaArrived

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_media(event: MediaArrived, adapters: "Adapters") -> dict[str, Any]:
    from ..ai.providers import provider
    from ..ai.uploads import analyze_upload

    ai = adapters.ai if adapters.ai is not None else provider(adapters.settings.ai.provider)
    return analyze_upload(event, store=adapters.store, idempotency=adapters.idempotency, ai=ai,
                          max_bytes=adapters.settings.ai.max_bytes, kv=adapters.kv)
