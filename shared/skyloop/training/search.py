"""Hyperparameter search, bounded for in-function runs: scikit-learn's successive halving
(``HalvingRandomSearchCV``) over the forest's main knobs, with the row budget sized from
a timed probe fit so the whole search fits ``max_seconds`` on this machine.

Asked for in the sidecar: ``{"params": {"search": {"candidates": 12, "max_seconds": 120}}}``.
The winner's parameters then go through the usual k-fold CV, so the registered metrics
mean the same thing with or without a search.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

from .dataset import Dataset

SPACE: dict[str, list[Any]] = {
    "model__n_estimators": [50, 100, 200, 300],
    "model__max_depth": [None, 6, 10, 16],
    "model__min_samples_leaf": [1, 2, 4, 8],
    "model__max_features": ["sqrt", 0.5, None],
}
FACTOR = 3


def plan_rows(n_rows: int, candidates: int, folds: int, seconds_per_row: float, max_seconds: float,
              min_rows: int) -> int:
    """Largest row budget whose predicted halving cost fits ``max_seconds``.

    Successive halving with k candidates and factor f runs about log_f(k) rungs, each costing
    ~k * r0 rows x folds of fitting (candidates shrink by f as rows grow by f)."""
    rungs = max(1, math.ceil(math.log(max(candidates, 1), FACTOR)))
    budget = n_rows
    while budget > min_rows:
        r0 = budget / FACTOR ** (rungs - 1)
        if rungs * candidates * folds * r0 * seconds_per_row <= max_seconds:
            break
        budget = int(budget * 0.7)
    return max(budget, min_rows)


def search(ds: Dataset, base: Mapping[str, Any], *, folds: int, candidates: int = 12, max_seconds: float = 120.0,
           scoring: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (the estimator is experimental)
    from sklearn.model_selection import HalvingRandomSearchCV, KFold, StratifiedKFold

    from .model import build_pipeline

    t0 = time.perf_counter()
    rs = int(base.get("random_state", 42))
    probe_rows = min(len(ds.frame), 2000)
    probe = ds.frame.sample(probe_rows, random_state=rs) if probe_rows < len(ds.frame) else ds.frame
    tp = time.perf_counter()
    build_pipeline(ds, {**base, "n_estimators": 100}).fit(probe[ds.features], probe[ds.target])
    per_row = (time.perf_counter() - tp) / probe_rows
    min_rows = max(folds * 2 * max(len(ds.classes), 1), 30)
    rows = plan_rows(len(ds.frame), candidates, folds, per_row, max_seconds * 0.8, min_rows)
    cv = (StratifiedKFold(folds, shuffle=True, random_state=rs) if ds.task == "classification"
          else KFold(folds, shuffle=True, random_state=rs))
    frame = ds.frame if rows >= len(ds.frame) else ds.frame.sample(rows, random_state=rs)
    halving = HalvingRandomSearchCV(
        build_pipeline(ds, base), SPACE, n_candidates=candidates, factor=FACTOR, resource="n_samples",
        min_resources="exhaust", max_resources=len(frame), cv=cv, scoring=scoring, random_state=rs, refit=False,
        error_score="raise",
    )
    halving.fit(frame[ds.features], frame[ds.target])
    best = {k.removeprefix("model__"): v for k, v in halving.best_params_.items()}
    report = {"candidates": candidates, "rows_used": len(frame), "rows_total": len(ds.frame),
              "rungs": int(halving.n_iterations_), "best_cv_score": round(float(halving.best_score_), 6),
              "best_params": best, "max_seconds": max_seconds, "seconds": round(time.perf_counter() - t0, 2)}
    return {**base, **best}, report
