"""IsolationForest in numpy: the seed's baseline, without scikit-learn at run time.

Same algorithm as Liu et al. (2008) and sklearn: random feature, uniform split
between the node's min and max, height limit ceil(log2(psi)), path length plus
c(n) at external nodes, raw score 2 ** (-E[h] / c(psi)). Rows are standardised
first (the seed used StandardScaler) so z-scores come for free.

Online use (``score_one`` / ``partial_fit``) keeps a sliding window of rows it
judged normal and refits on it periodically, so it starts from nothing and
follows slow change without learning the incidents themselves.
"""

from __future__ import annotations

import io
import json
from collections import deque
from typing import Any, Mapping

import numpy as np

from ..events import Severity
from .base import SavesBytes, as_matrix, lower_bound, severity_of
from .forest import CompiledForest, TreeArrays, average_path_length


class IsolationForestDetector(SavesBytes):
    name = "iforest"

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int = 256,
        contamination: float = 0.1,
        window: int = 2000,
        warmup: int = 64,
        refit_every: int = 256,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.window = window
        self.warmup = warmup
        self.refit_every = refit_every
        self.random_state = random_state
        self.columns_: list[str] = []
        self._buffer: deque[np.ndarray] = deque(maxlen=window)
        self._since_fit = 0
        self._n_fits = 0
        self.fitted_ = False

    # ---- fitting ---------------------------------------------------------
    def fit(self, X: Any, columns: list[str] | None = None) -> "IsolationForestDetector":
        arr, cols = as_matrix(X, columns)
        if arr.shape[0] < 2:
            raise ValueError("need at least two rows to fit")
        self.columns_ = cols
        self._buffer = deque((r for r in arr[-self.window :]), maxlen=self.window)
        self._fit_array(arr)
        return self

    def _fit_array(self, arr: np.ndarray) -> None:
        arr = arr[np.all(np.isfinite(arr), axis=1)]
        if arr.shape[0] < 2:
            return
        self.mean_ = arr.mean(axis=0)
        std = arr.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        self.median_ = np.median(arr, axis=0)
        Z = (arr - self.mean_) / self.scale_
        rng = np.random.default_rng(self.random_state + self._n_fits)
        psi = int(min(self.max_samples, Z.shape[0]))
        self.psi_ = psi
        height = int(np.ceil(np.log2(max(psi, 2))))
        trees = [self._build_tree(Z[rng.choice(Z.shape[0], psi, replace=False)], height, rng) for _ in range(self.n_estimators)]
        self.forest_ = CompiledForest.from_trees([_tree_arrays(t) for t in trees], Z.shape[1], psi)
        raw = self._raw(Z)
        self._calibrate_from(raw)

    def _calibrate_from(self, raw: np.ndarray) -> None:
        self.offset_ = float(np.quantile(raw, 1.0 - self.contamination))
        # spread_: from the contamination quantile to the most unusual row in the
        # (normal) history. Beyond the latter a row is unlike anything learned.
        self.spread_ = float(max(raw.max() - self.offset_, 0.01))
        self.fitted_ = True
        self._since_fit = 0
        self._n_fits += 1

    @staticmethod
    def _build_tree(Z: np.ndarray, height: int, rng: np.random.Generator) -> tuple[list, list, list, list, list]:
        feat: list[int] = []
        thr: list[float] = []
        left: list[int] = []
        right: list[int] = []
        size: list[int] = []
        stack = [(np.arange(Z.shape[0]), 0, -1, False)]
        while stack:
            idx, depth, parent, is_right = stack.pop()
            node = len(feat)
            feat.append(-1)
            thr.append(0.0)
            left.append(-1)
            right.append(-1)
            size.append(len(idx))
            if parent >= 0:
                (right if is_right else left)[parent] = node
            if depth >= height or len(idx) <= 1:
                continue
            sub = Z[idx]
            lo, hi = sub.min(axis=0), sub.max(axis=0)
            candidates = np.flatnonzero(hi > lo)
            if candidates.size == 0:
                continue
            f = int(rng.choice(candidates))
            t = float(rng.uniform(lo[f], hi[f]))
            feat[node], thr[node] = f, t
            go_left = sub[:, f] <= t
            stack.append((idx[~go_left], depth + 1, node, True))
            stack.append((idx[go_left], depth + 1, node, False))
        return feat, thr, left, right, size

    def _raw(self, Z: np.ndarray) -> np.ndarray:
        """Anomaly score 2 ** (-E[h] / c(psi)) in (0, 1]: sklearn's -score_samples."""
        return -self.forest_.score_samples(Z)

    def _standardise(self, arr: np.ndarray) -> np.ndarray:
        arr = np.where(np.isfinite(arr), arr, self.median_)  # missing -> typical value
        return (arr - self.mean_) / self.scale_

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw scores onto the shared scale.

        Anchors: the contamination quantile of the history -> 0.5 (LOW starts),
        the history's maximum -> 0.6 (MEDIUM starts: unlike any normal row seen),
        then an exponential approach to 1 in units of that same spread.
        """
        below = 0.5 * np.clip(raw / max(self.offset_, 1e-12), 0.0, 1.0)
        top = self.offset_ + self.spread_
        mid = 0.5 + 0.1 * (raw - self.offset_) / self.spread_
        beyond = 0.6 + 0.4 * (1.0 - np.exp(-(raw - top) / self.spread_))
        return np.where(raw <= self.offset_, below, np.where(raw <= top, mid, beyond))

    def score(self, X: Any) -> np.ndarray:
        arr, _ = as_matrix(X, self.columns_ or None)
        if not self.fitted_:
            return np.zeros(arr.shape[0])
        return self.calibrate(self._raw(self._standardise(arr)))

    def zscores(self, X: Any) -> np.ndarray:
        arr, _ = as_matrix(X, self.columns_ or None)
        if not self.fitted_:
            return np.zeros_like(arr)
        return np.where(np.isfinite(arr), (arr - self.mean_) / self.scale_, 0.0)

    def partial_fit(self, X: Any) -> "IsolationForestDetector":
        """Learn rows (already judged normal); refit when enough new rows arrived."""
        arr, cols = as_matrix(X, self.columns_ or None)
        if not self.columns_:
            self.columns_ = cols
        for r in arr:
            self._buffer.append(r)
        self._since_fit += arr.shape[0]
        # Refit on a doubling schedule while history is short (64, 128, 256 ...), then every refit_every rows.
        due = min(self.refit_every, max(len(self._buffer) // 2, 1))
        if (not self.fitted_ and len(self._buffer) >= self.warmup) or (self.fitted_ and self._since_fit >= due):
            self._fit_array(np.asarray(self._buffer))
        return self

    def score_one(self, timestamp: Any, values: Mapping[str, float]) -> float:
        if not self.columns_:
            self.columns_ = sorted(values)
        row = np.array([[float(values.get(c, np.nan)) for c in self.columns_]])
        s = float(self.score(row)[0])
        if s < lower_bound(Severity.MEDIUM) and np.isfinite(row).any():
            self.partial_fit(row)
        return s

    def severity(self, score: float) -> Severity:
        return severity_of(score)

    # ---- persistence (npz + json, never pickle) --------------------------
    _ARRAYS = ("mean_", "scale_", "median_")

    def to_bytes(self) -> bytes:
        meta = {
            "detector": self.name,
            "params": {k: getattr(self, k) for k in ("n_estimators", "max_samples", "contamination", "window", "warmup", "refit_every", "random_state")},
            "columns": self.columns_,
            "fitted": self.fitted_,
            "since_fit": self._since_fit,
            "n_fits": self._n_fits,
        }
        arrays: dict[str, Any] = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        if self.fitted_:
            meta_f = {"psi": self.psi_, "offset": self.offset_, "spread": self.spread_}
            arrays["meta_fit"] = np.frombuffer(json.dumps(meta_f).encode(), dtype=np.uint8)
            arrays["forest"] = np.frombuffer(self.forest_.to_bytes(), dtype=np.uint8)
            for k in self._ARRAYS:
                arrays[k] = getattr(self, k)
        if self._buffer:
            arrays["buffer"] = np.asarray(self._buffer)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "IsolationForestDetector":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            det = cls(**meta["params"])
            det.columns_ = list(meta["columns"])
            det._since_fit = int(meta["since_fit"])
            det._n_fits = int(meta["n_fits"])
            if "buffer" in z:
                det._buffer = deque((r for r in z["buffer"]), maxlen=det.window)
            if meta["fitted"]:
                mf = json.loads(bytes(z["meta_fit"]).decode())
                det.psi_, det.offset_, det.spread_ = int(mf["psi"]), float(mf["offset"]), float(mf["spread"])
                for k in cls._ARRAYS:
                    setattr(det, k, z[k])
                det.forest_ = CompiledForest.from_bytes(bytes(z["forest"]))
                det.fitted_ = True
        return det


def _tree_arrays(tree: tuple[list, list, list, list, list]) -> TreeArrays:
    feat, thr, left, right, size = (np.asarray(x) for x in tree)
    depth = np.zeros(len(feat))
    for node in range(len(feat)):  # parents precede children in build order
        for child in (left[node], right[node]):
            if child >= 0:
                depth[child] = depth[node] + 1
    value = depth + average_path_length(size.astype(float))  # edges to the leaf + c(n_leaf)
    return TreeArrays(left, right, np.where(feat >= 0, feat, 0), thr.astype(float), value)
