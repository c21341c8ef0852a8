"""Skyloop's SageMaker serving container: the bring-your-own-container contract, nothing more.

SageMaker starts the image with ``serve``, unpacks model.tar.gz into /opt/ml/model and sends
``GET /ping`` and ``POST /invocations`` to port 8080. The model's own ``code/inference.py``
(what the deployer packs: Skyloop's serving core plus the container's four functions) does the
work, exactly as in the SageMaker scikit-learn image, so the deployer does not care which image
serves. Why this image exists: it is built with the very numpy, scipy and scikit-learn the train
function packs (infra/aws/package.py pins them in requirements.txt), so a joblib model always
loads where it is served. Standard library only: the libraries in the image are the model's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

MODEL_DIR = os.environ.get("SKYLOOP_MODEL_DIR", "/opt/ml/model")
PORT = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
MAX_BODY = 6 * 1024 * 1024  # SageMaker's real-time payload limit


def load_program(model_dir: str = MODEL_DIR) -> ModuleType:
    name = os.environ.get("SAGEMAKER_PROGRAM", "inference.py")
    spec = importlib.util.spec_from_file_location("skyloop_inference", os.path.join(model_dir, "code", name))
    if spec is None or spec.loader is None:
        raise RuntimeError(f"no {name} under {model_dir}/code")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Model:
    """Loaded once at start: a model that fails its hash check never answers /ping."""

    def __init__(self, model_dir: str = MODEL_DIR) -> None:
        self.program = load_program(model_dir)
        self.model = self.program.model_fn(model_dir)

    def invoke(self, body: bytes, content_type: str, accept: str) -> Any:
        rows = self.program.input_fn(body, content_type)
        return self.program.output_fn(self.program.predict_fn(rows, self.model), accept)


def handler_for(model: Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: str | bytes, content_type: str = "application/json") -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(200, "{}") if self.path == "/ping" else self._answer(404, '{"error": "not found"}')

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/invocations":
                return self._answer(404, '{"error": "not found"}')
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(413, '{"error": "payload above 6 MB"}')
            body = self.rfile.read(length)
            try:
                out = model.invoke(body, self.headers.get("Content-Type", "application/json"),
                                   self.headers.get("Accept", "application/json"))
            except (ValueError, KeyError, TypeError) as e:  # a request the model's schema refuses
                return self._answer(400, json.dumps({"error": f"{type(e).__name__}: {e}"}))
            except Exception:  # noqa: BLE001 - logged for CloudWatch, answered as a 500
                traceback.print_exc(file=sys.stderr)
                return self._answer(500, '{"error": "internal error"}')
            self._answer(200, out)

        def log_message(self, fmt: str, *args: Any) -> None:  # one line per request, to CloudWatch
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    return Handler


def main(argv: list[str]) -> None:
    if argv and argv[0] != "serve":
        raise SystemExit(f"this image only serves (got {argv[0]!r}); SageMaker starts it with 'serve'")
    # all interfaces inside the container, as SageMaker requires; tests bind 127.0.0.1
    server = ThreadingHTTPServer((os.environ.get("SKYLOOP_BIND", "0.0.0.0"), PORT), handler_for(Model()))
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
