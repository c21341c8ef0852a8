"""Drift of inference inputs and predictions against the training data: PSI and KS per feature.

The reference is taken at training time (``reference_profile``) and kept in the model's
lineage: for each numeric feature the training deciles, the share of rows in each, and a
sample for the KS test; for each text feature the share of each level; and the share of
each predicted class (or the deciles of predictions, for regression). numpy only: it runs
next to the detector, not the trainer.

Thresholds follow common practice: PSI >= 0.2 is a significant shift (0.1-0.2 moderate);
KS flags a feature when the two-sample test rejects at ``ks_alpha`` *and* the distance is at
least ``ks_min_d``, so that a huge window does not flag a shift too small to matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

EPS = 1e-4  # floor for empty bins: PSI stays finite


@dataclass(frozen=True)
class DriftThresholds:
    psi: float = 0.2
    ks_alpha: float = 0.01
    ks_min_d: float = 0.1
    min_rows: int = 50


def _edges(values: np.ndarray, bins: int = 10) -> list[float]:
    qs = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return sorted(set(float(q) for q in qs))


def _shares(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    idx = np.searchsorted(np.asarray(edges), values, side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return counts / max(counts.sum(), 1.0)


def psi(expected: ArrayLike, actual: ArrayLike) -> float:
    e = np.maximum(np.asarray(expected, float), EPS)
    a = np.maximum(np.asarray(actual, float), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_2samp(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (D, asymptotic p-value), as scipy's 'asymp' method."""
    x, y = np.sort(np.asarray(x, float)), np.sort(np.asarray(y, float))
    both = np.concatenate([x, y])
    d = float(np.max(np.abs(np.searchsorted(x, both, side="right") / len(x)
                            - np.searchsorted(y, both, side="right") / len(y))))
    en = math.sqrt(len(x) * len(y) / (len(x) + len(y)))
    lam = (en + 0.12 + 0.11 / en) * d  # Stephens' small-sample correction
    if lam < 1e-3:
        return d, 1.0
    p = 2.0 * sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam) for k in range(1, 101))
    return d, float(min(max(p, 0.0), 1.0))


def reference_profile(columns: Mapping[str, Sequence[Any]], categorical: Sequence[str], predictions: Sequence[Any],
                      *, classification: bool, sample: int = 500, seed: int = 0) -> dict[str, Any]:
    """What drift is measured against, small enough for the registry (a few KB per feature)."""
    rng = np.random.default_rng(seed)
    ref: dict[str, Any] = {"features": {}}
    for name, values in columns.items():
        if name in categorical:
            levels, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
            ref["features"][name] = {"kind": "categorical", "shares": dict(zip(levels.tolist(), (counts / counts.sum()).round(6).tolist()))}
        else:
            v = np.asarray(values, float)
            edges = _edges(v)
            pick = v if len(v) <= sample else rng.choice(v, sample, replace=False)
            ref["features"][name] = {"kind": "numeric", "edges": edges, "shares": _shares(v, edges).round(6).tolist(),
                                     "sample": np.round(pick, 6).tolist()}
    preds = np.asarray(predictions)
    if classification:
        levels, counts = np.unique(preds.astype(str), return_counts=True)
        ref["prediction"] = {"kind": "categorical", "shares": dict(zip(levels.tolist(), (counts / counts.sum()).round(6).tolist()))}
    else:
        p = preds.astype(float)
        edges = _edges(p)
        ref["prediction"] = {"kind": "numeric", "edges": edges, "shares": _shares(p, edges).round(6).tolist(),
                             "sample": np.round(p if len(p) <= sample else rng.choice(p, sample, replace=False), 6).tolist()}
    return ref


def _compare(spec: Mapping[str, Any], values: Sequence[Any], t: DriftThresholds) -> dict[str, Any]:
    if spec["kind"] == "categorical":
        ref = spec["shares"]
        vals = np.asarray(values, dtype=str)
        levels = sorted(set(ref) | set(np.unique(vals).tolist()))
        cur = [float(np.mean(vals == lv)) for lv in levels]
        score = psi([ref.get(lv, 0.0) for lv in levels], cur)
        unseen = sorted(set(np.unique(vals).tolist()) - set(ref))
        return {"psi": round(score, 4), "unseen_levels": unseen[:5], "drifted": score >= t.psi}
    v = np.asarray(values, float)
    score = psi(spec["shares"], _shares(v, spec["edges"]))
    d, p = ks_2samp(np.asarray(spec["sample"], float), v)
    ks_flag = p < t.ks_alpha and d >= t.ks_min_d
    return {"psi": round(score, 4), "ks_d": round(d, 4), "ks_p": float(f"{p:.3g}"),
            "drifted": bool(score >= t.psi or ks_flag)}


@dataclass
class DriftReport:
    rows: int
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    prediction: dict[str, Any] | None = None
    enough_data: bool = True

    @property
    def drifted_features(self) -> list[str]:
        return [f for f, r in self.features.items() if r["drifted"]]

    @property
    def drifted(self) -> bool:
        return self.enough_data and (bool(self.drifted_features) or bool(self.prediction and self.prediction["drifted"]))

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "drifted": self.drifted, "drifted_features": self.drifted_features,
                "enough_data": self.enough_data, "features": self.features, "prediction": self.prediction}


def drift_report(reference: Mapping[str, Any], columns: Mapping[str, Any], predictions: Sequence[Any] | None = None,
                 thresholds: DriftThresholds | None = None) -> DriftReport:
    t = thresholds or DriftThresholds()
    n = len(next(iter(columns.values()))) if columns else 0
    report = DriftReport(rows=n, enough_data=n >= t.min_rows)
    for name, spec in reference["features"].items():
        if name in columns:
            report.features[name] = _compare(spec, columns[name], t)
    if predictions is not None and "prediction" in reference:
        report.prediction = _compare(reference["prediction"], predictions, t)
    return report
