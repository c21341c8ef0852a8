"""Trigger: rows to score landed under ``batch/<group>/`` (or a ``BatchPredictionRequested``).

The group's production version scores them (or the version the event names), in chunks inside the
function, and the predictions land under ``predictions/<group>/`` with a manifest beside them: rows
in and out, the version and its artifact's sha256, the input's version, the time, and the rows left
out with why. Idempotent per input version: a redelivery returns the first manifest. A file the
model cannot score at all gets a manifest saying why, and is dead-lettered with that reason.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, NotSupported, SkyloopError
from ..events import BatchPredictionRequested
from ..once import once
from ..ports.batch import FAILED, outputs

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_batch(event: BatchPredictionRequested, adapters: "Adapters") -> dict[str, Any]:
    a = adapters
    if event.size is not None:  # refused before anything is read
        _fits(event.uri, event.size, a.settings.batch.max_in_function_bytes)
    data = None if event.version else a.store.get(event.uri)
    key = f"score:{event.uri}@{event.version}" if event.version else \
        "score:" + hashlib.sha256(event.uri.encode() + b"\0" + (data or b"")).hexdigest()
    return once(a.idempotency, key, lambda: _score(event, a, data))


def _fits(uri: str, size: int, limit: int) -> None:
    if size > limit:
        raise NotSupported(f"{uri} is {size:,} bytes, above the in-function limit of {limit:,}: a cloud's batch "
                           "service scores files this size, which this version does not run yet; split the file")


def _score(event: BatchPredictionRequested, a: "Adapters", data: bytes | None) -> dict[str, Any]:
    from ..ports.artifacts import load_verified
    from ..serving.batch import score_bytes

    s, group = a.settings.batch, str(event.model_group)
    pred_key, manifest_key = outputs(event.uri, group)
    base = {"input": event.uri, "input_version": event.version, "model_group": group,
            "at": datetime.now(timezone.utc).isoformat()}
    try:
        data = data if data is not None else a.store.get(event.uri)
        _fits(event.uri, len(data), s.max_in_function_bytes)  # an event that did not say its size
        mv = a.registry.get(group, event.model_version) if event.model_version else a.registry.alias(group, "production")
        if mv is None:
            raise NotFound(f"{group} has no production version to score with; name one (model_version)")
        bundle = load_verified(a.store, mv.artifact_uri, mv.artifact_sha256)
        t0 = time.perf_counter()
        scored = score_bytes(data, bundle, chunk_rows=s.chunk_rows)
    except SkyloopError as exc:
        if not exc.retryable:  # where the manifest would be: why there are no predictions; and told
            doc = {**base, "status": "failed", "error": exc.code, "reason": exc.reason}
            doc["manifest"] = a.store.put(manifest_key, json.dumps(doc, indent=2).encode())
            a.kv.put(FAILED + hashlib.sha256(f"{event.uri}@{event.version}".encode()).hexdigest()[:32],
                     json.dumps(doc).encode())
        raise
    predictions = a.store.put(pred_key, scored.data)
    refused = sorted(scored.refused.items())
    manifest = {**base, "status": "scored", "version": mv.version, "version_status": mv.status.value,
                "artifact_sha256": mv.artifact_sha256, "predictions": predictions, "rows_in": scored.rows_in,
                "rows_out": scored.rows_out, "refused": len(refused),
                "refused_rows": [{"line": line, "reason": why} for line, why in refused[: s.max_refusals_listed]],
                "seconds": round(time.perf_counter() - t0, 3)}
    written = a.store.put(manifest_key, json.dumps(manifest, indent=2).encode())
    return {"status": "scored", "predictions": predictions, "manifest": written, "version": mv.version,
            "rows_in": scored.rows_in, "rows_out": scored.rows_out, "refused": len(refused)}
