"""Training side of detection: the seed's recipe (StandardScaler + sklearn IsolationForest),
exported so that the detect path scores it with numpy alone.

The exported detector scores exactly as the sklearn pipeline would
(``-score_samples`` of the scaled rows, max abs difference < 1e-9, tested), and
saves as npz + JSON: a detect function loads it without sklearn and without pickle.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from ..detection.base import as_matrix
from ..detection.forest import from_sklearn
from ..detection.iforest import IsolationForestDetector


def fit_isolation_forest(
    X: Any,
    columns: list[str] | None = None,
    *,
    contamination: float = 0.1,
    n_estimators: int = 100,
    max_samples: int | str = "auto",
    random_state: int = 0,
) -> tuple[IsolationForestDetector, Any]:
    """Fit with scikit-learn; return (numpy detector, the sklearn pipeline it mirrors)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    arr, cols = as_matrix(X, columns)
    arr = arr[np.all(np.isfinite(arr), axis=1)]
    if arr.shape[0] < 2:
        raise ValueError("need at least two complete rows to fit")
    pipe = make_pipeline(
        StandardScaler(),
        IsolationForest(n_estimators=n_estimators, max_samples=max_samples, contamination=contamination,
                        random_state=random_state),
    )
    pipe.fit(arr)
    scaler, model = pipe[0], pipe[1]
    det = IsolationForestDetector(n_estimators=n_estimators, max_samples=int(model.max_samples_),
                                  contamination=contamination, random_state=random_state)
    det.columns_ = cols
    det.mean_, det.scale_ = np.asarray(scaler.mean_, dtype=float), np.asarray(scaler.scale_, dtype=float)
    det.median_ = np.median(arr, axis=0)
    det.forest_ = from_sklearn(model)
    det.psi_ = int(model.max_samples_)
    det._buffer = deque((r for r in arr[-det.window :]), maxlen=det.window)
    det._calibrate_from(det._raw(det._standardise(arr)))
    return det, pipe
