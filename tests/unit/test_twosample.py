"""The canary's two-sample judgement: Mann-Whitney and the Hodges-Lehmann shift, without scipy."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from skyloop.detection.twosample import compare, direction_of, _mann_whitney_p


@pytest.mark.parametrize("seed", range(5))
def test_the_p_value_is_scipys_normal_approximation_with_ties(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0.4, 1, 12).round(1), rng.normal(0, 1, 17).round(1)  # rounded: many ties
    assert _mann_whitney_p(x, y) == pytest.approx(mannwhitneyu(x, y, method="asymptotic").pvalue, rel=1e-9)


def test_the_shift_interval_covers_the_true_shift_at_its_confidence():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(400):
        c = compare("m", rng.standard_t(3, 12) + 2.0, rng.standard_t(3, 15), confidence=0.9, tolerance=0.0)
        hits += c.low <= 2.0 <= c.high
    assert 0.85 <= hits / 400 <= 0.95


def _minutes(rng, mean, sd, calls, n=30):
    """Per-minute means of a variant's calls: the fewer calls, the noisier the minute."""
    return np.array([rng.normal(mean, sd, max(1, rng.poisson(calls))).mean() for _ in range(n)])


def test_a_low_traffic_canary_a_little_slower_passes_and_a_much_slower_one_fails():
    rng = np.random.default_rng(1)
    prod = _minutes(rng, 12.0, 0.6, 36)
    slightly = compare("latency_ms", _minutes(rng, 12.5, 0.6, 4), prod, confidence=0.98, tolerance=0.2)
    assert slightly.verdict == "pass" and slightly.low > 0  # significant, but within the tolerance
    much = compare("latency_ms", _minutes(rng, 30.0, 1.5, 4), prod, confidence=0.98, tolerance=0.2)
    assert much.verdict == "worse" and much.low > 0.2 * np.median(prod)
    assert "Mann-Whitney" in much.evidence(0.98)


def test_errors_and_latency_fail_only_upwards_other_metrics_either_way():
    rng = np.random.default_rng(2)
    faster = compare("latency_ms", rng.normal(6, 0.3, 20), rng.normal(12, 0.3, 20), confidence=0.98, tolerance=0.2)
    assert faster.verdict == "pass" and faster.high < 0
    lower = compare("prediction_mean", rng.normal(0.15, 0.02, 20), rng.normal(0.3, 0.02, 20), confidence=0.98,
                    tolerance=0.2)
    assert lower.verdict == "worse"
    assert [direction_of(m) for m in ("error_rate", "ModelLatency", "prediction_mean")] == ["up", "up", "either"]


def test_an_error_rate_over_a_zero_baseline_needs_more_than_one_bad_minute():
    one = np.zeros(10)
    one[4] = 0.25  # one failed call of four
    assert compare("error_rate", one, np.zeros(20), confidence=0.98, tolerance=0.2).verdict == "pass"
    assert compare("error_rate", np.full(10, 0.5), np.zeros(20), confidence=0.98, tolerance=0.2).verdict == "worse"


def test_too_few_samples_or_all_missing_is_no_data():
    assert compare("m", np.ones(4), np.ones(20), confidence=0.98, tolerance=0.2).verdict == "nodata"
    assert compare("m", np.full(10, np.nan), np.ones(20), confidence=0.98, tolerance=0.2).verdict == "nodata"
    same = compare("m", np.ones(10), np.ones(10), confidence=0.98, tolerance=0.2)
    assert same.verdict == "pass" and same.p == 1.0
