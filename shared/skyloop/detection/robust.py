"""Online robust z-scores: per-metric EWMA level and EWMA absolute deviation.

IsolationForest isolates *combinations*; a single metric far out of range in a
7-metric row only shortens the paths of the trees that happen to split on it,
so a memory leak or an error burst scores weakly. This detector scores exactly
that case: how many typical deviations is the most unusual metric from its
recent level. It learns from the first record (cold start), follows slow drift,
and learns anomalous rows only at a tenth of the rate so that an incident does
not teach it that the incident is normal, while a permanent level shift is
absorbed over time.
"""

from __future__ import annotations

import io
import json
from typing import Any, Mapping

import numpy as np

from ..events import Severity
from .base import SavesBytes, as_matrix, lower_bound, severity_of

# z -> calibrated score anchors: 3 sigma starts LOW, 4.5 MEDIUM, 7 HIGH, 10 CRITICAL.
Z_ANCHORS = np.array([0.0, 3.0, 4.5, 7.0, 10.0, 20.0])
S_ANCHORS = np.array([0.0, 0.5, 0.6, 0.75, 0.9, 0.99])
MAD_TO_SIGMA = 1.2533  # E|X - mu| = sigma * sqrt(2/pi) for a normal


class RobustZDetector(SavesBytes):
    name = "robust_z"

    def __init__(self, alpha: float = 0.02, warmup: int = 30, anomaly_learning: float = 0.1,
                 min_scale: float = 1e-3, contamination: float | None = None) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.anomaly_learning = anomaly_learning
        self.min_scale = min_scale
        self.contamination = contamination  # accepted for a uniform make_detector(); unused
        self.columns_: list[str] = []
        self.n_ = 0
        self.level_: np.ndarray | None = None
        self.dev_: np.ndarray | None = None

    @property
    def fitted_(self) -> bool:
        return self.level_ is not None and self.n_ >= self.warmup

    def fit(self, X: Any, columns: list[str] | None = None) -> "RobustZDetector":
        arr, cols = as_matrix(X, columns)
        self.columns_ = cols
        self.level_ = np.nanmedian(arr, axis=0)
        # Mean absolute deviation of a normal is 0.7979 sigma, MAD is 0.6745 sigma: convert MAD to the EWMA's unit.
        self.dev_ = np.nanmedian(np.abs(arr - self.level_), axis=0) / 0.6745 / MAD_TO_SIGMA
        self.dev_ = np.where(np.isfinite(self.dev_), self.dev_, 0.0)
        self.level_ = np.where(np.isfinite(self.level_), self.level_, 0.0)
        self.n_ = max(int(arr.shape[0]), self.warmup)
        return self

    def _scale(self) -> np.ndarray:
        assert self.level_ is not None and self.dev_ is not None
        floor = np.maximum(self.min_scale, 1e-3 * np.abs(self.level_))
        return np.maximum(self.dev_ * MAD_TO_SIGMA, floor)

    def zscores(self, X: Any) -> np.ndarray:
        arr, _ = as_matrix(X, self.columns_ or None)
        if self.level_ is None:
            return np.zeros_like(arr)
        z = (arr - self.level_) / self._scale()
        return np.where(np.isfinite(z), z, 0.0)

    def score(self, X: Any) -> np.ndarray:
        arr, _ = as_matrix(X, self.columns_ or None)
        if not self.fitted_:
            return np.zeros(arr.shape[0])
        return np.interp(np.abs(self.zscores(arr)).max(axis=1), Z_ANCHORS, S_ANCHORS)

    def _learn(self, row: np.ndarray, weight: float) -> None:
        ok = np.isfinite(row)
        if self.level_ is None:
            self.level_ = np.where(ok, row, 0.0)
            self.dev_ = np.zeros_like(self.level_)
            self.n_ = 1
            return
        assert self.dev_ is not None
        # Faster learning while young (1/n), then the EWMA rate.
        a = max(self.alpha, 1.0 / (self.n_ + 1)) * weight
        resid = np.where(ok, row - self.level_, 0.0)
        self.level_ = self.level_ + a * resid
        self.dev_ = self.dev_ + a * (np.abs(resid) - self.dev_) * ok
        self.n_ += 1

    def partial_fit(self, X: Any) -> "RobustZDetector":
        arr, cols = as_matrix(X, self.columns_ or None)
        if not self.columns_:
            self.columns_ = cols
        for row in arr:
            self._learn(row, 1.0)
        return self

    def score_one(self, timestamp: Any, values: Mapping[str, float]) -> float:
        if not self.columns_:
            self.columns_ = sorted(values)
        row = np.array([float(values.get(c, np.nan)) for c in self.columns_])
        s = float(self.score(row[None, :])[0])
        self._learn(row, 1.0 if s < lower_bound(Severity.MEDIUM) else self.anomaly_learning)
        return s

    def severity(self, score: float) -> Severity:
        return severity_of(score)

    def state(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "params": {"alpha": self.alpha, "warmup": self.warmup, "anomaly_learning": self.anomaly_learning, "min_scale": self.min_scale},
            "columns": self.columns_, "n": self.n_,
            "level": None if self.level_ is None else self.level_.tolist(),
            "dev": None if self.dev_ is None else self.dev_.tolist(),
        }

    @classmethod
    def from_state(cls, st: Mapping[str, Any]) -> "RobustZDetector":
        det = cls(**st["params"])
        det.columns_, det.n_ = list(st["columns"]), int(st["n"])
        det.level_ = None if st["level"] is None else np.asarray(st["level"], dtype=float)
        det.dev_ = None if st["dev"] is None else np.asarray(st["dev"], dtype=float)
        return det

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, meta=np.frombuffer(json.dumps(self.state()).encode(), dtype=np.uint8))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "RobustZDetector":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls.from_state(json.loads(bytes(z["meta"]).decode()))
