"""The adaptive streaming detector (the default before `likelihood`): seasonality, shifts, leaks, bursts, persistence."""

import math

import numpy as np
import pytest

from skyloop.detection import AdaptiveDetector, load_detector
from skyloop.events import Severity

STEP = 300.0
DAY = 288


def series(n, seed=0, amp=30.0, sigma=2.0, level=100.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + amp * np.sin(2 * np.pi * t / DAY) + rng.normal(0, sigma, n)


def stream(det, x, start=0):
    return np.array([det.score_one(1_767_225_600 + STEP * (start + i), {"m": float(v)}) for i, v in enumerate(x)])


def test_learns_the_daily_cycle_instead_of_flagging_it():
    x = series(5 * DAY)
    s = stream(AdaptiveDetector(), x)
    # after the first day the cycle (amplitude 15 sigma) is baseline, not anomaly
    assert np.mean(s[2 * DAY :] >= 0.6) < 0.01


@pytest.mark.parametrize("kind", ["spike", "level_shift", "leak", "variance_burst", "dropout"])
def test_detects_each_kind_soon_after_onset(kind):
    x = series(5 * DAY, seed=1)
    onset = 4 * DAY
    if kind == "spike":
        x[onset] += 40
    elif kind == "level_shift":
        x[onset:] += 20
    elif kind == "leak":
        x[onset:] += np.arange(5 * DAY - onset) * 0.25
    elif kind == "variance_burst":
        x[onset : onset + 40] += np.random.default_rng(2).normal(0, 14, 40)
    elif kind == "dropout":
        x[onset : onset + 30] = 0.0
    s = stream(AdaptiveDetector(), x)
    hits = np.flatnonzero(s[onset:] >= 0.6)
    assert hits.size and hits[0] <= 60, (kind, hits[:5])
    assert np.mean(s[2 * DAY : onset] >= 0.6) < 0.01


def test_level_shift_becomes_the_new_normal():
    x = series(5 * DAY, seed=3)
    x[3 * DAY :] += 25
    s = stream(AdaptiveDetector(), x)
    assert s[3 * DAY : 3 * DAY + 10].max() >= 0.6
    assert np.mean(s[3 * DAY + 100 :] >= 0.6) < 0.02  # accepted after the change point


def test_missing_values_and_new_metrics_are_tolerated():
    det = AdaptiveDetector()
    for i in range(100):
        v = {"a": float("nan") if i % 5 == 0 else 10.0 + math.sin(i), "b": 3.0}
        assert 0.0 <= det.score_one(1_767_225_600 + 60 * i, v) <= 1.0
    assert det.score_one(1_767_225_600 + 60 * 101, {"a": 10.0}) < 0.6  # b missing


def test_state_round_trips_and_continues_identically(tmp_path):
    x = series(2 * DAY, seed=4)
    a = AdaptiveDetector()
    stream(a, x[:DAY + 50])
    a.save(tmp_path / "a.npz")
    b = load_detector(tmp_path / "a.npz")
    rest = x[DAY + 50 :]
    assert np.array_equal(stream(a, rest, DAY + 50), stream(b, rest, DAY + 50))


def test_batch_process_equals_record_by_record():
    x = series(DAY, seed=5)[:, None]
    ts = 1_767_225_600 + STEP * np.arange(DAY)
    a, b = AdaptiveDetector(), AdaptiveDetector()
    a.columns_ = b.columns_ = ["m"]
    scores, z = a.process(x, ts)
    assert np.allclose(scores, [b.score_one(t, {"m": float(v)}) for t, v in zip(ts, x[:, 0])])
    assert z.shape == x.shape


def test_severity_bands():
    det = AdaptiveDetector()
    assert det.severity(0.95) == Severity.CRITICAL and det.severity(0.1) == Severity.NORMAL
