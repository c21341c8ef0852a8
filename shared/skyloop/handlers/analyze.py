"""Trigger: an image, text or audio file landed under ``ai/``, or an AI job it started finished."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import MediaArrived

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_media(event: MediaArrived, adapters: "Adapters") -> dict[str, Any]:
    from ..ai.uploads import analyze_upload
    from ..errors import NotSupported

    if adapters.ai is None:  # bootstrap always sets one; a hand-made bundle may not
        raise NotSupported("this adapter set has no AI services to analyse uploads with")
    return analyze_upload(event, store=adapters.store, idempotency=adapters.idempotency, ai=adapters.ai,
                          max_bytes=adapters.settings.ai.max_bytes, kv=adapters.kv)
