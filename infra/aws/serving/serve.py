"""Skyloop's serving container: SageMaker's bring-your-own-container contract and Vertex AI's
custom-container contract, nothing more.

SageMaker starts the image with ``serve``, unpacks model.tar.gz into /opt/ml/model and sends
``GET /ping`` and ``POST /invocations`` to port 8080. The model's own ``code/inference.py``
(what the deployer packs: Skyloop's serving core plus the container's four functions) does the
work, exactly as in the SageMaker scikit-learn image, so the deployer does not care which image
serves. Why this image exists: it is built with the very numpy, scipy and scikit-learn the train
function packs (infra/aws/package.py pins them in requirements.txt), so a joblib model always
loads where it is served. Standard library only: the libraries in the image are the model's.

On Vertex AI (``AIP_*`` variables set) the same files, ``model.joblib`` and ``code/inference.py``,
are in the Cloud Storage folder ``AIP_STORAGE_URI``: they are fetched with the service account's
token from the metadata server (or from ``STORAGE_EMULATOR_HOST`` in tests), and the server
answers ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE`` on ``AIP_HTTP_PORT``. Vertex sends
``{"instances": [...]}`` and reads ``{"predictions": [...]}``, which the serving core speaks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import traceback
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

MODEL_DIR = os.environ.get("SKYLOOP_MODEL_DIR", "/opt/ml/model")
PORT = int(os.environ.get("AIP_HTTP_PORT") or os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
HEALTH_ROUTE = os.environ.get("AIP_HEALTH_ROUTE", "/ping")
PREDICT_ROUTE = os.environ.get("AIP_PREDICT_ROUTE", "/invocations")
MAX_BODY = 6 * 1024 * 1024  # SageMaker's real-time payload limit (Vertex's is 1.5 MB)
MODEL_FILES = ("model.joblib", "code/inference.py")
METADATA_TOKEN = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"


def fetch_from_gcs(uri: str, dest: str) -> str:
    """Copy the model folder's two files from Cloud Storage (JSON API, media download) to ``dest``."""
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    headers = {}
    if not emulator:
        req = urllib.request.Request(METADATA_TOKEN, headers={"Metadata-Flavor": "Google"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            headers["Authorization"] = f"Bearer {json.loads(resp.read())['access_token']}"
    base = emulator.rstrip("/") or "https://storage.googleapis.com"
    for name in MODEL_FILES:
        obj = urllib.parse.quote(f"{prefix.strip('/')}/{name}".lstrip("/"), safe="")
        req = urllib.request.Request(f"{base}/storage/v1/b/{bucket}/o/{obj}?alt=media", headers=headers)
        path = os.path.join(dest, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with urllib.request.urlopen(req, timeout=300) as resp, open(path, "wb") as fh:
            fh.write(resp.read())
    return dest


def model_dir() -> str:
    uri = os.environ.get("AIP_STORAGE_URI", "")
    return fetch_from_gcs(uri, tempfile.mkdtemp(prefix="skyloop-model-")) if uri else MODEL_DIR


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
            self._answer(200, "{}") if self.path == HEALTH_ROUTE else self._answer(404, '{"error": "not found"}')

        def do_POST(self) -> None:  # noqa: N802
            if self.path != PREDICT_ROUTE:
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
    server = ThreadingHTTPServer((os.environ.get("SKYLOOP_BIND", "0.0.0.0"), PORT), handler_for(Model(model_dir())))
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
