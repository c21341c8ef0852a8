"""The scikit-learn pipeline of each model family: feature encoding and estimator in one object,
so the artifact that is deployed is exactly the thing that was cross-validated.

Its own module because both the training loop (``model``) and the hyperparameter search
(``search``) build pipelines, and neither should import the other to do it.
"""

from __future__ import annotations

from typing import Any, Mapping

from .dataset import Dataset

HGB, RF = "hist_gradient_boosting", "random_forest"


def build_pipeline(ds: Dataset, params: Mapping[str, Any], n_jobs: int = -1) -> Any:
    """``params`` with a concrete family in ``"model"`` (as ``train`` makes them with
    ``concrete_family``); ``n_jobs`` for the forest (gradient boosting's threads are OpenMP's)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    knobs = {k: v for k, v in params.items() if k not in ("model", "search")}
    family = params["model"]
    cats = list(ds.categorical)
    steps = []
    if family == HGB:
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.preprocessing import OrdinalEncoder

        if cats:  # native categories: one split can group levels, where one-hot needs a split per level
            enc = ColumnTransformer(
                [("ordinal", OrdinalEncoder(categories=[ds.categorical[c] for c in cats], handle_unknown="use_encoded_value",
                                            unknown_value=np.nan, dtype=float), cats)],
                remainder="passthrough", verbose_feature_names_out=False,
            )
            steps.append(("encode", enc))
        mask = [True] * len(cats) + [False] * (len(ds.features) - len(cats)) if cats else None
        est_cls = HistGradientBoostingClassifier if ds.task == "classification" else HistGradientBoostingRegressor
        steps.append(("model", est_cls(categorical_features=mask, early_stopping="auto", **knobs)))
        return Pipeline(steps)
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.preprocessing import OneHotEncoder

    if cats:
        enc = ColumnTransformer(
            [("onehot", OneHotEncoder(categories=[ds.categorical[c] for c in cats], handle_unknown="ignore"), cats)],
            remainder="passthrough",
            verbose_feature_names_out=False,
        )
        steps.append(("encode", enc))
    est_cls = RandomForestClassifier if ds.task == "classification" else RandomForestRegressor
    steps.append(("model", est_cls(n_jobs=n_jobs, **knobs)))
    return Pipeline(steps)
