"""The interface every record-by-record detector shares, written once.

A streaming detector implements ``_init(m)`` (fresh state for m metrics) and
``_step(t, row, learn)`` -> (score, deviation per metric); this mixin turns that into
the ``Detector`` protocol: ``score_one``, batch ``process``, ``fit`` / ``partial_fit``
(learn), ``score`` / ``zscores`` (judge without learning) and ``severity``.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from ..events import Severity
from .base import SavesBytes, Tags, as_matrix, severity_of


def to_epoch(ts: Any) -> float:
    if isinstance(ts, datetime):
        return ts.timestamp()
    if isinstance(ts, (int, float)):
        return float(ts)
    if isinstance(ts, str):
        try:
            return float(ts)
        except ValueError:
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    if hasattr(ts, "timestamp"):
        return float(ts.timestamp())
    raise TypeError(f"unsupported timestamp {ts!r}")


DEV_TO_SIGMA = 1.2533  # E|X - mu| = sigma * sqrt(2 / pi): a mean absolute deviation in sigmas


def _at(timestamps: Any, i: int) -> float | None:
    return None if timestamps is None else to_epoch(timestamps[i])


class StreamingDetector(SavesBytes):
    """Saved as npz arrays (``_STATE``) plus a json header (name, columns, ``PARAMS``, ``_meta()``):
    never pickled, so a state read from a shared store cannot run code."""

    name: str
    columns_: list[str]
    n_: int
    PARAMS: tuple[str, ...] = ()
    _STATE: tuple[str, ...] = ()
    tags: ClassVar[Tags] = Tags(streaming=True, restores_normal=True, nan_ok=("level",))
    warmup: int
    level: np.ndarray  # per metric, set by _init: every streaming detector has a level and a scale
    dev: np.ndarray

    def _init(self, m: int) -> None:  # pragma: no cover - each detector's own state
        raise NotImplementedError

    def _step(self, t: float | None, x: np.ndarray, learn: bool = True) -> tuple[float, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    @property
    def fitted_(self) -> bool:
        return self.n_ >= self.warmup

    def _ready(self) -> None:
        """State for the known columns, made on first use."""
        if not self.columns_:
            raise ValueError("columns are not set")
        if not hasattr(self, "level"):
            self._init(len(self.columns_))

    def score_one(self, timestamp: Any, values: Mapping[str, float]) -> float:
        if not self.columns_:
            self.columns_ = sorted(values)
        x = np.array([float(values.get(c, np.nan)) for c in self.columns_])
        return self._step(None if timestamp is None else to_epoch(timestamp), x)[0]

    def process(self, X: Any, timestamps: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Score rows in time order, learning as it goes: (scores, deviation per metric before learning)."""
        arr, _ = as_matrix(X, self.columns_ or None)
        scores, z = np.zeros(arr.shape[0]), np.zeros_like(arr)
        for i, row in enumerate(arr):
            scores[i], z[i] = self._step(_at(timestamps, i), row)
        return scores, z

    def fit(self, X: Any, columns: list[str] | None = None, timestamps: Any = None) -> Any:
        arr, cols = as_matrix(X, columns)
        self.columns_ = cols
        self._init(len(cols))
        return self.partial_fit(arr, timestamps)

    def partial_fit(self, X: Any, timestamps: Any = None) -> Any:
        arr, cols = as_matrix(X, self.columns_ or None)
        if not self.columns_:
            self.columns_ = cols
        for i, row in enumerate(arr):
            self._step(_at(timestamps, i), row)
        return self

    def _judge(self, X: Any, timestamps: Any, part: int) -> np.ndarray:
        arr, _ = as_matrix(X, self.columns_ or None)
        if not self.columns_ or not hasattr(self, "level"):
            return np.zeros(arr.shape[0]) if part == 0 else np.zeros_like(arr)
        return np.array([self._step(_at(timestamps, i), row, learn=False)[part] for i, row in enumerate(arr)])

    def score(self, X: Any, timestamps: Any = None) -> np.ndarray:
        """Score rows against the current state without learning from them."""
        return self._judge(X, timestamps, 0)

    def zscores(self, X: Any, timestamps: Any = None) -> np.ndarray:
        return self._judge(X, timestamps, 1)

    def severity(self, score: float) -> Severity:
        return severity_of(score)

    def restore_normal(self, normal: Mapping[str, tuple[float, float]]) -> None:
        """Verification found these metrics back at their pre-incident normal (median, robust
        scale): adopt it. A long incident under remediation may have become the detector's
        level; without this, the recovery itself would be scored as a move away from normal."""
        if not hasattr(self, "level"):
            return
        for j, c in enumerate(self.columns_):
            if c in normal:
                med, scale = normal[c]
                self.level[j] = med
                self.dev[j] = max(scale / DEV_TO_SIGMA, 1e-12)
                self._restored(j)

    def _restored(self, j: int) -> None:
        """Reset whatever else of metric j's state an incident wound up."""

    def add_columns(self, new: Sequence[str]) -> list[str]:
        """Metrics that appear after the first batch join the state, each as a metric not seen
        yet: it warms up on its own (``seen`` is per metric) while the others go on being judged.
        A service's metric set was frozen by its first batch, so one stray batch of ``{"cpu": 1}``
        blinded it to every other metric for good. Returns the columns added.

        The state is grown through its saved form, so every array a detector keeps (its own and
        the parts it composes) is grown the same way: each array of a state made fresh for all
        the columns, with the known columns' block copied in."""
        added = [c for c in dict.fromkeys(new) if c not in self.columns_]
        if not added:
            return []
        if not hasattr(self, "level"):
            self.columns_ = list(self.columns_) + added
            return added
        wide = type(self)(**{k: getattr(self, k) for k in self.PARAMS})
        wide.columns_ = list(self.columns_) + added
        wide._init(len(wide.columns_))
        fresh = wide._arrays()
        with np.load(io.BytesIO(self.to_bytes()), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            arrays: dict[str, Any] = {k: np.array(z[k]) for k in z.files if k != "meta"}
        for k, old in arrays.items():
            grown = np.array(fresh[k], copy=True)
            if grown.shape != old.shape:  # per metric: the known block is the old state
                if grown.ndim != old.ndim or any(g < o for g, o in zip(grown.shape, old.shape)):
                    raise ValueError(f"{self.name}: cannot grow state array {k} from {old.shape} to {grown.shape}")
                grown[tuple(slice(0, n) for n in old.shape)] = old
                arrays[k] = grown
        meta["columns"] = wide.columns_
        buf = io.BytesIO()
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(buf, **arrays)
        self.__dict__.update(type(self).from_bytes(buf.getvalue()).__dict__)
        return added

    # ---- persistence ---------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        pass

    def to_bytes(self) -> bytes:
        meta = {"detector": self.name, "columns": self.columns_, "n": self.n_,
                "params": {k: getattr(self, k) for k in self.PARAMS}, **self._meta()}
        arrays: dict[str, Any] = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        if hasattr(self, "level"):
            arrays.update(self._arrays())
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Any:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            det = cls(**meta["params"])
            det.columns_, det.n_ = list(meta["columns"]), int(meta["n"])
            det._load_meta(meta)
            if "level" in z:
                det._load_arrays(z)
        return det

    def _arrays(self) -> dict[str, np.ndarray]:
        """The state saved as npz arrays: ``_STATE``, plus whatever a detector composes."""
        return {k: getattr(self, k) for k in self._STATE}

    def _load_arrays(self, z: Any) -> None:
        for k in self._STATE:
            setattr(self, k, np.array(z[k]))


__all__ = ["DEV_TO_SIGMA", "StreamingDetector", "to_epoch"]
