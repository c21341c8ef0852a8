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

from ..ports.kv import update

if TYPE_CHECKING:
    from ..ports import KeyValueStore

SERIES_ROWS = 2000


def _key(service: str) -> str:
    return f"series:{service}"


def services(kv: "KeyValueStore") -> list[str]:
    """The services with a stored tail (the report's read side)."""
    return sorted(k[len(_key("")):] for k, _ in kv.items(_key("")))


def load_series(kv: "KeyValueStore", service: str, columns: list[str] | None = None) -> dict[str, Any] | None:
    """The stored tail; with ``columns``, its values laid out in those columns (a metric that
    joined later is NaN before it joined), or None when the tail had a metric they lack."""
    raw = kv.get(_key(service))
    return None if raw is None else _aligned(_decode(raw), columns)


def _aligned(old: dict[str, Any], columns: list[str] | None) -> dict[str, Any] | None:
    if columns is None or old["columns"] == columns:
        return old
    if not set(old["columns"]) <= set(columns):
        return None
    x = np.full((len(old["t"]), len(columns)), np.nan)
    for j, c in enumerate(old["columns"]):
        x[:, columns.index(c)] = old["x"][:, j]
    return {**old, "columns": list(columns), "x": x}


def _decode(raw: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return {"columns": json.loads(bytes(z["columns"]).decode()), "t": z["t"], "x": z["x"], "score": z["score"]}


def rows_that_fit(kv: "KeyValueStore", metrics: int, cap: int = SERIES_ROWS) -> int:
    """The tail's length on this store: 24 metrics x 2,000 rows was 417 KB, above DynamoDB's
    item limit, so a wide service keeps fewer rows rather than failing to save any."""
    per_row = 8 * (metrics + 2)  # float64 time, score and one value per metric
    return max(1, min(cap, (kv.max_value_bytes - 4096 - 64 * metrics) // per_row))


def append_series(kv: "KeyValueStore", service: str, columns: list[str], t: np.ndarray, x: np.ndarray,
                  score: np.ndarray, cap: int = SERIES_ROWS) -> None:
    """Append under compare-and-set; rows at or before the stored tail's last time are a
    redelivery's and are not appended twice."""
    keep = rows_that_fit(kv, len(columns), cap)

    def change(raw: bytes | None) -> bytes:
        nt, nx, ns = t, x, score
        old = _aligned(_decode(raw), columns) if raw else None  # a metric that joined: the tail goes on
        if old is not None:
            new = nt > (old["t"][-1] if len(old["t"]) else -np.inf)
            nt, nx, ns = (np.concatenate([old["t"], nt[new]]), np.vstack([old["x"], nx[new]]),
                          np.concatenate([old["score"], ns[new]]))
        buf = io.BytesIO()
        np.savez(buf, columns=np.frombuffer(json.dumps(columns).encode(), dtype=np.uint8), t=nt[-keep:], x=nx[-keep:],
                 score=ns[-keep:])
        return buf.getvalue()

    update(kv, _key(service), change)
