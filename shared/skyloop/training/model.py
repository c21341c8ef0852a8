"""Model families in one pipeline shape, k-fold CV, and the held-back slice.

Two families, chosen per upload (``"model"`` in the sidecar or its params, ``--model`` on the
CLI) and recorded in the lineage:

- ``hist_gradient_boosting``: scikit-learn's histogram gradient boosting, text columns as
  native categories (ordinal codes, unknown -> missing), early stopping on a 10% validation
  split above 10,000 rows (scikit-learn's "auto");
- ``random_forest`` (the seed's): one-hot text columns, 100 trees by default;
- ``auto``, the default, by measurement: boosting from ``AUTO_BOOSTING_ROWS`` rows on, the
  forest below (see the constant for the numbers).

The pipeline owns the feature encoding, so the artifact that is deployed is exactly the thing
that was cross-validated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Mapping

from .dataset import Dataset

from .pipeline import HGB, RF, build_pipeline
FAMILY_PARAMS: dict[str, set[str]] = {
    HGB: {"learning_rate", "max_iter", "max_leaf_nodes", "max_depth", "min_samples_leaf", "l2_regularization"},
    RF: {"n_estimators", "max_depth", "min_samples_leaf", "max_features"},
}
AUTO = "auto"
# The default, by measurement (bench/results/training.json and the small sets in its notes): from
# this many rows on, gradient boosting is both faster and at least as accurate as the forest (10k
# rows: 1.4 s vs 6.4 s, CV 0.798 vs 0.788; 1M rows: about a minute vs 40); below it both train in
# seconds and the forest is as good or better (a 60-row regression: R2 0.95 vs 0.82).
AUTO_BOOSTING_ROWS = 5_000
DEFAULT_FAMILY = AUTO
COMMON_PARAMS = {"model", "random_state", "search"}
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {HGB: {}, RF: {"n_estimators": 100}}


@dataclass
class TrainedModel:
    pipeline: Any
    metrics: dict[str, float]
    params: dict[str, Any]
    primary_metric: str
    seconds: float
    search: dict[str, Any] | None = None
    holdout: "Any | None" = None  # the held-back rows (a DataFrame), never trained on


def holdout_split(ds: Dataset, fraction: float, seed: int = 42, min_rows: int = 30) -> tuple[Any, Any | None]:
    """(train frame, held-back frame or None). Stratified for classification; no slice
    when it would be too small to judge by or would leave a class too small for CV."""
    frame = ds.frame
    n_hold = int(round(len(frame) * fraction))
    if fraction <= 0 or n_hold < min_rows:
        return frame, None
    from sklearn.model_selection import train_test_split

    strat = frame[ds.target] if ds.task == "classification" else None
    if strat is not None and strat.value_counts().min() < 10:
        return frame, None
    train_part, held = train_test_split(frame, test_size=n_hold, random_state=seed, stratify=strat)
    return train_part, held


def evaluate(pipeline: Any, task: str, classes: list[Any], frame: Any, features: list[str], target: str) -> dict[str, float]:
    """The primary metrics of a fitted pipeline on rows it did not see (the gate's evidence)."""
    import numpy as np
    from sklearn import metrics as skm

    X, y = frame[features], frame[target]
    pred = pipeline.predict(X)
    if task == "regression":
        return {"r2": float(skm.r2_score(y, pred)), "rmse": float(np.sqrt(skm.mean_squared_error(y, pred)))}
    out = {"accuracy": float(skm.accuracy_score(y, pred)), "f1": float(skm.f1_score(y, pred, average="macro"))}
    if hasattr(pipeline, "predict_proba") and y.nunique() > 1:
        proba = pipeline.predict_proba(X)
        try:
            out["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]) if proba.shape[1] == 2
                                   else skm.roc_auc_score(y, proba, multi_class="ovr", labels=list(pipeline.classes_)))
        except ValueError:  # a class absent from the slice: AUC is undefined, the other metrics stand
            pass
    return out


def family_of(overrides: Mapping[str, Any] | None) -> str:
    """The family asked for; without one, the family whose knobs the params name (a sidecar
    written for the forest, {"n_estimators": 200}, keeps its forest), else the default."""
    from ..errors import InvalidDataset

    o = dict(overrides or {})
    if "model" in o:
        if o["model"] != AUTO and o["model"] not in FAMILY_PARAMS:
            raise InvalidDataset(f"unknown model family {o['model']!r}; known: {', '.join([AUTO, *sorted(FAMILY_PARAMS)])}")
        return str(o["model"])
    named = set(o) - COMMON_PARAMS
    only = [f for f, knobs in FAMILY_PARAMS.items() if named & knobs and named <= knobs]
    return only[0] if len(only) == 1 else DEFAULT_FAMILY


def concrete_family(params: Mapping[str, Any], rows: int) -> dict[str, Any]:
    """``"auto"`` made concrete for a dataset of ``rows`` rows (what the lineage records)."""
    if params.get("model", AUTO) != AUTO:
        return dict(params)
    family = HGB if rows >= AUTO_BOOSTING_ROWS else RF
    return {**params, "model": family, **{k: v for k, v in FAMILY_DEFAULTS[family].items() if k not in params}}


def resolve_params(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    from ..errors import InvalidDataset

    family = family_of(overrides)
    params: dict[str, Any] = {"model": family, "random_state": 42, **FAMILY_DEFAULTS.get(family, {})}
    # "auto" takes the knobs both families share; a family's own knobs choose that family
    allowed = COMMON_PARAMS | (FAMILY_PARAMS[HGB] & FAMILY_PARAMS[RF] if family == AUTO else FAMILY_PARAMS[family])
    for k, v in (overrides or {}).items():
        if k not in allowed:
            raise InvalidDataset(f"unknown training parameter {k!r} for {family}; allowed: {', '.join(sorted(allowed))}")
        params[k] = v
    if "search" in params:
        params["search"] = _search_spec(params["search"])
    return params


def _search_spec(spec: Any) -> dict[str, Any]:
    from ..errors import InvalidDataset

    if spec is True:
        spec = {}
    if not isinstance(spec, dict) or set(spec) - {"candidates", "max_seconds"}:
        raise InvalidDataset('search must be true or {"candidates": N, "max_seconds": S}')
    out = {"candidates": spec.get("candidates", 12), "max_seconds": spec.get("max_seconds", 120)}
    if not (isinstance(out["candidates"], int) and 2 <= out["candidates"] <= 200):
        raise InvalidDataset("search.candidates must be an integer from 2 to 200")
    if not (isinstance(out["max_seconds"], (int, float)) and 1 <= out["max_seconds"] <= 3600):
        raise InvalidDataset("search.max_seconds must be between 1 and 3600")
    return out


def _scoring(ds: Dataset) -> tuple[dict[str, str], str]:
    if ds.task == "regression":
        return {"r2": "r2", "rmse": "neg_root_mean_squared_error"}, "r2"
    if len(ds.classes) == 2:
        return {"accuracy": "accuracy", "f1": "f1_macro", "roc_auc": "roc_auc"}, "accuracy"
    return {"accuracy": "accuracy", "f1": "f1_macro", "roc_auc": "roc_auc_ovr"}, "accuracy"


def train(ds: Dataset, params: Mapping[str, Any], folds: int = 5, holdout: float = 0.0) -> TrainedModel:
    """k-fold CV for the metrics, then one fit for the artifact. With ``holdout`` a slice is
    held back first: CV and the fit see only the rest, so the slice is honest evidence
    for the gate (the deployed model is exactly the one that was judged)."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    t0 = time.perf_counter()
    params = concrete_family(params, len(ds.frame))
    scoring, primary = _scoring(ds)
    full = ds
    train_part, held = holdout_split(ds, holdout, seed=int(params.get("random_state", 42)))
    ds = replace(ds, frame=train_part)  # the search and CV never see the held-back rows
    searched = None
    if params.get("search"):
        from .search import search

        spec = params["search"]
        base = {k: v for k, v in params.items() if k != "search"}
        params, searched = search(ds, base, folds=folds, candidates=spec["candidates"], max_seconds=spec["max_seconds"],
                                  scoring=scoring[primary])
    rs = int(params.get("random_state", 42))
    cv = (
        StratifiedKFold(n_splits=folds, shuffle=True, random_state=rs)
        if ds.task == "classification"
        else KFold(n_splits=folds, shuffle=True, random_state=rs)
    )
    X, y = ds.X, ds.y
    res = cross_validate(build_pipeline(ds, params), X, y, cv=cv, scoring=scoring, error_score="raise")
    metrics: dict[str, float] = {}
    for name in scoring:
        vals = np.asarray(res[f"test_{name}"], dtype=float)
        if name == "rmse":
            vals = -vals
        if np.all(np.isfinite(vals)):
            metrics[f"cv_{name}_mean"] = float(vals.mean())
            metrics[f"cv_{name}_std"] = float(vals.std())
    final = build_pipeline(ds, params)
    final.fit(X, y)
    if held is not None:
        for name, value in evaluate(final, full.task, full.classes, held, full.features, full.target).items():
            metrics[f"holdout_{name}"] = value
    return TrainedModel(final, metrics, dict(params), primary, time.perf_counter() - t0, searched, held)
