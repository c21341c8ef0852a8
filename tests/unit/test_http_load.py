"""The load driver the servers' tests use ends by its deadline when a server answers every request
slowly (as a stalled model call does, with a 504 after 55 s), so a test never waits for hours."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from bench.http_load import hammer


class Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.2)
        self.send_response(504)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_slow_server_ends_the_run_at_its_deadline(slow_server: int) -> None:
    t0 = time.monotonic()
    result = hammer("127.0.0.1", slow_server, "/", b"{}", clients=3, requests=1000, timeout=5, deadline=1.0)
    assert time.monotonic() - t0 < 4  # 1000 requests at 0.2 s would take 200 s per client
    assert result.ok == 0
    assert sum("504" in e for e in result.errors) >= 3
    assert sum("deadline of 1 s passed" in e for e in result.errors) == 3, result.errors[-3:]
