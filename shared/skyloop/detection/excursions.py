"""The shift channel: a sustained departure, judged by how often the metric's excursions go that far.

The point channel compares one value with a fast level, so a plateau or a slow climb that lasts an
hour is absorbed into the level before any single value looks rare (real CloudWatch windows: a CPU
plateau 2.5 sigma up for 30 records, a drift). A short average of the residual sees it. But the
average is autocorrelated: one excursion puts dozens of records into a per-record histogram, after
which the next excursion of the same height looks common (tried: real 61.1, no window gained).

So the average is calibrated by *excursions*, as extreme value theory treats dependent data
(declustering, one peak per cluster): an excursion opens when the average rises past ``u0`` (in units
of its own noise) and closes when it falls back, and its peak goes into a decayed histogram of
peaks. The chance that a record's excursion reaches height h is then (excursions per record) x
P(peak >= h), with the peaks-over-threshold tail of ``tail_p`` past the peaks seen. An excursion is
judged only where it reaches new ground, and reported again only when its rarity has grown tenfold:
one event is one alarm, not one per record of a plateau.

Arrays are (references, metrics): the detector averages the residual against more than one
baseline (its own slow level, and a seasonal one) and takes the rarer.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .tail import EDGES, MIDS, U_MIN, Z_CAP, bin_of, tail_p

# Excursions seen before any is judged. Half of what the tail fit needs (U_MIN): until then tail_p's
# exponential tail past the highest peak stands in. A clean metric sees ~7 excursions per memory
# (2,000 records), so at 10 its shift channel never spoke (a 6-sigma ramp went unflagged).
MIN_PEAKS = U_MIN / 2
# Until then, an excursion is judged against white noise with 2.5 times the average's noise: an
# autocorrelated metric's average wanders further than white noise's, by how much is not known yet,
# so only a departure far beyond it counts (about 10 noise sds for MEDIUM on a 7-metric row; an
# AR(1) metric with phi up to 0.97 stays quiet, tests/unit/test_likelihood.py). Without it a young
# metric's shift channel said nothing: in ``skyloop demo`` a memory leak, 0.6 sigma a minute from
# minute 300, went unflagged. Measured (generated seed 2026, best threshold / real): without it
# 62.7 / 69.7; at 2: 67.7 / 68.9; 2.5: 67.3 / 69.5; 3: 62.4 / 69.7; 3.5: 61.7 / 69.7. Judging a
# young excursion at every new height (without the once-per-band rule below) scored 3 points more
# on the generated set, but then a level change that stays alarmed for a day.
YOUNG_SPREAD = 2.5
REPORT_L = 2.0  # a metric counts as reported once a record reached p <= 1e-2 (LOW)
ESCALATE_L = 1.0  # and is reported again only when its rarity grows tenfold (one severity band),
LAST_BAND_L = 5.0  # up to CRITICAL (p <= 1e-5): past it, more of the same is not news
KEEP_HEIGHT = 1.0  # what was reported is remembered while the average stays a noise sd out
# A young average that has been measured: its own spread. The 2.5 above is for an average whose
# wandering is not known; once a row has averaged YOUNG_N live records (about a third of a day at 5
# minutes) its mean square height is, and the young rule takes YOUNG_K times that root mean square
# (white noise's at least) and never more than YOUNG_SPREAD: it only grows bolder where the average has
# been measured to stay close to white noise's. Why: the time-of-day residual's row is young for a
# day or more after the table fills (a few excursions close per day), while the slow level's row on
# the same cyclic metric wanders with the cycle; a rogue client's first plateaus (3-5 sigmas for
# 30-75 minutes) reached LOW only. Measured (known-cause tuning / held out, synthetic, real, weekly;
# bench/README.md): 1.5 gives 57.1 -> 59.9 / 72.5 -> 72.5, 67.4 -> 67.3 / 66.3 -> 66.3,
# real 72.0 (68.7 at MEDIUM) and weekly unchanged; 1.3 (``young``) gives 62.6 / 73.3 but real 71.8 (68.3).
YOUNG_K, YOUNG_N = 1.5, 100.0


def _per_row(v: float | Sequence[float]) -> float | np.ndarray:
    """One value for every reference, or a column of one per reference (broadcast over metrics)."""
    return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float).reshape(-1, 1)  # type: ignore[arg-type]


class Excursions:
    """Decayed excursion statistics for ``k`` references x ``m`` metrics (state in plain arrays)."""

    STATE = ("mean", "peak", "report", "peaks", "records", "hist", "sq", "sqn")
    OPTIONAL = ("sq", "sqn")  # newer than the first saved states: those start fresh (the 2.5 rule)

    def __init__(self, k: int, m: int, beta: float | Sequence[float], u0: float, decay: float | Sequence[float],
                 clip: float | Sequence[float], bold_from: float = MIN_PEAKS, young: float = YOUNG_K) -> None:
        # ``beta``: the average's weight, one for all references or one per reference (a slower
        # average for a statistic that should not follow an hour's luck); ``clip``: how far one
        # record may pull it, likewise (further where the reference is trusted more)
        self.beta, self.clip = _per_row(beta), _per_row(clip)
        self.u0 = u0
        self.decay = _per_row(decay)  # per record: one for all references or one per reference
        # From this many excursions (below MIN_PEAKS) a young excursion is judged by the bolder of the
        # young rule and the early fit; at MIN_PEAKS (the default) by the young rule alone. Measured
        # in bench/README.md (issue 36): 4 finds more known-cause incidents and costs the real set 0.6.
        self.bold_from = bold_from
        # A measured young average's spread: ``young`` times its rms height, at least ``young`` (1.5;
        # bench/README.md measured 1.3 as a trade: more known-cause incidents, 0.2 less on the real set)
        self.young = young
        self.noise = np.sqrt(self.beta / (2.0 - self.beta))  # sd of an EWMA(beta) of unit white noise
        self._excess = np.maximum(MIDS - self.u0, 0.0)  # each peak bin's height over u0
        self.mean = np.zeros((k, m))  # EWMA of the clipped residual, per reference and metric
        self.peak = np.zeros((k, m))  # the open excursion's height so far (0: none open)
        self.report = np.zeros((k, m))  # the rarity (-log10 p) it was last reported at
        self.peaks = np.zeros((k, m))  # decayed count of closed excursions
        self.records = np.zeros((k, m))  # decayed count of records, at the same decay
        self.hist = np.zeros((k, m, len(EDGES)))  # decayed histogram of closed excursions' peaks
        self.sq = np.zeros((k, m))  # decayed sum of the live average's squared height
        self.sqn = np.zeros((k, m))  # and of its live records (a reference with a say: residual not 0)

    def judge(self, z: np.ndarray, ok: np.ndarray, ask: np.ndarray | None = None) -> np.ndarray:
        """P(an excursion reaches this height) per reference and metric; 1 where nothing is judged.
        ``z`` is the residual in its reference's sigmas; ``ok`` where a metric may be judged;
        ``ask`` (default: ``ok``) where its p is wanted: the rest only averages, at no fit's cost."""
        k, m = self.mean.shape
        self._mean = np.where(ok, self.mean + self.beta * (np.minimum(np.maximum(z, -self.clip), self.clip) - self.mean), self.mean)
        self._height = np.minimum(np.abs(self._mean) / self.noise, Z_CAP)
        self._live = ok & (z != 0.0)
        judged = (ok if ask is None else ok & ask) & (self._height > self.u0) & (self._height > self.peak)
        if not judged.any():
            return np.ones((k, m))
        calibrated = self.peaks >= MIN_PEAKS
        fitted = self.peaks >= min(self.bold_from, MIN_PEAKS)
        p = np.ones((k, m))
        need = np.flatnonzero(judged & fitted)  # the fit only where it is asked: its cost is per row
        if need.size:
            rate = (self.peaks / np.maximum(self.records, 1.0)).ravel()[need]
            hist = self.hist.reshape(k * m, -1)[need]
            # before the tail is fitted, the peaks' own spread (mean excess over u0) scales the tail
            spread = np.maximum((hist @ self._excess) / np.maximum(hist.sum(axis=1), 1e-12), 1.0)
            p.ravel()[need] = np.minimum(1.0, tail_p(hist, np.maximum(self._height.ravel()[need], self.u0), 1.0, spread) * rate)
        for i, j in zip(*np.nonzero(judged & ~calibrated)):
            p[i, j] = min(p[i, j], math.erfc(self._height[i, j] / (self._young_spread(i, j) * math.sqrt(2.0))))
        L = -np.log10(np.maximum(p, 1e-300))
        judged &= (self.report == 0.0) | ((L >= self.report + ESCALATE_L) & (self.report < LAST_BAND_L))
        return np.where(judged, p, 1.0)

    def _young_spread(self, i: int, j: int) -> float:
        """How far, in noise units, a young average is taken to wander: its measured spread once
        it has one (``young`` times it), else the wide default."""
        if self.sqn[i, j] < YOUNG_N or self.sq[i, j] <= 0.0:
            return YOUNG_SPREAD
        return min(YOUNG_SPREAD, self.young * max(1.0, math.sqrt(self.sq[i, j] / self.sqn[i, j])))

    def learn(self, ok: np.ndarray, reported: np.ndarray) -> None:
        """Fold the record just judged in: close excursions that fell back, count their peaks.
        ``reported`` is each metric's rarity (-log10 p) as the detector reported it, from any
        channel: a departure the point channel already called is not news when it lasts."""
        inside = ok & (self._height > self.u0)
        closed = ok & ~inside & (self.peak > 0.0)
        self.hist *= np.where(ok, self.decay, 1.0)[..., None]
        self.peaks = np.where(ok, self.peaks * self.decay, self.peaks) + closed
        self.records = np.where(ok, self.records * self.decay + 1.0, self.records)
        self.sq = np.where(self._live, self.sq * self.decay + self._height ** 2, self.sq)
        self.sqn = np.where(self._live, self.sqn * self.decay + 1.0, self.sqn)
        if closed.any():
            ref, col = np.nonzero(closed)
            self.hist[ref, col, bin_of(self.peak[ref, col])] += 1.0
        self.peak = np.where(inside, np.maximum(self.peak, self._height), np.where(ok, 0.0, self.peak))
        said = np.where(reported >= REPORT_L, reported, 0.0)
        keep = ok & (self._height > KEEP_HEIGHT) | (said > 0.0)
        self.report = np.where(keep, np.maximum(self.report, said), np.where(ok, 0.0, self.report))
        self.mean = self._mean

    def reset(self, j: int) -> None:
        """Metric j is back at a verified normal: no excursion is open there."""
        self.mean[:, j] = self.peak[:, j] = self.report[:, j] = 0.0


__all__ = ["Excursions"]
