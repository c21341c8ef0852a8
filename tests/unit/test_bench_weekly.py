"""The weekly-demand suite (bench/weekly.py) plants what it says, where it says."""

import numpy as np

from bench import quality, weekly


def test_the_weekly_suite_plants_each_kind_on_its_day_after_the_third_week():
    data = weekly.dataset(24, 5)
    assert [s.values[:50].tolist() for s in data[:3]] == [s.values[:50].tolist() for s in weekly.dataset(3, 5)]
    kinds = set()
    for s in data:
        x = s.values[:, 0]
        assert len(x) == quality.N and np.nanmin(x) >= 0 and np.array_equal(x[np.isfinite(x)], np.round(x[np.isfinite(x)]))
        assert 1 <= len(s.onsets) <= 2 and np.all(np.diff(s.timestamps) == weekly.STEP)
        for onset, kind in zip(s.onsets, s.kinds):
            kinds.add(kind)
            assert onset >= 21 * weekly.DAY  # the weekly table has had three weeks
            wd = weekly.weekday_of(onset)
            if kind == "holiday":
                assert wd < 5
            if kind == "busy_weekend":
                assert wd == 5
    assert kinds == set(weekly.KINDS)


def test_a_holiday_is_the_weekend_shape_on_a_weekday():
    rng = np.random.default_rng(3)
    weekday, weekend = weekly.profiles(rng)
    x = np.ones(quality.N) * 100.0
    expected = x.copy()
    onset = weekly._plant("holiday", x, expected, 21, np.full(quality.N, 100.0), weekday, weekend, rng)
    day = onset // weekly.DAY
    assert weekly.weekday_of(onset) < 5 and day >= 21
    shape = x[day * weekly.DAY:(day + 1) * weekly.DAY] / weekend / 100.0
    assert np.allclose(shape, shape[0]) and 0.8 <= shape[0] <= 1.0  # the weekend's shape, 80-100% of its level
