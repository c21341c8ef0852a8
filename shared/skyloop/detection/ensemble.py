"""The default detector: IsolationForest (combinations) + robust z (single metrics).

Both speak the same calibrated scale, so the ensemble takes the larger score:
an incident either detector is sure of is an incident. Attribution uses the
robust z-scores, which are per metric and not distorted by the incident itself.
"""

from __future__ import annotations

import io
import json
from typing import Any, Mapping

import numpy as np

from ..events import Severity
from .base import SavesBytes, as_matrix, lower_bound, severity_of
from .iforest import IsolationForestDetector
from .robust import RobustZDetector


class EnsembleDetector(SavesBytes):
    name = "ensemble"
    MIN_FOREST_ROWS = 128

    def __init__(self, contamination: float = 0.1, random_state: int = 0) -> None:
        self.contamination = contamination
        self.random_state = random_state
        self.forest = IsolationForestDetector(contamination=contamination, random_state=random_state)
        self.robust = RobustZDetector()

    @property
    def columns_(self) -> list[str]:
        return self.forest.columns_

    @columns_.setter
    def columns_(self, cols: list[str]) -> None:
        self.forest.columns_ = list(cols)
        self.robust.columns_ = list(cols)

    @property
    def fitted_(self) -> bool:
        return self.forest.fitted_ or self.robust.fitted_

    def fit(self, X: Any, columns: list[str] | None = None) -> "EnsembleDetector":
        arr, cols = as_matrix(X, columns)
        self.forest.fit(arr, cols)
        self.robust.fit(arr, cols)
        return self

    def partial_fit(self, X: Any) -> "EnsembleDetector":
        arr, cols = as_matrix(X, self.columns_ or None)
        if not self.columns_:
            self.columns_ = cols
        self.forest.partial_fit(arr)
        self.robust.partial_fit(arr)
        return self

    def score(self, X: Any) -> np.ndarray:
        arr, cols = as_matrix(X, self.columns_ or None)
        robust = self.robust.score(arr)
        if not self.forest.fitted_ or self.forest.psi_ < self.MIN_FOREST_ROWS:
            return robust  # a forest grown on a handful of rows is noise: wait for history
        return np.maximum(self.forest.score(arr), robust)

    def zscores(self, X: Any) -> np.ndarray:
        return self.robust.zscores(X)

    def score_one(self, timestamp: Any, values: Mapping[str, float]) -> float:
        if not self.columns_:
            self.columns_ = sorted(values)
        row = np.array([[float(values.get(c, np.nan)) for c in self.columns_]])
        s = float(self.score(row)[0])
        if s < lower_bound(Severity.MEDIUM):
            self.forest.partial_fit(row)
        self.robust._learn(row[0], 1.0 if s < lower_bound(Severity.MEDIUM) else self.robust.anomaly_learning)
        return s

    def severity(self, score: float) -> Severity:
        return severity_of(score)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta = {"detector": self.name, "params": {"contamination": self.contamination, "random_state": self.random_state}}
        np.savez(
            buf,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            forest=np.frombuffer(self.forest.to_bytes(), dtype=np.uint8),
            robust=np.frombuffer(self.robust.to_bytes(), dtype=np.uint8),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "EnsembleDetector":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            det = cls(**meta["params"])
            det.forest = IsolationForestDetector.from_bytes(bytes(z["forest"]))
            det.robust = RobustZDetector.from_bytes(bytes(z["robust"]))
        return det
