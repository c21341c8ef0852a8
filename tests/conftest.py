"""Shared fixtures: a real local runtime on a temporary SKYLOOP_HOME (real SQLite, real files)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from skyloop.config import Settings
from skyloop.demo_data import churn_csv
from skyloop.local.kv import ManualClock
from skyloop.local.runtime import LocalRuntime

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 24, tzinfo=timezone.utc).timestamp()


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
