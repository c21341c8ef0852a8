"""The two servers that answer predictions, under the same load: the local endpoint (`skyloop
serve`, Starlette on uvicorn, one process) and Skyloop's serving image's server
(infra/aws/serving/serve.py, what SageMaker and Vertex AI run: Starlette on uvicorn, one worker
per core), each in its own process on 127.0.0.1, on one model trained from
events/local/data/churn.csv. 32 clients on keep-alive connections, 2-row requests; reported:
requests/s, p50 and p99 latency, errors.

    python -m bench.serving [--requests 200]
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from bench.common import write  # noqa: E402
from bench.http_load import hammer  # noqa: E402

SERVE = ROOT / "infra" / "aws" / "serving" / "serve.py"
CHURN = ROOT / "events" / "local" / "data" / "churn.csv"
CLIENTS = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_dir(folder: Path) -> tuple[Path, str, list[dict[str, Any]]]:
    """A model directory as SageMaker unpacks model.tar.gz: its sha256, and rows it takes."""
    from skyloop.config import Settings
    from skyloop.ports.serving import serving_files
    from skyloop.serving.deployment import smoke_rows
    from skyloop.training.usecase import fit

    fitted = fit(CHURN.read_bytes(), source_uri="x", settings=Settings())
    for name, data in serving_files(fitted.model_bytes).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder, hashlib.sha256(fitted.model_bytes).hexdigest(), smoke_rows(fitted.lineage, 2)


def server_log() -> IO[str]:
    """Where a long-lived server's stderr goes: a file, never a pipe nobody reads while it runs
    (a pipe's 64 KiB of tracebacks would block the server mid-request)."""
    return tempfile.TemporaryFile("w+")


def log_tail(log: IO[str], chars: int = 3000) -> str:
    """The end of what a server wrote to its ``server_log``, for a failure's message."""
    log.seek(0)
    return log.read()[-chars:]


def wait_healthy(proc: subprocess.Popen[str], port: int, path: str, seconds: float = 120,
                 log: IO[str] | None = None) -> None:
    """``log``: the file the server's stderr goes to (else its stderr pipe), shown if it dies."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            if proc.poll() is not None:
                if log is not None:
                    raise AssertionError(log_tail(log)) from None
                raise AssertionError(proc.communicate()[1][-3000:]) from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no answer on {path} within {seconds:g} s")


def start_image(folder: Path, sha256: str, workers: int | None = 2,
                extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    """serve.py as the image starts it (``serve``), stopped by the caller by its PID; ``extra_env``
    as a job sets it (a Batch Transform job's ``Environment``)."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}, "SKYLOOP_MODEL_DIR": str(folder),
           "SKYLOOP_BIND": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": str(port), "SKYLOOP_ARTIFACT_SHA256": sha256}
    if workers:
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(workers)
    env.update(extra_env or {})
    log = server_log()
    proc = subprocess.Popen([sys.executable, "-I", str(SERVE), "serve"], env=env, stderr=log, text=True)
    wait_healthy(proc, port, "/ping", log=log)
    return proc, port


def start_local(home: Path) -> tuple[subprocess.Popen[str], int]:
    """`skyloop serve` on a home where churn.csv trained version 1 and it was approved and deployed."""
    cli = [sys.executable, "-m", "skyloop.app.cli"]
    for args in (["train", str(CHURN), "--group", "churn"], ["approve", "churn", "1"]):
        subprocess.run([*cli, *args, "--home", str(home)], check=True, capture_output=True)
    port = free_port()
    log = server_log()
    proc = subprocess.Popen([*cli, "serve", "--port", str(port), "--home", str(home)], stdout=subprocess.DEVNULL,
                            stderr=log, text=True)
    wait_healthy(proc, port, "/healthz", log=log)
    return proc, port


def measure(port: int, path: str, rows: list[dict[str, Any]], requests: int) -> dict[str, Any]:
    body = json.dumps({"instances": rows}).encode()
    hammer("127.0.0.1", port, path, body, clients=CLIENTS, requests=20)  # warm: connections, first batches
    r = hammer("127.0.0.1", port, path, body, clients=CLIENTS, requests=requests)
    return {"requests": CLIENTS * requests, "ok": r.ok, "errors": len(r.errors), "first_errors": r.errors[:3],
            "requests_per_s": round(r.requests_per_s), "p50_ms": round(r.percentile(50), 2),
            "p99_ms": round(r.percentile(99), 2)}


def main(argv: list[str]) -> dict[str, Any]:
    requests = int(argv[argv.index("--requests") + 1]) if "--requests" in argv else 200
    servers: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder, sha, rows = model_dir(Path(tmp) / "model")
        for name, starter, path in (
                ("local endpoint (skyloop serve, 1 process)", lambda: start_local(Path(tmp) / "home"), "/v1/models/churn:predict"),
                (f"serving image (serve.py, {os.cpu_count()} workers)", lambda: start_image(folder, sha, None), "/invocations"),
                ("serving image (serve.py, 1 worker)", lambda: start_image(folder, sha, 1), "/invocations")):
            proc, port = starter()
            try:
                servers[name] = measure(port, path, rows, requests)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            print(name, servers[name])
    return write("serving", {"clients": CLIENTS, "rows_per_request": len(rows), "servers": servers})


if __name__ == "__main__":
    main(sys.argv[1:])
