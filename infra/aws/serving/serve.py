"""Skyloop's serving container: SageMaker's bring-your-own-container contract (``serve`` and
``train``) and Vertex AI's custom-container contract.

Why this image exists: it is built with the very numpy, scipy and scikit-learn the train function
packs (infra/aws/package.py pins them in requirements.txt), so a joblib model always loads where
it is served, and a managed training job trains under the libraries that will serve it.

**serve.** SageMaker starts the image with ``serve``, unpacks model.tar.gz into /opt/ml/model and
sends ``GET /ping`` and ``POST /invocations`` to port 8080. On Vertex AI (``AIP_*`` set, no
arguments) the same two files are in the Cloud Storage folder ``AIP_STORAGE_URI``; they are
fetched once with the Cloud Storage client (the service account's credentials, or
``STORAGE_EMULATOR_HOST`` in tests), and the server answers ``AIP_HEALTH_ROUTE`` and
``AIP_PREDICT_ROUTE`` on ``AIP_HTTP_PORT``. The model's own ``code/inference.py`` (Skyloop's serving
core plus SageMaker's four handler functions) does the work, so the deployer does not care which
image serves.

The server is Starlette on uvicorn, as the local endpoint is (``skyloop/local/endpoint.py``): the
standard-library ``ThreadingHTTPServer`` it replaces spent a thread per connection, had no body
deadline and answered errors as it pleased. Here:
- one uvicorn process per core (``SAGEMAKER_MODEL_SERVER_WORKERS``, SageMaker's own knob, or the
  core count), each with the model loaded once; the parent loads it first, so bytes the registry
  does not vouch for stop the container before it ever answers a health check;
- limits, each a JSON error ``{"error": code, "reason": one line}``: body size (413), time to
  receive the body (408), a request the model's schema refuses (400), time to predict (504),
  concurrent connections (503, uvicorn's ``limit_concurrency``);
- dynamic batching: requests waiting while the model is busy go into one model call (up to
  ``MAX_BATCH_BYTES`` of requests); if that call refuses the batch, each request is answered alone, so one
  client's bad row fails only that client.
Slow request headers are left to the platform's front end (SageMaker's and Vertex's proxies
terminate client connections), unlike the local endpoint, which faces clients itself.

**train.** SageMaker starts a training job with ``train``: the hyperparameters (JSON text, as
``SageMakerTrainingBackend`` writes them) are in /opt/ml/input/config/hyperparameters.json, the
dataset in the ``train`` channel, and this very ``skyloop`` package as a tarball in the ``code``
channel. The job trains with ``skyloop.training.entry.run`` into /opt/ml/model, which SageMaker
packs as model.tar.gz; a failure's reason goes to /opt/ml/output/failure, where
DescribeTrainingJob shows it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import tarfile
import tempfile
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ML_ROOT = Path(os.environ.get("SKYLOOP_ML_ROOT", "/opt/ml"))
PORT = int(os.environ.get("AIP_HTTP_PORT") or os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
HEALTH_ROUTE = os.environ.get("AIP_HEALTH_ROUTE", "/ping")
PREDICT_ROUTE = os.environ.get("AIP_PREDICT_ROUTE", "/invocations")
MAX_BODY = 6 * 1024 * 1024  # SageMaker's real-time payload limit (Vertex's is 1.5 MB)
BODY_SECONDS = 30.0  # a client that has not sent its body by then is dropped
PREDICT_SECONDS = 55.0  # SageMaker gives an invocation 60 s; answer before it gives up
MAX_CONNECTIONS = 512  # per worker
MAX_BATCH_BYTES = 1024 * 1024  # what one model call takes from the queue (a lone request may be larger)
MODEL_FILES = ("model.joblib", "code/inference.py")


def model_dir() -> str:
    return os.environ.get("SKYLOOP_MODEL_DIR") or str(ML_ROOT / "model")


def workers() -> int:
    """SageMaker's own knob first; one process per core otherwise (the model call holds the GIL)."""
    stated = os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS") or os.environ.get("SKYLOOP_SERVING_WORKERS")
    return max(1, int(stated)) if stated else max(1, os.cpu_count() or 1)


