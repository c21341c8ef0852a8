"""The local model endpoint: JSON predictions over HTTP, routed by traffic weight.

Binds 127.0.0.1 unless told otherwise, caps the request body, validates rows
against the model's schema, and answers errors with a code and a one-line
reason, never a traceback.

    POST /v1/models/<group>:predict   {"instances": [{"f1": 1.0, ...}]}
    -> {"predictions": [...], "version": 3, "slot": "production"}
    GET  /v1/models/<group>           slots and traffic
    GET  /healthz
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import InvalidRequest, NotFound, SkyloopError
from .deployer import LocalDeployer

log = logging.getLogger("skyloop.endpoint")
MAX_BODY_BYTES = 1024 * 1024


def make_server(deployer: LocalDeployer, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "skyloop"
        sys_version = ""

        def log_message(self, fmt: str, *args: Any) -> None:  # route access logs to logging
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/healthz":
                return self._send(200, {"status": "ok"})
            if self.path.startswith("/v1/models/"):
                group = self.path[len("/v1/models/"):]
                slots = deployer.slots(group)
                if not slots:
                    return self._send(404, {"error": "not_found", "reason": f"model {group} is not deployed"})
                return self._send(200, {"model_group": group, "slots": slots, "traffic": deployer.traffic(group)})
            self._send(404, {"error": "not_found", "reason": "no such route"})

        def do_POST(self) -> None:  # noqa: N802
            if not (self.path.startswith("/v1/models/") and self.path.endswith(":predict")):
                return self._send(404, {"error": "not_found", "reason": "no such route"})
            group = self.path[len("/v1/models/"):-len(":predict")]
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return self._send(400, {"error": "invalid_request", "reason": "bad Content-Length"})
            if length > MAX_BODY_BYTES:
                self.close_connection = True  # the unread body must not be parsed as a next request
                return self._send(413, {"error": "too_large", "reason": f"body above {MAX_BODY_BYTES} bytes"})
            try:
                body = json.loads(self.rfile.read(length) or b"null")
                if not isinstance(body, dict) or "instances" not in body:
                    raise InvalidRequest('body must be {"instances": [...]}')
                result = deployer.predict_detailed(group, body["instances"], body.get("slot"))
                self._send(200, result)
            except (ValueError, InvalidRequest) as exc:
                reason = exc.reason if isinstance(exc, SkyloopError) else "body is not valid JSON"
                self._send(400, {"error": "invalid_request", "reason": reason})
            except NotFound as exc:
                self._send(404, {"error": "not_found", "reason": exc.reason})
            except SkyloopError as exc:
                log.warning("predict refused", extra={"model_group": group, "error": exc.code})
                self._send(503, {"error": exc.code, "reason": exc.reason})
            except Exception:  # never echo internals
                log.exception("predict failed", extra={"model_group": group})
                self._send(500, {"error": "internal", "reason": "prediction failed"})

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(deployer: LocalDeployer, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = make_server(deployer, host, port)
    t = threading.Thread(target=server.serve_forever, name="skyloop-endpoint", daemon=True)
    t.start()
    return server, t
