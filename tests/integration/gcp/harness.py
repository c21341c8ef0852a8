"""What the GCP function tests share: a deployed-like environment (the real GCS and Pub/Sub
emulators, Vertex AI, Cloud Monitoring, Cloud Run and Workflows faked at their clients), Eventarc's
delivery of a CloudEvent to a function (binary mode over HTTP, through functions-framework's own
app), a Pub/Sub message as Eventarc wraps it, and a small interpreter for the rollout workflow.

The interpreter runs the subset of the Cloud Workflows language that
``skyloop.clouds.gcp.workflows`` generates (assign, switch, next, return, raise, try/retry/except,
``http.post``, ``sys.sleep``, ``sys.get_env``, ``map.get``, ``default``, ``in``), with the
documented semantics: an HTTP answer outside 2xx raises a map with ``code`` and ``body``, and
``http.default_retry_predicate`` retries 429, 502, 503 and 504. Not modelled: the rest of the
language, OIDC tokens, and the time a real sleep takes (sleeps are counted, not slept)."""

from __future__ import annotations

import base64
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[3]
MAIN = ROOT / "functions" / "gcp" / "main.py"
EVENTS = ROOT / "events" / "gcp"


def app(target: str, adapters: Any, gcp: Any) -> Any:
    """functions-framework's own app for ``target``, on these adapters (it loads main.py afresh)."""
    import functions_framework

    signature = "http" if target == "rollout_step" else "cloudevent"
    flask_app = functions_framework.create_app(target=target, source=str(MAIN), signature_type=signature)
    sys.modules["main"].use(adapters, gcp)
    return flask_app.test_client()


