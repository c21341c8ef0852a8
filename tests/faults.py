"""Fault injection at the ports: a wrapper that makes one named call fail once, the way a
transient outage, a throttled write or a 403 does. Used where no emulator can be told to fail
one call (moto, SQLite): the adapters underneath are the real ones."""

from __future__ import annotations

from typing import Any, Callable


class Injected(ConnectionError):
    """The fault: a plain, unnamed error, as a dropped connection raises it."""


class FailOnce:
    """Proxy to ``inner``; the first call of ``method`` whose first argument starts with ``prefix``
    raises ``Injected``, every later call goes through."""

    def __init__(self, inner: Any, method: str, prefix: str = "") -> None:
        self._inner, self._method, self._prefix, self.fired = inner, method, prefix, False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.fired and (not args or str(args[0]).startswith(self._prefix)):
                self.fired = True
                raise Injected(f"injected: {name}({args[0] if args else ''!s:.40})")
            return attr(*args, **kwargs)

        return call


# every step of detect after scoring: (the adapter it goes through, the method, the key prefix)
DETECT_STEPS: list[tuple[str, str, str]] = [
    ("executor", "describe", ""),  # root-cause context
    ("kv", "put_if", "outbox:"),  # the staged effects
    ("kv", "put_if", "detector:"),  # the state write: the commit
    ("kv", "put", "anomaly:"),  # the incident
    ("kv", "put", "baseline:"),
    ("kv", "put", "incident:"),
    ("remediation", "send", ""),  # the request
    ("kv", "put_if", "series:"),
]


def with_fault(adapters: Any, step: tuple[str, str, str]) -> tuple[Any, FailOnce]:
    """A copy of ``adapters`` whose ``step`` fails once."""
    import dataclasses

    port, method, prefix = step
    proxy = FailOnce(getattr(adapters, port), method, prefix)
    return dataclasses.replace(adapters, **{port: proxy}), proxy


def deliver_until_done(call: Callable[[], dict[str, Any]], attempts: int = 3) -> tuple[dict[str, Any], int]:
    """At-least-once delivery: call again after a failure, as a queue or Eventarc redelivers."""
    for n in range(1, attempts + 1):
        try:
            return call(), n
        except Injected:
            continue
    raise AssertionError(f"still failing after {attempts} deliveries")


def detect_survives(adapters: Any, step: tuple[str, str, str], queued: Callable[[], list[str]]) -> None:
    """A CPU saturation whose detect fails once at ``step`` and is redelivered: exactly one
    incident and one remediation request (``queued``: the request ids waiting on the queue)."""
    from datetime import datetime, timedelta, timezone

    import numpy as np

    from skyloop.events import MetricBatch, MetricRecord
    from skyloop.handlers import on_metrics

    t0 = datetime(2026, 11, 24, tzinfo=timezone.utc)

    def stream(n: int, start: int, seed: int, cpu: tuple[int, int] | None = None) -> MetricBatch:
        rng = np.random.default_rng(seed)
        recs = []
        for i in range(start, start + n):
            v = {"cpu_usage": 40 + rng.normal(0, 3), "latency_ms": 120 + rng.normal(0, 8),
                 "error_rate": 0.5 + abs(rng.normal(0, 0.1))}
            if cpu is not None and cpu[0] <= i < cpu[1]:
                v["cpu_usage"], v["latency_ms"] = 95.0, v["latency_ms"] + 100
            recs.append(MetricRecord(timestamp=t0 + timedelta(minutes=i), values=v))
        return MetricBatch(service="api", records=recs)

    on_metrics(stream(120, 0, 0), adapters)
    spike = stream(30, 120, 1, cpu=(135, 150))  # still open at its end
    faulty, proxy = with_fault(adapters, step)
    result, deliveries = deliver_until_done(lambda: on_metrics(spike, faulty))
    assert proxy.fired, f"{step} was never reached"
    assert deliveries == 2
    (anomaly,) = result["anomalies"]
    assert anomaly["causes"][0]["action"] == "scale_out"
    assert [k for k, _ in adapters.kv.items("anomaly:")] == [f"anomaly:{anomaly['anomaly_id']}"]
    assert adapters.kv.get(f"baseline:{anomaly['anomaly_id']}") is not None
    assert sorted(set(queued())) == [f"{anomaly['anomaly_id']}:scale_out"]
    # the next batch carries the same incident on, with no second request
    after = on_metrics(stream(10, 150, 2, cpu=(150, 152)), adapters)
    assert all(a["anomaly_id"] == anomaly["anomaly_id"] for a in after["anomalies"])
    assert sorted(set(queued())) == [f"{anomaly['anomaly_id']}:scale_out"]


def _remediate_worker(kind: str, home: str, i: int, barrier: Any, results: Any) -> None:
    """One delivery in its own process: its own adapters, started at the barrier with the others."""
    from skyloop.config import Settings
    from skyloop.errors import TransientError
    from skyloop.events import RemediationRequested
    from skyloop.handlers import on_remediation

    if kind == "local":
        from skyloop.local.runtime import LocalRuntime

        adapters = LocalRuntime(Settings(home=home)).adapters
    else:
        from skyloop.bootstrap import bootstrap

        adapters = bootstrap("aws", Settings(home=home))
    req = RemediationRequested(event_id=f"e-{i}", request_id=f"r-{i}", action="restart_service", target="api",
                               severity="medium", reason="concurrency test")
    barrier.wait(timeout=60)
    try:
        results.put(on_remediation(req, adapters, dry_run=False)["status"])
    except TransientError as exc:  # lost every compare-and-set race: redelivered later, and refused then
        results.put(exc.code)


def at_once(target: Callable[..., None], args: list[tuple[Any, ...]], timeout: float = 120) -> list[Any]:
    """Run ``target(*a, barrier, results)`` for each ``a`` in its own spawned process, all released
    at one barrier; what each put on ``results``."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(len(args)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, barrier, results)) for a in args]
    for p in procs:
        p.start()
    out = [results.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def concurrent_restarts(kind: str, home: str, n: int = 8) -> list[str]:
    """Statuses of ``n`` processes, each delivering a distinct restart of "api" at the same moment."""
    return at_once(_remediate_worker, [(kind, home, i) for i in range(n)])
