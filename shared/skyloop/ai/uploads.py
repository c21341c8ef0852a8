"""AI services on uploads: a file that lands under ``ai/`` is analysed by the configured provider
and the result is written beside it as ``<name>.skyloop-ai.json``. The same function runs for
every cloud's storage trigger and for the local folder; only the store differs.

Idempotent by object version: a redelivered notification returns the first result, a new version
of the same name is analysed again. A file that cannot be analysed (unknown kind, too large, not
an image, an operation the provider lacks) is a typed refusal, dead-lettered with its reason by
the delivery rule.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any

from ..errors import InvalidRequest
from ..events import MediaArrived

AI_PREFIX = "ai/"  # uploads here are analysed, not trained on
AI_RESULT = ".skyloop-ai.json"  # what the analysis writes beside each upload
KINDS = {**{e: "image" for e in (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")},
         ".txt": "text", **{e: "speech" for e in (".wav", ".mp3", ".flac", ".ogg")}}


def is_media(name: str) -> bool:
    """An upload for the AI services: under ``ai/``, and not a result Skyloop wrote there."""
    return name.startswith(AI_PREFIX) and not name.endswith(AI_RESULT)


def result_uri(uri: str) -> str:
    return uri + AI_RESULT


def analyze_upload(event: MediaArrived, *, store: Any, idempotency: Any, ai: Any, max_bytes: int) -> dict[str, Any]:
    from ..handlers._once import once

    kind = KINDS.get(PurePosixPath(event.uri.split("?", 1)[0]).suffix.lower())
    if kind is None:
        raise InvalidRequest(f"{event.uri}: not a file the AI services analyse (images, .txt, audio)")
    if event.size is not None and event.size > max_bytes:
        raise InvalidRequest(f"{event.uri} is {event.size} bytes, above the {max_bytes}-byte limit for analysis")

    def run(data: bytes) -> dict[str, Any]:
        if len(data) > max_bytes:
            raise InvalidRequest(f"{event.uri} is {len(data)} bytes, above the {max_bytes}-byte limit for analysis")
        if kind == "image":
            result = ai.analyze_image(data)
        elif kind == "text":
            try:
                result = ai.analyze_text(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidRequest(f"{event.uri} is not UTF-8 text") from None
        else:
            result = ai.transcribe(data, media_format=PurePosixPath(event.uri).suffix.lstrip("."))
        doc = {"source": event.uri, "version": event.version, "kind": kind, "provider": ai.name,
               "result": result.model_dump(mode="json", exclude={"audio"})}
        written = store.put(result_uri(event.uri), json.dumps(doc, indent=2, sort_keys=True).encode())
        return {"status": "analysed", "kind": kind, "provider": ai.name, "result_uri": written}

    if event.version:
        key = "ai:" + hashlib.sha256(f"{event.uri}|{event.version}".encode()).hexdigest()
        return once(idempotency, key, lambda: run(store.get(event.uri)))
    data = store.get(event.uri)  # no version in the event: the content names the work
    key = "ai:" + hashlib.sha256(event.uri.encode() + b"\0" + data).hexdigest()
    return once(idempotency, key, lambda: run(data))
