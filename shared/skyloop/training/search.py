"""Hyperparameter search, bounded for in-function runs: scikit-learn's successive halving
over the model family's main knobs, stopped by a deadline: every fit's time is predicted from
the fits before it, so the whole search fits ``max_seconds`` on this machine.

Asked for in the sidecar: ``{"params": {"search": {"candidates": 12, "max_seconds": 120}}}``.
The winner's parameters then go through the usual k-fold CV, so the registered metrics
mean the same thing with or without a search.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

from .dataset import Dataset

SPACES: dict[str, dict[str, list[Any]]] = {
    "random_forest": {
        "model__n_estimators": [50, 100, 200, 300],
        "model__max_depth": [None, 6, 10, 16],
        "model__min_samples_leaf": [1, 2, 4, 8],
        "model__max_features": ["sqrt", 0.5, None],
    },
    "hist_gradient_boosting": {
        "model__learning_rate": [0.03, 0.1, 0.2],
        "model__max_iter": [100, 200, 400],
        "model__max_leaf_nodes": [15, 31, 63],
        "model__min_samples_leaf": [5, 20, 50],
        "model__l2_regularization": [0.0, 0.1, 1.0],
    },
}
FACTOR = 3


def _cost_units(params: Mapping[str, Any], rows: int, folds: int, n_features: int) -> float:
    """Relative cost of cross-validating one candidate: trees (or boosting iterations) x rows x
    folds x features tried per split (fit time grows about linearly in each)."""
    if "model__max_iter" in params:  # boosting: every iteration builds one histogram tree on all features
        leaves = params.get("model__max_leaf_nodes", 31) / 31.0
        return params["model__max_iter"] * rows * folds * n_features * (0.5 + 0.5 * leaves)
    mf = params.get("model__max_features", "sqrt")
    per_split = (math.sqrt(n_features) if mf == "sqrt" else n_features * (mf if isinstance(mf, float) else 1.0))
    depth = params.get("model__max_depth")
    shallow = 0.6 if depth is not None and depth <= 6 else 1.0
    return params.get("model__n_estimators", 100) * rows * folds * max(per_split, 1.0) * shallow


def search(ds: Dataset, base: Mapping[str, Any], *, folds: int, candidates: int = 12, max_seconds: float = 120.0,
           scoring: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Successive halving with a deadline. Before every candidate's fit the time it will take
    is predicted from the fits so far (seconds per cost unit, see ``_cost_units``); a fit that
    would end past ``max_seconds`` is not started (a cheaper one may still be), no rung starts
    after one was cut short, and the best candidate of the deepest rung reached wins. scikit-learn's ``HalvingRandomSearchCV`` cannot be stopped part-way, and a
    budget asked for 4 s once took 15.9 s with it."""
    t0 = time.perf_counter()  # the budget counts from the call: imports and the probe are part of it
    from sklearn.model_selection import KFold, ParameterSampler, StratifiedKFold, cross_val_score

    from .pipeline import build_pipeline

    deadline = t0 + max_seconds
    rs = int(base.get("random_state", 42))
    n_features = max(len(ds.features) + sum(len(v) - 1 for v in ds.categorical.values()), 1)
    family = base.get("model", "random_forest")
    base = {**base, "model": family}
    cands = list(ParameterSampler(SPACES[family], candidates, random_state=rs))
    min_rows = max(folds * 2 * max(len(ds.classes), 1), 30)
    rungs = max(1, math.ceil(math.log(max(candidates, 1), FACTOR)))
    n = len(ds.frame)
    rows = [min(n, max(min_rows, int(n / FACTOR ** (rungs - 1 - i)))) for i in range(rungs)]
    cv = (StratifiedKFold(folds, shuffle=True, random_state=rs) if ds.task == "classification"
          else KFold(folds, shuffle=True, random_state=rs))
    # calibrate: one small fit tells this machine's seconds per cost unit
    probe = {"model__max_iter": 10} if family == "hist_gradient_boosting" else {"model__n_estimators": 10, "model__max_features": "sqrt"}
    probe_params = {**base, **{k.removeprefix("model__"): v for k, v in probe.items()}}
    p_rows = min(n, rows[0])
    frame = ds.frame.sample(p_rows, random_state=rs) if p_rows < n else ds.frame
    rate = math.inf
    for _ in range(2):  # the first fit also pays scikit-learn's lazy imports: the faster one is the machine's
        tp = time.perf_counter()
        build_pipeline(ds, probe_params, n_jobs=1).fit(frame[ds.features], frame[ds.target])
        rate = min(rate, (time.perf_counter() - tp) / _cost_units(probe, p_rows, 1, n_features))
    alive = list(range(len(cands)))
    scores: dict[int, float] = {}
    reached, stopped, fits = 0, False, 0
    for rung, r in enumerate(rows):
        frame = ds.frame if r >= n else ds.frame.sample(r, random_state=rs + rung)
        rung_scores: dict[int, float] = {}
        for i in alive:
            est = 1.25 * rate * _cost_units(cands[i], r, folds, n_features)  # with a margin
            if time.perf_counter() + est > deadline:  # skip it: a cheaper candidate may still fit
                stopped = True
                continue
            tf = time.perf_counter()
            params = {**base, **{k.removeprefix("model__"): v for k, v in cands[i].items()}}
            rung_scores[i] = float(cross_val_score(build_pipeline(ds, params, n_jobs=1), frame[ds.features],
                                                   frame[ds.target], cv=cv, scoring=scoring).mean())
            # the machine's real rate, learned from every fit (the probe's guess fades quickly)
            seen = (time.perf_counter() - tf) / _cost_units(cands[i], r, folds, n_features)
            rate = seen if fits == 0 else 0.5 * rate + 0.5 * max(seen, rate * 0.5)
            fits += 1
        if rung_scores:
            scores, reached = rung_scores, rung + 1
        if stopped or len(alive) <= 1:
            break
        alive = sorted(rung_scores, key=lambda i: -rung_scores[i])[:max(1, math.ceil(len(rung_scores) / FACTOR))]
    best_i = max(scores, key=lambda i: scores[i]) if scores else None
    best = {} if best_i is None else {k.removeprefix("model__"): v for k, v in cands[best_i].items()}
    report = {"candidates": candidates, "rows_used": rows[reached - 1] if reached else 0, "rows_total": n,
              "rungs": reached, "fits": fits, "stopped_by_budget": stopped,
              "best_cv_score": None if best_i is None else round(scores[best_i], 6),
              "best_params": best, "max_seconds": max_seconds, "seconds": round(time.perf_counter() - t0, 2)}
    return {**base, **best}, report