def fetch_from_gcs(uri: str, dest: str) -> str:
    """Copy the model folder's two files from Cloud Storage to ``dest`` with the storage client
    (Application Default Credentials: the endpoint's service account on Vertex)."""
    from google.cloud import storage

    bucket_name, _, prefix = uri.removeprefix("gs://").partition("/")
    bucket = storage.Client().bucket(bucket_name)
    for name in MODEL_FILES:
        path = os.path.join(dest, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        bucket.blob(f"{prefix.strip('/')}/{name}".lstrip("/")).download_to_filename(path, timeout=300)
    return dest


def load_program(folder: str) -> ModuleType:
    name = os.environ.get("SAGEMAKER_PROGRAM", "inference.py")
    spec = importlib.util.spec_from_file_location("skyloop_inference", os.path.join(folder, "code", name))
    if spec is None or spec.loader is None:
        raise RuntimeError(f"no {name} under {folder}/code")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Model:
    """Loaded once per process: a model that fails its hash check never answers a health check."""

    def __init__(self, folder: str) -> None:
        self.program = load_program(folder)
        self.model = self.program.model_fn(folder)

    def predict_many(self, requests: list[tuple[bytes, str, str]]) -> list[Any]:
        """One model call for every request that parses; each request's answer, or its error."""
        parsed: list[Any] = []
        for body, content_type, _ in requests:
            try:
                parsed.append(self.program.input_fn(body, content_type))
            except Exception as exc:  # noqa: BLE001 - the request's own error, answered to it alone
                parsed.append(exc)
        good = [i for i, rows in enumerate(parsed) if not isinstance(rows, Exception)]
        out: list[Any] = list(parsed)
        if len(good) > 1:
            try:
                preds = self.program.predict_fn([row for i in good for row in parsed[i]], self.model)
                start = 0
                for i in good:
                    n = len(parsed[i])
                    out[i] = self.program.output_fn(preds[start:start + n], requests[i][2])
                    start += n
                return out
            except Exception:  # noqa: BLE001 - somebody's rows were refused: answer each alone
                pass
        for i in good:
            try:
                out[i] = self.program.output_fn(self.program.predict_fn(parsed[i], self.model), requests[i][2])
            except Exception as exc:  # noqa: BLE001
                out[i] = exc
        return out


class Batcher:
    """Requests that arrive while the model is busy wait in a queue; the worker takes all that are
    waiting into one model call. A lone request is never held back to fill a batch."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.queue: asyncio.Queue[tuple[tuple[bytes, str, str], asyncio.Future[Any]]] | None = None
        self.task: asyncio.Task[None] | None = None

    async def submit(self, request: tuple[bytes, str, str]) -> Any:
        if self.queue is None:  # created inside the server's event loop, on first use
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._work())
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put((request, fut))
        return await fut

    async def _work(self) -> None:
        assert self.queue is not None
        while True:
            batch = [await self.queue.get()]
            size = len(batch[0][0][0])
            while not self.queue.empty() and size < MAX_BATCH_BYTES:
                batch.append(self.queue.get_nowait())
                size += len(batch[-1][0][0])
            live = [(req, fut) for req, fut in batch if not fut.done()]  # a caller that timed out has gone
            if not live:
                continue
            try:
                results = await asyncio.to_thread(self.model.predict_many, [req for req, _ in live])
            except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
                results = [exc] * len(live)
            for (_, fut), res in zip(live, results):
                if not fut.done():
                    fut.set_result(res)


def create_app(model: Model | None = None) -> Any:
    """The ASGI app (uvicorn calls it once in each worker, which loads its own model)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    batcher = Batcher(model or Model(model_dir()))

    def error(status: int, code: str, reason: str) -> JSONResponse:
        return JSONResponse({"error": code, "reason": reason}, status_code=status)

    async def read_body(request: Request) -> bytes | JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return error(413, "too_large", f"body above {MAX_BODY} bytes")
        chunks: list[bytes] = []

        async def receive() -> bool:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    return False
                chunks.append(chunk)
            return True

        try:
            if not await asyncio.wait_for(receive(), BODY_SECONDS):
                return error(413, "too_large", f"body above {MAX_BODY} bytes")
        except asyncio.TimeoutError:
            return error(408, "timeout", f"body not received within {BODY_SECONDS:g} s")
        except ClientDisconnect:
            return error(400, "client_disconnected", "the client went away")
        return b"".join(chunks)

    async def predict(request: Request) -> Response:
        body = await read_body(request)
        if isinstance(body, Response):
            return body
        req = (body, request.headers.get("content-type", "application/json"),
               request.headers.get("accept", "application/json"))
        try:
            result = await asyncio.wait_for(batcher.submit(req), PREDICT_SECONDS)
        except asyncio.TimeoutError:
            return error(504, "timeout", f"prediction took longer than {PREDICT_SECONDS:g} s")
        if isinstance(result, (ValueError, KeyError, TypeError)):  # a request the model's schema refuses
            return error(400, "invalid_request", f"{type(result).__name__}: {result}"[:500])
        if isinstance(result, Exception):
            traceback.print_exception(result, file=sys.stderr)
            return error(500, "internal", "the request failed")
        # a Batch Transform job sends text/csv and asks text/csv back: one line per record
        csv_out = req[1].split(";")[0].strip() == "text/csv" and req[2].split(";")[0].strip() == "text/csv"
        return Response(result, media_type="text/csv" if csv_out else "application/json")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({})

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 500)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        return error(status, code, str(getattr(exc, "detail", "")) or "no such route")

    async def internal(request: Request, exc: Exception) -> JSONResponse:  # never echo internals
        traceback.print_exception(exc, file=sys.stderr)
        return error(500, "internal", "the request failed")

    return Starlette(routes=[Route(HEALTH_ROUTE, health, methods=["GET"]), Route(PREDICT_ROUTE, predict, methods=["POST"])],
                     exception_handlers={HTTPException: http_error, Exception: internal})


