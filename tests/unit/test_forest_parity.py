"""The numpy scorer equals sklearn's IsolationForest.score_samples (max abs diff < 1e-9)."""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from skyloop.detection.forest import CompiledForest, from_sklearn
from skyloop.training.detector import fit_isolation_forest


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_rows=st.integers(2, 600),
    n_features=st.integers(1, 9),
    n_estimators=st.integers(1, 40),
    max_samples=st.one_of(st.just("auto"), st.integers(2, 300), st.floats(0.1, 1.0)),
    max_features=st.floats(0.3, 1.0),
    contamination=st.one_of(st.just("auto"), st.floats(0.01, 0.5)),
    scale=st.floats(1e-3, 1e4),
    discrete=st.booleans(),
    nan_rows=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_numpy_scores_equal_sklearn(n_rows, n_features, n_estimators, max_samples, max_features, contamination,
                                    scale, discrete, nan_rows, seed):
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(n_rows, n_features)) * scale
    if discrete:  # ties and repeated thresholds
        X = np.round(X / scale)
    if isinstance(max_samples, int):
        max_samples = min(max_samples, n_rows)
    if isinstance(max_samples, float):
        assume(int(max_samples * n_rows) >= 1)  # sklearn itself refuses an empty subsample
    model = IsolationForest(n_estimators=n_estimators, max_samples=max_samples, max_features=max_features,
                            contamination=contamination, random_state=seed % 1000).fit(X)
    forest = CompiledForest.from_bytes(from_sklearn(model).to_bytes())  # through the saved format
    Xt = np.vstack([X, rng.standard_t(2, size=(200, n_features)) * scale * 3, X[:5] + 1e-7])
    if nan_rows:
        Xt[rng.random(Xt.shape) < 0.05] = np.nan
    ours = forest.score_samples(Xt)
    assert np.max(np.abs(ours - model.score_samples(Xt))) < 1e-9
    assert np.max(np.abs(forest.score_samples(Xt, n_jobs=2) - ours)) == 0.0


def test_exported_pipeline_detector_matches_sklearn_pipeline():
    rng = np.random.default_rng(3)
    X = rng.normal([40, 50, 120], [3, 2, 8], size=(2000, 3))
    det, pipe = fit_isolation_forest(X, ["cpu", "mem", "lat"], contamination=0.1)
    Xt = rng.normal([40, 50, 120], [9, 6, 30], size=(500, 3))
    raw = det._raw(det._standardise(Xt))
    assert np.max(np.abs(raw + pipe.score_samples(Xt))) < 1e-9
    # the detector flags what the pipeline predicts as outliers (-1) at the same threshold
    flagged = det.score(Xt) > 0.5
    assert np.mean(flagged == (pipe.predict(Xt) == -1)) > 0.99
    again = type(det).from_bytes(det.to_bytes())
    assert np.array_equal(again.score(Xt), det.score(Xt))