def deliver(target: str, raw: dict[str, Any], adapters: Any, gcp: Any) -> Any:
    """POST a structured CloudEvent as Eventarc does: binary mode, attributes as ce- headers."""
    headers = {f"ce-{k}": str(v) for k, v in raw.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = raw.get("datacontenttype", "application/json")
    return app(target, adapters, gcp).post("/", headers=headers, data=json.dumps(raw.get("data")))


def pubsub_cloudevent(message: Any, subscription: str, topic: str) -> dict[str, Any]:
    """A pulled Pub/Sub message as Eventarc's ``messagePublished`` CloudEvent."""
    published = message.publish_time
    when = (published if isinstance(published, datetime) else datetime.now(timezone.utc)).isoformat()
    return {"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": f"//pubsub.googleapis.com/{topic}", "id": message.message_id, "time": when,
            "datacontenttype": "application/json",
            "data": {"subscription": subscription, "message": {
                "data": base64.b64encode(message.data).decode(), "attributes": dict(message.attributes),
                "messageId": message.message_id, "publishTime": when}}}


def finalized(bucket: str, blob: Any) -> dict[str, Any]:
    """An object's finalize CloudEvent, from the object resource GCS keeps (int64 fields as strings)."""
    blob.reload()
    return {"specversion": "1.0", "type": "google.cloud.storage.object.v1.finalized",
            "source": f"//storage.googleapis.com/projects/_/buckets/{bucket}", "subject": f"objects/{blob.name}",
            "id": f"{blob.generation}", "time": datetime.now(timezone.utc).isoformat(), "bucket": bucket,
            "datacontenttype": "application/json",
            "data": {"kind": "storage#object", "bucket": bucket, "name": blob.name, "generation": str(blob.generation),
                     "metageneration": str(blob.metageneration), "size": str(blob.size),
                     "contentType": blob.content_type or "text/csv"}}


class WorkflowError(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__(json.dumps(value, default=str)[:500])
        self.value = value


RETRIED = {429, 502, 503, 504}


class Workflow:
    """Runs a generated workflow; ``post(url, body) -> (status, json)`` is the HTTP edge."""

    def __init__(self, source: dict[str, Any], post: Callable[[str, Any], tuple[int, Any]], env: dict[str, str]) -> None:
        self.source, self.post, self.env = source, post, env
        self.sleeps: list[float] = []
        self.calls = 0

    def run(self, args: Any) -> Any:
        main = self.source["main"]
        scope = {main["params"][0]: args}
        return self._steps(main["steps"], scope)[1]

    # -- expressions -------------------------------------------------------------------
    def _eval(self, value: Any, scope: dict[str, Any]) -> Any:
        if isinstance(value, dict):
            return {k: self._eval(v, scope) for k, v in value.items()}
        if isinstance(value, list):
            return [self._eval(v, scope) for v in value]
        if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
            return self._expr(value[2:-1], scope)
        return value

    def _expr(self, text: str, scope: dict[str, Any]) -> Any:
        env = {"default": lambda v, d: d if v is None else v, "sys_get_env": lambda k: self.env.get(k),
               "map_get": lambda m, k: m.get(k) if isinstance(m, dict) else None}
        py = text.replace("sys.get_env(", "sys_get_env(").replace("map.get(", "map_get(")
        py = re.sub(r"(?<![\w.\"])([A-Za-z_]\w*)((?:\.\w+)+)", lambda m: m.group(1) + "".join(
            f"[{json.dumps(p)}]" for p in m.group(2)[1:].split(".")), py)
        return eval(py, {"__builtins__": {}}, {**env, **scope})  # noqa: S307 - the generated, trusted subset

    def _assign(self, target: str, value: Any, scope: dict[str, Any]) -> None:
        parts = target.split(".")
        obj = scope
        for p in parts[:-1]:
            obj = obj[p]
        obj[parts[-1]] = value

    # -- steps ----------------------------------------------------------------------------
    def _steps(self, steps: list[dict[str, Any]], scope: dict[str, Any]) -> tuple[str, Any]:
        """Run steps; returns ("return", value), or ("next", name) for a jump this list lacks."""
        names = [next(iter(s)) for s in steps]
        i = 0
        while i < len(steps):
            name = names[i]
            kind, value = self._step(steps[i][name], scope)
            if kind == "return":
                return kind, value
            if kind == "next":
                if value in names:
                    i = names.index(value)
                    continue
                return kind, value
            i += 1
        return "end", None

    def _step(self, body: dict[str, Any], scope: dict[str, Any]) -> tuple[str, Any]:
        if "assign" in body:
            for pair in body["assign"]:
                for k, v in pair.items():
                    self._assign(k, self._eval(v, scope), scope)
        if "switch" in body:
            for case in body["switch"]:
                if self._eval(case["condition"], scope):
                    if "steps" in case:
                        kind, value = self._steps(case["steps"], scope)
                        if kind != "end":
                            return kind, value
                    if "return" in case:
                        return "return", self._eval(case["return"], scope)
                    if "next" in case:
                        return "next", case["next"]
                    break
        if "try" in body:
            return self._try(body, scope)
        if "call" in body:
            self._call(body, scope)
        if "raise" in body:
            raise WorkflowError(self._eval(body["raise"], scope))
        if "return" in body:
            return "return", self._eval(body["return"], scope)
        if "next" in body:
            return "next", body["next"]
        return "end", None

    def _call(self, body: dict[str, Any], scope: dict[str, Any]) -> None:
        args = self._eval(body.get("args", {}), scope)
        if body["call"] == "sys.sleep":
            self.sleeps.append(float(args["seconds"]))
            return
        assert body["call"] == "http.post" and args["auth"] == {"type": "OIDC"}, body
        self.calls += 1
        status, answer = self.post(args["url"], args["body"])
        if not 200 <= status < 300:
            raise WorkflowError({"code": status, "body": answer, "message": f"HTTP {status}"})
        self._assign(body["result"], {"code": status, "body": answer}, scope)

    def _try(self, body: dict[str, Any], scope: dict[str, Any]) -> tuple[str, Any]:
        retry = body.get("retry", {})
        attempts = 1 + int(retry.get("max_retries", 0))
        for attempt in range(attempts):
            try:
                return self._step(body["try"], scope)
            except WorkflowError as e:
                code = e.value.get("code") if isinstance(e.value, dict) else None
                if retry and code in RETRIED and attempt + 1 < attempts:
                    self.sleeps.append(float(retry["backoff"]["initial_delay"]))
                    continue
                if "except" not in body:
                    raise
                scope[body["except"]["as"]] = e.value
                kind, value = self._steps(body["except"]["steps"], scope)
                return (kind, value) if kind != "end" else ("end", None)
        raise AssertionError("unreachable")
