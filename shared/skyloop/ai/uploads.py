"""AI services on uploads: a file that lands under ``ai/`` is analysed by the configured provider
and the result is written beside it as ``<name>.skyloop-ai.json``. The same function runs for
every cloud's storage trigger and for the local folder; only the store differs.

Idempotent by object version: a redelivered notification returns the first result, a new version
of the same name is analysed again. A file that cannot be analysed (unknown kind, too large, not
an image, an operation the provider lacks) is a typed refusal, dead-lettered with its reason by
the delivery rule.

Long audio is an asynchronous job on a provider that has one (AWS Transcribe). The upload's result
is then written as ``"status": "running"`` with the job id, and the upload is noted as waiting on
the job in the key-value store. The job's own output landing under ``transcribe/`` is the
completion event: it comes to the same function, which finishes every upload waiting on that job
(a function cannot sit out a job that takes minutes, and polling would cost a schedule).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any

from ..errors import InvalidRequest, SkyloopError
from ..events import MediaArrived
from ..ports.ai import KINDS, result_uri

WAITING = "ai-job/"  # key-value store: the uploads waiting on a provider's job


def analyze_upload(event: MediaArrived, *, store: Any, idempotency: Any, ai: Any, max_bytes: int,
                   kv: Any = None) -> dict[str, Any]:
    from ..once import once

    job_of = getattr(ai, "job_of", None)
    job = job_of(event.uri) if job_of is not None else None
    if job is not None:
        return finish_job(job, store=store, ai=ai, max_bytes=max_bytes, kv=kv)
    kind = KINDS.get(PurePosixPath(event.uri.split("?", 1)[0]).suffix.lower())
    if kind is None:
        raise InvalidRequest(f"{event.uri}: not a file the AI services analyse (images, .txt, audio)")
    if event.size is not None and event.size > max_bytes:
        raise InvalidRequest(f"{event.uri} is {event.size} bytes, above the {max_bytes}-byte limit for analysis")

    def run(data: bytes) -> dict[str, Any]:
        return _analyse(event.uri, event.version, kind, data, store=store, ai=ai, max_bytes=max_bytes, kv=kv)

    if event.version:
        key = "ai:" + hashlib.sha256(f"{event.uri}|{event.version}".encode()).hexdigest()
        return once(idempotency, key, lambda: run(store.get(event.uri)))
    data = store.get(event.uri)  # no version in the event: the content names the work
    key = "ai:" + hashlib.sha256(event.uri.encode() + b"\0" + data).hexdigest()
    return once(idempotency, key, lambda: run(data))


def _analyse(uri: str, version: str | None, kind: str, data: bytes, *, store: Any, ai: Any, max_bytes: int,
             kv: Any) -> dict[str, Any]:
    if len(data) > max_bytes:
        raise InvalidRequest(f"{uri} is {len(data)} bytes, above the {max_bytes}-byte limit for analysis")
    if kind == "image":
        result = ai.analyze_image(data)
    elif kind == "text":
        try:
            result = ai.analyze_text(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidRequest(f"{uri} is not UTF-8 text") from None
    else:
        result = ai.transcribe(data, media_format=PurePosixPath(uri).suffix.lstrip(".").lower())
    job = getattr(result, "job_id", None)
    if job:
        if kv is None:
            raise InvalidRequest(f"{uri}: the {ai.name} provider answers with a job, and this runtime has "
                                 "no state store to wait on it")
        _wait_on(kv, job, uri, version)
    doc = {"source": uri, "version": version, "kind": kind, "provider": ai.name, "status": "running" if job else "done",
           "result": result.model_dump(mode="json", exclude={"audio"})}
    written = store.put(result_uri(uri), json.dumps(doc, indent=2, sort_keys=True).encode())
    return {"status": "running" if job else "analysed", "kind": kind, "provider": ai.name, "result_uri": written,
            **({"job_id": job} if job else {})}


def _wait_on(kv: Any, job: str, uri: str, version: str | None) -> None:
    from ..ports.kv import update

    def add(cur: bytes | None) -> bytes:
        waiting = [w for w in json.loads(cur or b"[]") if w["uri"] != uri]
        return json.dumps(waiting + [{"uri": uri, "version": version}], sort_keys=True).encode()

    update(kv, WAITING + job, add)


def finish_job(job: str, *, store: Any, ai: Any, max_bytes: int, kv: Any) -> dict[str, Any]:
    """A job's output landed: every upload waiting on it gets its final result and leaves the
    list, so a redelivered output event finds nothing waiting. An upload whose job still reads as
    running stays on the list (its result stays "running"); one deleted meanwhile leaves it."""
    from ..ports.kv import update

    raw = kv.get(WAITING + job) if kv is not None else None
    waiting = json.loads(raw) if raw else []
    finished, settled, running = [], set(), 0
    for w in waiting:
        if not store.exists(w["uri"]):
            settled.add(w["uri"])  # the upload was deleted while its job ran: nothing to write beside
            continue
        try:
            out = _analyse(w["uri"], w.get("version"), "speech", store.get(w["uri"]), store=store, ai=ai,
                           max_bytes=max_bytes, kv=kv)
        except SkyloopError as exc:
            if exc.retryable:
                raise
            # the job failed (Transcribe's reason): the upload's result says so, and it is settled
            doc = {"source": w["uri"], "version": w.get("version"), "kind": "speech", "provider": ai.name,
                   "status": "failed", "error": exc.code, "reason": exc.reason}
            finished.append(store.put(result_uri(w["uri"]), json.dumps(doc, indent=2, sort_keys=True).encode()))
            settled.add(w["uri"])
            continue
        if out["status"] == "running":
            running += 1
        else:
            finished.append(out["result_uri"])
            settled.add(w["uri"])
    if settled:
        update(kv, WAITING + job, lambda cur: json.dumps(
            [w for w in json.loads(cur or b"[]") if w["uri"] not in settled], sort_keys=True).encode())
    status = "finished" if finished else "still running" if running else "nothing waiting"
    return {"status": status, "job_id": job, "results": finished}
