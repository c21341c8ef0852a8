"""The adaptive streaming detector: per-metric seasonal baseline, robust scale,
CUSUM for slow shifts, a variance-burst test, and re-levelling after a change point.

Why each part (all O(metrics) per record, numpy only, learns from the first record):

- level: EWMA of the de-seasonalised value (fast at first, 1/n, then ``alpha``);
- season: once a day of data has been seen, a time-of-day profile (``bins`` per
  day) of what the level does not explain, so a daily peak is not an anomaly;
- scale: EWMA of the absolute residual, never fed by rows it flags, floored
  relative to the level so flat metrics do not make every wiggle infinite;
- point test: |residual| / scale, the classic robust z;
- CUSUM (Page 1954): accumulates small same-sign residuals, catching leaks and
  small level shifts long before any single point is extreme;
- variance test: a fast EW residual magnitude against the slow one;
- change point: when a metric stays anomalous in one direction for ``relevel_after``
  records, the new level is accepted (the incident has been reported; flagging a
  new normal for days would only bury the next incident in noise).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..events import Severity
from .base import clip_values, lower_bound
from .streaming import DEV_TO_SIGMA, StreamingDetector, to_epoch

Z_ANCHORS = np.array([0.0, 3.0, 4.5, 6.75, 10.5, 30.0])
CUSUM_ANCHORS = np.array([0.0, 11.25, 18.75, 30.0, 60.0, 225.0])
VAR_ANCHORS = np.array([0.0, 3.5, 5.0, 8.0, 12.0, 30.0])
S_ANCHORS = np.array([0.0, 0.5, 0.6, 0.75, 0.9, 0.99])
MEDIUM = lower_bound(Severity.MEDIUM)


class AdaptiveDetector(StreamingDetector):
    name = "adaptive"
    _STATE = ("level", "dev", "fast_dev", "season", "season_n", "cpos", "cneg", "run", "run_sign", "seen",
              "slot", "slot_n", "slot_dev", "slot_seen")
    SLOTS = 288  # 5-minute time-of-day slots for the "same time yesterday" baseline

    def __init__(self, alpha: float = 0.015, dev_alpha: float = 0.01, season_alpha: float = 0.1, bins: int = 96, warmup: int = 24,
                 relevel_after: int = 36, cusum_slack: float = 1.0, fast_alpha: float = 0.2,
                 rel_floor: float = 0.005, day_fraction_alpha: float = 0.25, first_day_widen: float = 2.0,
                 contamination: float | None = None) -> None:
        self.day_fraction_alpha = day_fraction_alpha
        self.first_day_widen = first_day_widen
        self.alpha, self.dev_alpha, self.season_alpha, self.bins, self.warmup = alpha, dev_alpha, season_alpha, bins, warmup
        self.relevel_after, self.cusum_slack, self.fast_alpha, self.rel_floor = relevel_after, cusum_slack, fast_alpha, rel_floor
        self.contamination = contamination  # accepted for a uniform make_detector(); unused
        self.columns_: list[str] = []
        self.n_ = 0
        self.t0_: float | None = None
        self.last_t_: float | None = None
        self._step_s = 0.0  # typical seconds between records

    # ---- state ---------------------------------------------------------------
    def _init(self, m: int) -> None:
        self.level = np.full(m, np.nan)
        self.dev = np.zeros(m)
        self.fast_dev = np.zeros(m)
        self.season = np.zeros((m, self.bins))
        self.season_n = np.zeros((m, self.bins))
        self.cpos = np.zeros(m)
        self.cneg = np.zeros(m)
        self.run = np.zeros(m)
        self.run_sign = np.zeros(m)
        self.seen = np.zeros(m)
        self.slot = np.zeros((m, self.SLOTS))
        self.slot_n = np.zeros((m, self.SLOTS))
        self.slot_dev = np.zeros(m)
        self.slot_seen = np.zeros(m)

    def _bins(self, t: float) -> tuple[int, int, float]:
        """The two time-of-day bins around t and the weight of the second (linear interpolation)."""
        pos = (t % 86400.0) / 86400.0 * self.bins - 0.5
        b0 = int(math.floor(pos)) % self.bins
        return b0, (b0 + 1) % self.bins, pos - math.floor(pos)

    def _seasonal(self, t: float | None, bins: tuple[int, int, float] | None) -> np.ndarray:
        m = len(self.columns_)
        if bins is None or self.t0_ is None or t is None or t - self.t0_ < 86400.0:
            return np.zeros(m)
        b0, b1, w = bins
        ready = (self.season_n[:, b0] >= 2) & (self.season_n[:, b1] >= 2)
        return np.where(ready, (1 - w) * self.season[:, b0] + w * self.season[:, b1], 0.0)

    def _floor(self) -> np.ndarray:
        """The scale's floor relative to the level (fmax: a metric not seen yet, NaN, gets the absolute floor)."""
        return np.fmax(self.rel_floor * np.abs(self.level), 1e-6)

    def _scale(self) -> np.ndarray:
        return np.maximum(self.dev * DEV_TO_SIGMA, self._floor())

    # ---- one record -----------------------------------------------------------
    def _step(self, t: float | None, x: np.ndarray, learn: bool = True) -> tuple[float, np.ndarray]:
        """Score one row and (optionally) learn from it; returns (score, z per metric)."""
        self._ready()
        x = clip_values(x)
        ok = np.isfinite(x)
        new = ok & ~np.isfinite(self.level)
        self.level[new] = x[new]
        bins = None if t is None else self._bins(t)
        seas = self._seasonal(t, bins)
        resid = np.where(ok, x - self.level - seas, 0.0)
        scale = self._scale()
        z = resid / scale
        # Second baseline: this time of day on previous days (a smoothed "same time
        # yesterday"). Per metric, whichever baseline has predicted better lately (the
        # smaller running absolute error) judges the record: the slot baseline wins on
        # strongly seasonal metrics, the level + profile on flat or drifting ones.
        trusted = np.zeros(len(self.columns_), dtype=bool)
        if t is not None and self.t0_ is not None and t - self.t0_ >= 86400.0:
            si = int((t % 86400.0) / 86400.0 * self.SLOTS) % self.SLOTS
            have = trusted = (self.slot_n[:, si] > 0) & (self.slot_seen >= self.warmup * 2)
            scale2 = np.maximum(self.slot_dev * DEV_TO_SIGMA, self._floor())
            z2 = np.where(ok, x - self.slot[:, si], 0.0) / scale2
            z = np.where(have & (scale2 < scale), z2, z)
        young = self.seen < self.warmup
        zs = np.where(ok & ~young, np.abs(z), 0.0)
        k = self.cusum_slack
        # Page's CUSUM, capped at the CRITICAL anchor (so it forgets an incident in
        # bounded time) and shrunk on a plainly normal record (so it ends with it).
        cap = CUSUM_ANCHORS[-2] * (1.0 + 0.1 * math.log(max(len(self.columns_), 1)))
        calm = np.where(np.abs(z) < k, 0.7, 1.0)
        zc = np.minimum(np.maximum(z, -3.0), 3.0)  # single outliers are the point test's job, not CUSUM's
        cpos = np.minimum(np.maximum(0.0, self.cpos * calm + np.where(ok & ~young, zc - k, 0.0)), cap)
        cneg = np.minimum(np.maximum(0.0, self.cneg * calm + np.where(ok & ~young, -zc - k, 0.0)), cap)
        fast = self.fast_dev + self.fast_alpha * (np.abs(resid) - self.fast_dev) * ok
        ratio = np.where(~young & (self.dev > 0), fast / np.maximum(self.dev, 1e-12), 0.0)
        # More metrics, more chances for noise to look extreme: widen the bands (Bonferroni-like).
        widen = 1.0 + 0.1 * math.log(max(len(self.columns_), 1))
        if t is None or self.t0_ is None or t - self.t0_ < 86400.0:
            widen *= self.first_day_widen  # no daily profile yet: the cycle itself still looks odd
        per_metric = np.maximum(np.maximum(  # the strongest of the point, CUSUM and variance tests
            np.interp(zs, Z_ANCHORS * widen, S_ANCHORS),
            np.interp(np.maximum(cpos, cneg), CUSUM_ANCHORS * widen, S_ANCHORS)),
            np.interp(ratio, VAR_ANCHORS * widen, S_ANCHORS))
        score = float(per_metric.max()) if per_metric.size else 0.0
        if not learn:
            return score, np.where(ok, z, 0.0)
        # ---- learn ----
        hot = per_metric >= MEDIUM
        sign = np.sign(resid)
        same = hot & (sign == self.run_sign)
        self.run = np.where(hot, np.where(same, self.run + 1, 1), 0)
        self.run_sign = np.where(hot, sign, 0)
        young_rate = 1.0 / (self.seen + 1.0)
        # Once the daily profile carries the cycle, the level must be slower than a day,
        # or it chases the cycle and leaves a phase-shifted residual.
        seasonal_on = t is not None and self.t0_ is not None and t - self.t0_ >= 86400.0
        per_day = 86400.0 / self._step_s if self._step_s > 0 else 288.0
        alpha = min(self.alpha, self.day_fraction_alpha / per_day * 4) if seasonal_on else self.alpha
        a = np.maximum(alpha, young_rate)
        a = np.where(hot, a * 0.05, a) * ok
        self.level = self.level + a * resid
        # The scale learns flagged rows too, at a tenth of the rate: an incident barely
        # moves it, but a scale that became too small cannot lock every row "hot".
        ad = np.maximum(self.dev_alpha, young_rate) * ok * np.where(hot, 0.1, 1.0)
        self.dev = self.dev + ad * (np.abs(resid) - self.dev)
        self.fast_dev = np.where(ok, fast, self.fast_dev)
        self.cpos, self.cneg = np.where(ok, cpos, self.cpos), np.where(ok, cneg, self.cneg)
        if bins is not None and self.t0_ is not None and ok.any():
            upd = ok & ~hot
            r = np.where(upd, x - self.level - seas, 0.0)  # what level + season still miss
            for b, wb in zip(bins[:2], (1 - bins[2], bins[2])):
                beta = np.maximum(self.season_alpha, 1.0 / (self.season_n[:, b] + 1.0)) * wb
                self.season[:, b] += beta * r
                self.season_n[:, b] += upd * wb
        if t is not None:
            sj = int((t % 86400.0) / 86400.0 * self.SLOTS) % self.SLOTS
            have = self.slot_n[:, sj] > 0
            r2 = np.where(ok & have, x - self.slot[:, sj], 0.0)
            upd2 = ok & have
            rate2 = np.maximum(2 * self.dev_alpha, 1.0 / (self.slot_seen + 1.0)) * np.where(hot, 0.1, 1.0) * upd2
            self.slot_dev = self.slot_dev + rate2 * (np.abs(r2) - self.slot_dev)
            self.slot_seen += upd2
            first = ok & ~have
            w = np.where(hot, 0.05, 0.5)
            self.slot[:, sj] = np.where(first, x, np.where(ok, self.slot[:, sj] + w * (x - self.slot[:, sj]), self.slot[:, sj]))
            self.slot_n[:, sj] += ok
        shifted = self.run >= self.relevel_after
        if shifted.any():  # change point: accept the new level, in both baselines
            delta = np.where(shifted & ok & trusted, x - seas - self.level, 0.0)  # an untrusted slot table is still learning
            self.slot = self.slot + delta[:, None]
            self.level = np.where(shifted, np.where(ok, x - seas, self.level), self.level)
            self.cpos = np.where(shifted, 0.0, self.cpos)
            self.cneg = np.where(shifted, 0.0, self.cneg)
            self.fast_dev = np.where(shifted, self.dev, self.fast_dev)
            self.run = np.where(shifted, 0, self.run)
        self.seen += ok
        self.n_ += 1
        if t is not None:
            if self.last_t_ is not None and t > self.last_t_:
                self._step_s = 0.9 * self._step_s + 0.1 * (t - self.last_t_) if self._step_s else t - self.last_t_
            self.t0_ = t if self.t0_ is None else self.t0_
            self.last_t_ = t
        return score, np.where(ok, z, 0.0)

    def _restored(self, j: int) -> None:
        self.fast_dev[j] = self.dev[j]
        self.cpos[j] = self.cneg[j] = self.run[j] = self.run_sign[j] = 0.0

    PARAMS = ("alpha", "dev_alpha", "season_alpha", "bins", "warmup", "relevel_after", "cusum_slack", "fast_alpha",
              "rel_floor", "day_fraction_alpha", "first_day_widen")

    def _meta(self) -> dict[str, Any]:
        return {"t0": self.t0_, "last_t": self.last_t_, "step_s": self._step_s}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        self.t0_, self.last_t_, self._step_s = meta["t0"], meta["last_t"], float(meta.get("step_s", 0.0))


__all__ = ["AdaptiveDetector", "to_epoch"]  # to_epoch: re-exported for older imports