def serve() -> None:
    import uvicorn

    if os.environ.get("AIP_STORAGE_URI"):  # Vertex: fetched once, for every worker
        os.environ["SKYLOOP_MODEL_DIR"] = fetch_from_gcs(os.environ["AIP_STORAGE_URI"],
                                                         tempfile.mkdtemp(prefix="skyloop-model-"))
    model = Model(model_dir())  # refuses unvouched bytes here, before any port is open
    n = workers()
    common = {"host": os.environ.get("SKYLOOP_BIND", "0.0.0.0"), "port": PORT, "log_config": None,
              "access_log": False, "lifespan": "off", "limit_concurrency": MAX_CONNECTIONS, "timeout_keep_alive": 75}
    if n == 1:
        uvicorn.run(create_app(model), **common)
    else:  # SageMaker and Vertex call /ping on the same port: every worker shares the socket
        del model
        uvicorn.run("serve:create_app", factory=True, app_dir=str(HERE), workers=n, **common)


def train() -> None:
    """A SageMaker training job on this image (see the module's docstring)."""
    failure = ML_ROOT / "output" / "failure"
    try:
        raw = json.loads((ML_ROOT / "input" / "config" / "hyperparameters.json").read_text())
        hps = {k: json.loads(v) if isinstance(v, str) else v for k, v in raw.items()}
        [code] = sorted((ML_ROOT / "input" / "data" / "code").glob("*.tar.gz"))
        src = Path(tempfile.mkdtemp(prefix="skyloop-code-"))
        with tarfile.open(code) as tar:
            tar.extractall(src, filter="data")
        sys.path.insert(0, str(src))
        from skyloop.training.entry import run  # the job's own copy of skyloop, from the code channel

        run(ML_ROOT / "input" / "data" / "train", ML_ROOT / "model",
            {"target": hps.get("target") or None, "source_uri": hps.get("source_uri"), "params": hps.get("params") or {}})
    except BaseException as exc:
        traceback.print_exc()
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(f"{type(exc).__name__}: {exc}"[:1024])
        raise SystemExit(1) from None


def main(argv: list[str]) -> None:
    mode = argv[0] if argv else "serve"  # Vertex starts the container with no arguments
    if mode == "serve":
        serve()
    elif mode == "train":
        train()
    else:
        raise SystemExit(f"this image serves or trains (got {mode!r}); SageMaker starts it with 'serve' or 'train'")


if __name__ == "__main__":
    main(sys.argv[1:])
