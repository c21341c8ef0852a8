"""A time-of-day baseline: what each metric did at this time on previous days ("same time yesterday").

The likelihood detector's shift channel needs, besides the metric's slow level, a reference that
carries the daily cycle, or a drift on a metric with a strong cycle is lost in the cycle itself.
It used to run the whole adaptive detector for that, and used only its residual: two thirds of
its per-record cost went to tests (CUSUM, variance, re-levelling) whose verdicts it discarded,
and p99 latency went over budget. This is the part it used, alone: the adaptive detector's
smoothed slot table, 288 five-minute slots a day, with its robust scale. Scored against the same
real and generated suites it gives the same results (bench/README.md).

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
DEV_RATE, SLOT_RATE, HOT_DAMP, REL_FLOOR = 0.02, 0.5, 0.1, 0.005  # as the adaptive detector's slot table


class TimeOfDay:
    """Per metric, a smoothed value for each slot of the day and a robust scale (state in plain arrays)."""

    STATE = ("slot", "slot_n", "slot_dev", "slot_seen")

    def __init__(self, m: int, warmup: int) -> None:
        self.warmup = warmup
        self.slot = np.zeros((m, SLOTS))
        self.slot_n = np.zeros((m, SLOTS))
        self.slot_dev = np.zeros(m)
        self.slot_seen = np.zeros(m)
        self.t0: float | None = None
        self._si: int | None = None

    def z(self, t: float | None, x: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """The residual against this time of day, in its robust sigmas; 0 where it has no say yet."""
        self._si = None if t is None else int((t % DAY) / DAY * SLOTS) % SLOTS
        if self._si is None or self.t0 is None or t is None or t - self.t0 < DAY:
            return np.zeros(len(x))
        ref = self.slot[:, self._si]
        ready = ok & (self.slot_n[:, self._si] > 0) & (self.slot_seen >= self.warmup)
        scale = np.maximum(self.slot_dev * DEV_TO_SIGMA, np.maximum(REL_FLOOR * np.abs(ref), 1e-9))
        return np.where(ready, (x - ref) / scale, 0.0)

    def learn(self, t: float | None, x: np.ndarray, ok: np.ndarray, hot: np.ndarray) -> None:
        """Fold in the record ``z`` just judged; ``hot``: the metrics the detector found rare in it."""
        if t is None or self._si is None:
            return
        self.t0 = t if self.t0 is None else self.t0
        j = self._si
        have = ok & (self.slot_n[:, j] > 0)
        r = np.where(have, x - self.slot[:, j], 0.0)
        rate = np.maximum(DEV_RATE, 1.0 / (self.slot_seen + 1.0)) * np.where(hot, HOT_DAMP, 1.0) * have
        self.slot_dev = self.slot_dev + rate * (np.abs(r) - self.slot_dev)
        self.slot_seen += have
        first = ok & ~have
        self.slot[:, j] = np.where(first, x, self.slot[:, j] + np.where(hot, SLOT_RATE * HOT_DAMP, SLOT_RATE) * r)
        self.slot_n[:, j] += ok


__all__ = ["TimeOfDay"]
