"""The default streaming detector: calibrated tail probabilities, not raw distances.

Real metrics taught the lesson (bench/README.md, real CloudWatch table): a fixed mapping from
a robust z to a score fires all day on spiky, quantised or heavy-tailed metrics and plateaus at
the cap, so no threshold separates the worst records from the merely bad. What works, in the
published streaming detectors and here, is to ask how *rare* the evidence is for this metric:

- **point channel**: the robust z of the value against a fast EWMA level (what a value "should"
  be given the last few records), turned into an empirical tail probability by a decayed
  histogram of the z's this metric itself produced (HTM's anomaly likelihood idea: judge a raw
  score by the distribution of raw scores, here without assuming it is Gaussian). A metric that
  spikes every day learns that its spikes are common; a flat one learns that any move is rare.
  Past the z's it has seen, a generalised Pareto tail fitted to the top of that histogram (peaks
  over threshold, extreme value theory's answer) says how much rarer, so a few hundred records
  suffice to call a clear outlier rarer than one in a thousand (``tail_p``).
- **range channel**: a value beyond the highest (lowest) the metric has reached, relaxed slowly
  toward the level, with probability ``2 / n`` of a new extreme among ``n`` records, shrinking
  exponentially with how far past the range it lands (Skyline's "beyond the history" tests).
  It catches the spikes a noisy point channel misses and the first step of a level change.
- per metric, the two channels combine by Bonferroni (the smaller p, times 2), and a row by the
  rarest metric times the number of metrics, so a fleet-wide MEDIUM means the same rarity
  whether a service reports one metric or twenty.

The score is a monotone function of ``L = -log10 p`` with the severity bands at fixed rarities:
LOW p <= 1e-2, MEDIUM p <= 1e-3 (rarer than one record in a thousand, ~3.5 days of 5-minute
data), HIGH p <= 1e-4, CRITICAL p <= 1e-5, and beyond that it keeps rising toward 1.0 with no
plateau, so the worst records still rank above the merely bad.

Streaming only, O(metrics) per record: it learns from the first record, scores from the
``warmup``-th, and never looks at a series' length, future values or extremes. Everything it
learns decays per record (a ~1,000-record memory for the tail, ~7,000 for the range), so a
level change becomes the new normal and a unit change is reported once, then learned.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from .base import clip_values
from .base import Tags
from .streaming import DEV_TO_SIGMA, StreamingDetector

# Histogram bin edges for the point channel's robust z (0, then log-spaced 0.05 .. 200).
EDGES = np.concatenate([[0.0], np.geomspace(0.05, 200.0, 63)])
Z_CAP = 199.0
# Score anchors on L = -log10(p): the band bounds of base.BANDS at fixed rarities.
L_ANCHORS = np.array([0.0, 2.0, 3.0, 4.0, 5.0])
S_ANCHORS = np.array([0.0, 0.5, 0.6, 0.75, 0.9])
L_TAIL = 8.0  # above CRITICAL the score approaches 1 as 1 - 0.1 exp(-(L - 5) / L_TAIL)
# The tail past the data: a generalised Pareto fit to the excesses over the top 10% of z's seen
# (at least 10 records), its shape at most 0.5 (a tail heavier than that is not estimable by moments)
U_SHARE, U_MIN, XI_MAX = 0.1, 10.0, 0.5
MIDS = np.r_[0.5 * (EDGES[:-1] + EDGES[1:]), EDGES[-1] * 1.1]  # each bin's representative z
_NORMAL = NormalDist()


def _bin(r: np.ndarray) -> np.ndarray:
    """The histogram bin of each robust z."""
    return np.clip(np.searchsorted(EDGES, r, side="right") - 1, 0, len(EDGES) - 1)


def score_of(L: float) -> float:
    """Strictly increasing in L (evidence), 0 at L = 0, the bands at their rarities, < 1 for any finite L."""
    if L <= L_ANCHORS[-1]:
        return float(np.interp(max(L, 0.0), L_ANCHORS, S_ANCHORS))
    return 1.0 - (1.0 - S_ANCHORS[-1]) * math.exp(-(L - L_ANCHORS[-1]) / L_TAIL)


def rarity_of(score: float) -> float:
    """Inverse of ``score_of``: the tail probability a score stands for."""
    if score <= S_ANCHORS[-1]:
        return 10.0 ** -float(np.interp(score, S_ANCHORS, L_ANCHORS))
    return 10.0 ** -(L_ANCHORS[-1] - L_TAIL * math.log(max(1.0 - score, 1e-300) / (1.0 - S_ANCHORS[-1])))


def tail_p(hist: np.ndarray, r: np.ndarray, prior: float) -> np.ndarray:
    """P(R >= r) per metric, from a decayed histogram of the statistic (one row per metric).

    Where the data reach, it is the decayed count above ``r`` (interpolated within its bin): a
    metric that spikes daily has spikes in its counts. Past the data it is a peaks-over-threshold
    tail: a generalised Pareto distribution fitted (by moments) to the excesses over the top
    ``U_SHARE`` of the histogram, as in extreme value theory's streaming detectors (SPOT). The
    larger of the two is used, so the fit only extrapolates and never overrules counts it has, and
    a z beyond anything seen gets rarer smoothly: no plateau, and no cliff at the largest z seen.
    Until ``U_MIN`` records lie over the threshold, an exponential tail of unit scale past the
    largest z seen stands in for the fit."""
    rows = np.arange(len(r))
    b = _bin(r)
    above = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # above[:, k] = count in bins >= k
    nxt = np.minimum(b + 1, len(EDGES) - 1)
    lo_e = EDGES[b]
    hi_e = np.where(b + 1 < len(EDGES), EDGES[nxt], lo_e * 1.2)
    frac = np.clip((hi_e - r) / np.maximum(hi_e - lo_e, 1e-12), 0.0, 1.0)
    count = np.where(b + 1 < len(EDGES), above[rows, nxt], 0.0) + frac * hist[rows, b]
    total = above[:, 0] + prior
    # before the fit: the count, or past the largest z seen an exponential tail of unit scale
    seen_any = hist > 0.01
    last = np.where(seen_any.any(axis=1), len(EDGES) - 1 - np.argmax(seen_any[:, ::-1], axis=1), 0)
    rmax = np.where(seen_any.any(axis=1), EDGES[last], 0.0)
    early = np.where(count < 0.5, np.maximum(0.5 * np.exp(-np.maximum(r - rmax, 0.0)), 1e-12), count) / total
    # the peaks-over-threshold fit: u is the highest bin edge with U_SHARE of the mass above it
    n_u = np.maximum(U_SHARE * above[:, 0], U_MIN)
    k_u = len(EDGES) - 1 - np.argmax((above >= n_u[:, None])[:, ::-1], axis=1)
    u, nu = EDGES[k_u], above[rows, k_u]
    w = hist * (np.arange(len(EDGES))[None, :] >= k_u[:, None])
    e = np.maximum(MIDS[None, :] - u[:, None], 0.0)
    sw = np.maximum(w.sum(axis=1), 1e-12)
    mean = (w * e).sum(axis=1) / sw
    var = np.maximum((w * e * e).sum(axis=1) / sw - mean ** 2, 1e-12)
    ratio = mean ** 2 / var
    xi = np.clip(0.5 * (1.0 - ratio), 0.0, XI_MAX)  # shape by moments; 0 (exponential) for light tails
    sigma = np.maximum(0.5 * mean * (1.0 + ratio), 1e-6)
    y = np.maximum(r - u, 0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        g = np.where(xi > 1e-6, np.power(1.0 + np.maximum(xi, 1e-6) * y / sigma, -1.0 / np.maximum(xi, 1e-6)),
                     np.exp(-y / sigma))
    fitted = np.maximum(count / total, np.maximum(nu / total * g, 1e-300))
    return np.where(nu >= U_MIN, fitted, early)


class LikelihoodDetector(StreamingDetector):
    name = "likelihood"
    _STATE = ("level", "dev", "hi", "lo", "seen", "neff", "hist")
    tags = Tags(streaming=True, restores_normal=True, nan_ok=("level", "hi", "lo"))  # NaN: a metric not seen yet

    def __init__(self, alpha: float = 0.1, dev_alpha: float = 0.02, decay: float = 0.999, range_decay: float = 0.9999,
                 range_tau: float = 0.1, rel_floor: float = 0.002, warmup: int = 50, prior: float = 2.0,
                 contamination: float | None = None) -> None:
        self.alpha, self.dev_alpha, self.decay, self.range_decay = alpha, dev_alpha, decay, range_decay
        self.range_tau, self.rel_floor, self.warmup, self.prior = range_tau, rel_floor, warmup, prior
        self.contamination = contamination  # accepted for a uniform make_detector(); unused
        self.columns_: list[str] = []
        self.n_ = 0

    def _init(self, m: int) -> None:
        self.level = np.full(m, np.nan)
        self.hi = np.full(m, np.nan)
        self.lo = np.full(m, np.nan)
        self.dev = np.zeros(m)
        self.seen = np.zeros(m)
        self.neff = np.zeros(m)
        self.hist = np.zeros((m, len(EDGES)))

    # ---- the two channels ------------------------------------------------------
    def _point_p(self, r: np.ndarray) -> np.ndarray:
        """P(R >= r) under the metric's decayed histogram of past robust z's (``tail_p``)."""
        return tail_p(self.hist, r, self.prior)

    def _range_p(self, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
        span = np.maximum(self.hi - self.lo, scale)
        beyond = np.maximum((x - self.hi) / span, (self.lo - x) / span)
        p = np.minimum(1.0, 2.0 / np.maximum(self.neff, 1.0)) * np.exp(-np.maximum(beyond, 0.0) / self.range_tau)
        return np.where(beyond > 0, p, 1.0)

    # ---- one record -------------------------------------------------------------
    def _step(self, t: float | None, x: np.ndarray, learn: bool = True) -> tuple[float, np.ndarray]:
        """Score one row and (optionally) learn from it: (score, signed deviation per metric).

        The deviation is the normal-equivalent z of the metric's own tail probability (sign of
        its residual), so attribution and root-cause ranking compare metrics on one scale."""
        self._ready()
        x = clip_values(np.asarray(x, dtype=float))
        ok = np.isfinite(x)
        new = ok & ~np.isfinite(self.level)
        if new.any():
            self.level[new] = self.hi[new] = self.lo[new] = x[new]
        level = np.nan_to_num(self.level)
        resid = np.where(ok, x - level, 0.0)
        scale = np.maximum(self.dev * DEV_TO_SIGMA, np.maximum(self.rel_floor * np.abs(level), 1e-9))
        r = np.minimum(np.abs(resid) / scale, Z_CAP)
        p_point = self._point_p(r)
        p_range = self._range_p(np.where(ok, x, level), scale)
        p = np.minimum(1.0, 2.0 * np.minimum(p_point, p_range))
        live = ok & (self.seen >= self.warmup)
        p = np.where(live, p, 1.0)
        L_metric = -np.log10(np.maximum(p, 1e-300))
        n_live = int(live.sum())
        L = float(L_metric.max()) - math.log10(n_live) if n_live else 0.0
        score = score_of(L)
        z = np.array([math.copysign(-_NORMAL.inv_cdf(max(pj / 2.0, 1e-300)), rj) if pj < 1.0 else 0.0
                      for pj, rj in zip(p, resid)]) if n_live else np.zeros(len(x))
        if learn:
            self._learn(ok, x, r, resid, scale)
        return score, z

    def _learn(self, ok: np.ndarray, x: np.ndarray, r: np.ndarray, resid: np.ndarray, scale: np.ndarray) -> None:
        rows = np.flatnonzero(ok)
        self.hist[rows] *= self.decay
        self.hist[rows, _bin(r[rows])] += 1.0
        a = np.maximum(self.alpha, 1.0 / (self.seen + 1.0)) * ok
        self.level = np.where(ok, self.level + a * resid, self.level)
        ad = np.maximum(self.dev_alpha, 1.0 / (self.seen + 1.0)) * ok
        self.dev = self.dev + ad * (np.abs(resid) - self.dev)
        # The range relaxes toward the level, so an extreme from weeks ago stops being the bar.
        lvl = self.level
        self.hi = np.where(ok, np.maximum(x, lvl + (self.hi - lvl) * self.range_decay), self.hi)
        self.lo = np.where(ok, np.minimum(x, lvl + (self.lo - lvl) * self.range_decay), self.lo)
        self.neff = np.where(ok, self.neff * self.decay + 1.0, self.neff)
        self.seen += ok
        self.n_ += 1

    PARAMS = ("alpha", "dev_alpha", "decay", "range_decay", "range_tau", "rel_floor", "warmup", "prior")


__all__ = ["LikelihoodDetector", "rarity_of", "score_of", "tail_p"]
