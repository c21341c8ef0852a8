"""The real-data benchmark's scorer follows NAB's standard profile (bench/realdata.py): the
numbers in bench/README.md are only as good as this arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.realdata import RealSeries, file_score, scaled_sigmoid, set_score


def test_scaled_sigmoid_weights() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)  # earliest in a window: ~0.987
    assert scaled_sigmoid(0.0) == 0.0 and scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(-0.5) > scaled_sigmoid(-0.1) > 0 > scaled_sigmoid(0.5)


def series() -> RealSeries:
    n = 1000  # probation: the first 150 records
    return RealSeries("s", np.arange(n) * 300.0, np.zeros(n), [(400, 499), (800, 899)])


def test_first_detection_per_window_counts_and_a_miss_costs_one() -> None:
    s = series()
    flags = np.zeros(1000, dtype=bool)
    flags[[410, 420, 430]] = True  # three in the first window: only the first counts
    raw, null, perfect, counts = file_score(flags, s)
    assert counts == {"tp": 1, "fn": 1, "fp": 0}
    assert raw == pytest.approx(scaled_sigmoid(-(499 - 410 + 1) / 100) - 1.0)
    assert null == -2.0 and perfect == pytest.approx(2 * scaled_sigmoid(-1.0))


def test_false_positives_cost_less_right_after_a_window_and_nothing_in_probation() -> None:
    s = series()
    near, far, early = (np.zeros(1000, dtype=bool) for _ in range(3))
    near[505] = True
    far[780] = True
    early[100] = True  # probation
    r_near, *_ = file_score(near, s)
    r_far, *_ = file_score(far, s)
    r_early, _, _, c = file_score(early, s)
    assert -2.0 - 0.11 < r_far < r_near < -2.0
    assert r_early == -2.0 and c["fp"] == 0


def test_the_set_score_is_normalised_between_nothing_and_perfect() -> None:
    s = series()
    nothing = np.zeros(1000)
    perfect = np.zeros(1000)
    perfect[[400, 800]] = 1.0
    assert set_score([nothing], [s], 0.5)[0] == 0.0
    assert set_score([perfect], [s], 0.5)[0] == pytest.approx(100.0)
