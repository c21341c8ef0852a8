"""A time-of-day baseline: what each metric did at this time on previous days ("same time yesterday").

The likelihood detector's shift channel needs, besides the metric's slow level, a reference that
carries the daily cycle, or a drift on a metric with a strong cycle is lost in the cycle itself.
It used to run the whole adaptive detector for that, and used only its residual: two thirds of
its per-record cost went to tests (CUSUM, variance, re-levelling) whose verdicts it discarded,
and p99 latency went over budget. This is the part it used, alone: the adaptive detector's
smoothed slot table, 288 five-minute slots a day, with its robust scale. Scored against the same
real and generated suites it gives the same results (bench/README.md).

The same table with a week's period and 336 half-hour slots is the "same time last week"
reference, which the detector uses instead where it fits a metric much better (bench/weekly.py).

A record the detector found rare (``hot``) barely moves its slot (5% instead of 50%) and its scale
(a tenth of the rate), so an incident does not become yesterday's normal by tomorrow. Until a
day has passed and ``warmup`` records have met a filled slot, it says nothing (residual 0): the
slow level judges alone.
"""

from __future__ import annotations

import numpy as np

from .streaming import DEV_TO_SIGMA

SLOTS = 288  # five-minute slots of the day
DAY = 86400.0
WEEK = 7 * DAY
WEEK_SLOTS = 336  # half-hour slots of the week (five-minute ones would be 7x the state for 7x less data each)
# The weekly table's epoch: 1970-01-01 was a Thursday, so slot 0 is Thursday 00:00 UTC.
DEV_RATE, SLOT_RATE, HOT_DAMP, REL_FLOOR = 0.02, 0.5, 0.1, 0.005  # as the adaptive detector's slot table
# A week's slot is met once a week, so one noisy week would be half its reference: it averages about
# three (bench/weekly.py, tuning seed: 0.5 -> 42.6, 0.3 -> 47.8, 0.2 -> 44.8 at MEDIUM).
WEEK_SLOT_RATE = 0.3
# How well the table has fitted lately: a decayed mean absolute residual, ~500 records of memory,
# long enough that the choice between the day's and the week's table does not follow one day's luck.
FIT_RATE = 0.002


class TimeOfDay:
    """Per metric, a smoothed value for each slot of the period (a day by default) and a robust
    scale (state in plain arrays)."""

    STATE = ("slot", "slot_n", "slot_dev", "slot_seen", "slot_fit")

    def __init__(self, m: int, warmup: int, period: float = DAY, slots: int = SLOTS, rate: float = SLOT_RATE) -> None:
        self.warmup, self.period, self.slots, self.rate = warmup, period, slots, rate
        self.slot = np.zeros((m, slots))
        self.slot_n = np.zeros((m, slots))
        self.slot_dev = np.zeros(m)
        self.slot_seen = np.zeros(m)
        self.slot_fit = np.zeros(m)
        self.t0: float | None = None
        self._si: int | None = None
        self.ready = np.zeros(m, dtype=bool)

    def locate(self, t: float | None, m: int) -> None:
        """Find t's slot for ``learn`` without judging anything (``ready`` is all false)."""
        self._si = None if t is None else int((t % self.period) / self.period * self.slots) % self.slots
        self.ready = np.zeros(m, dtype=bool)

    def z(self, t: float | None, x: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """The residual against this time of the period, in its robust sigmas; 0 where it has no say
        yet (``ready`` says where it has)."""
        self.locate(t, len(x))
        if self._si is None or self.t0 is None or t is None or t - self.t0 < self.period:
            return np.zeros(len(x))
        ref = self.slot[:, self._si]
        self.ready = ok & (self.slot_n[:, self._si] > 0) & (self.slot_seen >= self.warmup)
        scale = np.maximum(self.slot_dev * DEV_TO_SIGMA, np.maximum(REL_FLOOR * np.abs(ref), 1e-9))
        return np.where(self.ready, (x - ref) / scale, 0.0)

    def learn(self, t: float | None, x: np.ndarray, ok: np.ndarray, hot: np.ndarray) -> None:
        """Fold in the record ``z`` just judged; ``hot``: the metrics the detector found rare in it."""
        if t is None or self._si is None:
            return
        self.t0 = t if self.t0 is None else self.t0
        j = self._si
        col = self.slot[:, j]
        filled = self.slot_n[:, j] > 0
        if ok.all() and filled.all() and not hot.any() and self.slot_seen.min() >= 1.0 / FIT_RATE:
            # the common record, past both rates' youth: the same arithmetic with scalar rates
            # (this runs twice a record, for the day's table and the week's)
            r = x - col
            ar = np.abs(r)
            self.slot_dev = self.slot_dev + DEV_RATE * (ar - self.slot_dev)
            self.slot_fit = self.slot_fit + FIT_RATE * (ar - self.slot_fit)
            self.slot_seen += 1.0
            self.slot[:, j] = col + self.rate * r
            self.slot_n[:, j] += 1.0
            return
        have = ok & filled
        r = np.where(have, x - col, 0.0)
        ar = np.abs(r)
        young = 1.0 / (self.slot_seen + 1.0)
        damp = np.where(hot, HOT_DAMP, 1.0)
        self.slot_dev = self.slot_dev + np.maximum(DEV_RATE, young) * damp * have * (ar - self.slot_dev)
        self.slot_fit = self.slot_fit + np.maximum(FIT_RATE, young) * (have & ~hot) * (ar - self.slot_fit)
        self.slot_seen += have
        self.slot[:, j] = np.where(ok & ~have, x, col + self.rate * damp * r)
        self.slot_n[:, j] += ok


__all__ = ["TimeOfDay"]
