"""One HTTP load driver for the servers' tests and their bench row: ``clients`` threads, each
on one keep-alive connection to 127.0.0.1, sending ``requests`` POSTs of one body. Every
non-200 answer, reset or timeout is counted as an error with its first bytes, never retried.
The whole run has a deadline: a server that answers every request slowly (a stalled model call
answers 504 after 55 s) ends the run with errors, instead of holding a test for hours."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    ok: int
    errors: list[str]
    seconds: float
    latencies_ms: list[float] = field(repr=False)

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(q / 100 * len(xs)))] if xs else float("nan")


def hammer(host: str, port: int, path: str, body: bytes, *, clients: int = 32, requests: int = 400,
           timeout: float = 60.0, deadline: float = 300.0) -> LoadResult:
    errors: list[str] = []
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop_at = time.monotonic() + deadline

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            for sent in range(requests):
                if time.monotonic() > stop_at:
                    errors.append(f"client {i}: deadline of {deadline:g} s passed after {sent} of {requests} requests")
                    return
                t0 = time.perf_counter()
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    errors.append(f"{resp.status} {data[:100]!r}")
                else:
                    latencies[i].append((time.perf_counter() - t0) * 1000)
        except Exception as exc:  # noqa: BLE001 - a reset or a timeout is counted, not raised
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:  # a client ends by the deadline plus one request's timeout
        t.join(timeout=max(0.0, stop_at - time.monotonic()) + timeout + 5)
    if any(t.is_alive() for t in threads):
        errors.append("a client was still waiting after the deadline")
    flat = [x for xs in latencies for x in xs]
    return LoadResult(len(flat), errors, time.perf_counter() - t0, flat)
