"""The local model endpoint: JSON predictions over HTTP, on Starlette served by uvicorn.

The hand-written ``http.server`` it replaces was a toy under load: no socket timeouts
(200 stalled connections held 203 threads), resets at 32 concurrent clients, HTML
error pages, 500s on deep JSON. uvicorn handles connections on one event loop with
keep-alive and concurrency limits; predictions run on a small worker pool.

Limits, each answered with a JSON error ``{"error": code, "reason": one line}``:
body size (413), time to receive the body (408), JSON nesting and shape (400), time
to predict (504), concurrent connections (503 from uvicorn's ``limit_concurrency``), an
HTTP request that does not parse (400). A connection whose request line and headers have
not all arrived within ``HEADER_SECONDS`` of its start (or of its previous response) is
closed: 256 connections that never finished their headers once held every slot, and every
other client got 503 for as long as they stayed.

    POST /v1/models/<group>:predict   {"instances": [{"f1": 1.0, ...}], "slot": "canary"?}
    -> {"predictions": [...], "version": 3, "slot": "production"}
    GET  /v1/models/<group>           slots and traffic
    GET  /healthz
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest, NotFound, SkyloopError
from .deployer import LocalDeployer

log = logging.getLogger("skyloop.endpoint")

MAX_BODY_BYTES = 1024 * 1024
MAX_INSTANCES = 10_000
BODY_SECONDS = 10.0  # a client that has not sent its body by then is dropped (slow-loris)
HEADER_SECONDS = 10.0  # nor its request line and headers (uvicorn times neither out)
PREDICT_SECONDS = 30.0
MAX_CONNECTIONS = 256
SLOTS = ("production", "canary", "staging")
SCALARS = (str, int, float, bool, type(None))


class _Refused(Exception):
    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


def _instances(body: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The request's shape, checked before any of it reaches pandas or the model."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise _Refused(400, "invalid_request", 'body must be {"instances": [{...}, ...]}')
    unknown = set(body) - {"instances", "slot"}
    if unknown:
        raise _Refused(400, "invalid_request", f"unknown field(s): {', '.join(sorted(map(str, unknown)))[:80]}")
    rows = body["instances"]
    if not rows or len(rows) > MAX_INSTANCES:
        raise _Refused(400, "invalid_request", f"instances must hold 1 to {MAX_INSTANCES} rows")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not all(isinstance(v, SCALARS) for v in row.values()):
            raise _Refused(400, "invalid_request", f"instance {i} must be an object of feature: number or text")
    slot = body.get("slot")
    if slot is not None and slot not in SLOTS:
        raise _Refused(400, "invalid_request", f"slot must be one of {', '.join(SLOTS)}")
    return rows, slot


class _Batcher:
    """Dynamic batching: requests that arrive while the model is busy wait in a queue, and each
    worker takes all that are waiting (up to ``MAX_BATCH_ROWS`` rows) into one model call per
    slot. A lone request is never held back to fill a batch, so light traffic pays no latency;
    under load, 32 concurrent callers cost about one model call instead of 32."""

    MAX_BATCH_ROWS = 2048

    def __init__(self, deployer: LocalDeployer, limiter: Any, workers: int) -> None:
        self.deployer, self.limiter, self.workers = deployer, limiter, workers
        self.queue: asyncio.Queue[tuple[str, list[dict[str, Any]], str | None, asyncio.Future[Any]]] | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def submit(self, group: str, rows: list[dict[str, Any]], slot: str | None) -> Any:
        if self.queue is None:  # started inside the server's event loop, on first use
            self.queue = asyncio.Queue()
            self.tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put((group, rows, slot, fut))
        return await fut

    async def _work(self) -> None:
        import anyio

        assert self.queue is not None
        while True:
            first = await self.queue.get()
            batch, size = [first], len(first[1])
            while not self.queue.empty() and size < self.MAX_BATCH_ROWS:
                item = self.queue.get_nowait()
                batch.append(item)
                size += len(item[1])
            by_group: dict[str, list[Any]] = {}
            for item in batch:
                by_group.setdefault(item[0], []).append(item)
            for group, items in by_group.items():
                live = [it for it in items if not it[3].done()]  # a caller that timed out has gone
                if not live:
                    continue
                try:
                    results = await anyio.to_thread.run_sync(
                        self.deployer.predict_batch, group, [(it[1], it[2]) for it in live], limiter=self.limiter)
                except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
                    results = [exc] * len(live)
                for it, res in zip(live, results):
                    if not it[3].done():
                        it[3].set_result(res)


def make_app(deployer: LocalDeployer, *, workers: int = 2) -> Any:
    """The ASGI app. Predictions run ``workers`` at a time off the event loop (each thread has
    its own SQLite connection), so a slow model never stalls accepting or answering others."""
    import anyio
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    # scikit-learn warns that its config is not propagated when a fitted forest predicts on a
    # thread it did not start; the models here run with n_jobs=1, so there is nothing to propagate
    warnings.filterwarnings("ignore", message=r"`sklearn.utils.parallel.delayed` should be used", category=UserWarning)
    limiter = anyio.CapacityLimiter(workers)
    batcher = _Batcher(deployer, limiter, workers)

    def error(status: int, code: str, reason: str) -> JSONResponse:
        return JSONResponse({"error": code, "reason": reason}, status_code=status)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise _Refused(413, "too_large", f"body above {MAX_BODY_BYTES} bytes")
        chunks, size = [], 0

        async def receive() -> None:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _Refused(413, "too_large", f"body above {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(receive(), BODY_SECONDS)
        except asyncio.TimeoutError:
            raise _Refused(408, "timeout", f"body not received within {BODY_SECONDS:g} s") from None
        except ClientDisconnect:  # gone mid-body: nobody to answer, nothing to log but a line
            log.debug("client disconnected before sending its body")
            raise _Refused(400, "client_disconnected", "the client went away") from None
        return b"".join(chunks)

    async def predict(request: Request) -> JSONResponse:
        target = request.path_params["target"]
        if not target.endswith(":predict"):
            return error(404, "not_found", "no such route; POST /v1/models/<group>:predict")
        group = target[: -len(":predict")]
        try:
            raw = await read_body(request)
            try:
                body = json.loads(raw or b"null")
            except RecursionError:
                raise _Refused(400, "invalid_request", "JSON nested too deeply") from None
            except ValueError:
                raise _Refused(400, "invalid_request", "body is not valid JSON") from None
            rows, slot = _instances(body)
            result = await asyncio.wait_for(batcher.submit(group, rows, slot), PREDICT_SECONDS)
            if isinstance(result, Exception):
                raise result
            return JSONResponse(result)
        except _Refused as exc:
            return error(exc.status, exc.code, exc.reason)
        except asyncio.TimeoutError:
            return error(504, "timeout", f"prediction took longer than {PREDICT_SECONDS:g} s")
        except InvalidRequest as exc:
            return error(400, "invalid_request", exc.reason)
        except NotFound as exc:
            return error(404, "not_found", exc.reason)
        except SkyloopError as exc:
            log.warning("predict refused", extra={"model_group": group, "error": exc.code})
            return error(503, exc.code, exc.reason)

    async def describe(request: Request) -> JSONResponse:
        group = request.path_params["target"]
        slots = await anyio.to_thread.run_sync(deployer.slots, group, limiter=limiter)
        if not slots:
            return error(404, "not_found", f"model {group} is not deployed")
        traffic = await anyio.to_thread.run_sync(deployer.traffic, group, limiter=limiter)
        return JSONResponse({"model_group": group, "slots": slots, "traffic": traffic})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 500)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        return error(status, code, str(getattr(exc, "detail", "")) or "no such route")

    async def internal(request: Request, exc: Exception) -> JSONResponse:  # never echo internals
        log.error("request failed", extra={"path": request.url.path, "error": type(exc).__name__})
        return error(500, "internal", "the request failed")

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/v1/models/{target}", describe, methods=["GET"]),
                Route("/v1/models/{target}", predict, methods=["POST"])],
        exception_handlers={HTTPException: http_error, Exception: internal},
    )


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts, so a busy port is a clear
    error here rather than a log line and an exit inside uvicorn."""
    from ..errors import InvalidRequest as Refused

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Refused(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port or --host") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _json_body(code: str, reason: str) -> bytes:
    return json.dumps({"error": code, "reason": reason}).encode()


def _protocol() -> type:
    """uvicorn's h11 protocol with a header deadline and JSON for the errors uvicorn answers
    itself (its 400 and 503 are text/plain)."""
    import h11
    from uvicorn.protocols.http import h11_impl

    async def unavailable(scope: Any, receive: Any, send: Any) -> None:
        body = _json_body("unavailable", f"more than {MAX_CONNECTIONS} connections; retry shortly")
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"), (b"retry-after", b"1")]})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    # uvicorn answers the concurrency limit with this module-level app; it is swapped for the
    # JSON one here (tests/integration/test_endpoint.py holds it to JSON)
    h11_impl.service_unavailable = unavailable

    class HeaderDeadline(h11_impl.H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(HEADER_SECONDS, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # no request yet, so no response to send: hang up

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request's headers have the same deadline

        def send_400_response(self, msg: str) -> None:
            body = _json_body("invalid_request", msg)
            for event in (h11.Response(status_code=400, reason=b"Bad Request", headers=[
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")]), h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event) or b"")
            self.transport.close()

    return HeaderDeadline


def make_server(deployer: LocalDeployer) -> Any:
    """The uvicorn server; run it with ``.run(sockets=[bind(...)])``."""
    import uvicorn

    config = uvicorn.Config(make_app(deployer), log_config=None, access_log=False, lifespan="off", http=_protocol(),
                            limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


@dataclass
class RunningEndpoint:
    """An endpoint serving from a background thread (the demo, tests)."""

    server: Any
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_in_thread(deployer: LocalDeployer, host: str = "127.0.0.1", port: int = 0) -> RunningEndpoint:
    sock = bind(host, port)
    server = make_server(deployer)
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="skyloop-endpoint", daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not server.started and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise SkyloopError("the endpoint did not start")
    return RunningEndpoint(server, t, host, sock.getsockname()[1])


__all__ = ["MAX_BODY_BYTES", "RunningEndpoint", "bind", "make_app", "make_server", "serve_in_thread"]
