"""The recent metric series of each service, kept beside its detector state so a report can
draw what the detector saw (values and scores), not just the anomalies it found.

A fixed-size tail (``SERIES_ROWS``), stored as an npz without pickle: bounded state
however long a service streams.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..ports import KeyValueStore

SERIES_ROWS = 2000


def _key(service: str) -> str:
    return f"series:{service}"


def load_series(kv: "KeyValueStore", service: str) -> dict[str, Any] | None:
    raw = kv.get(_key(service))
    if raw is None:
        return None
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return {"columns": json.loads(bytes(z["columns"]).decode()), "t": z["t"], "x": z["x"], "score": z["score"]}


def append_series(kv: "KeyValueStore", service: str, columns: list[str], t: np.ndarray, x: np.ndarray,
                  score: np.ndarray, cap: int = SERIES_ROWS) -> None:
    old = load_series(kv, service)
    if old is not None and old["columns"] == columns:
        t, x, score = np.concatenate([old["t"], t]), np.vstack([old["x"], x]), np.concatenate([old["score"], score])
    buf = io.BytesIO()
    np.savez(buf, columns=np.frombuffer(json.dumps(columns).encode(), dtype=np.uint8), t=t[-cap:], x=x[-cap:],
             score=score[-cap:])
    kv.put(_key(service), buf.getvalue())
