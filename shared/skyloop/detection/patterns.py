"""The pattern channel (issue 36, a try, off by default): how unlike anything this metric has
done lately is the shape of its last few hours, after ARTime's adaptive-resonance windows.

The other channels judge a value (point, range) or an average (shift). None of them sees a
change of *shape* at an ordinary level: a noisy sensor that goes flat at a plausible value, a
rogue client's rectangular plateaus on a daily cycle, a periodic job that changes its rhythm.
ARTime (Hampton, the NAB leader) sees them by clustering windows with fuzzy ART and calling a
window that no category resonates with an anomaly. Here, per metric and streaming:

- records are taken in blocks of ``block``; a block is summarised by its value farthest from
  the blocks' running mean, so a spike survives the downsampling (ARTime's rule);
- the last ``window`` block values make two feature vectors of ``window`` numbers each: their
  *shape* (min-max scaled within the window, then a Haar transform, scaled to [0, 1]; a flat
  window is all zeros, so a stuck noisy sensor is far from every noisy window), and their
  *level* within the range the metric has reached (the detector's decaying ``hi``/``lo``, not
  the series' future extremes, which ARTime reads from the benchmark);
- fuzzy ART on the complement-coded features: the match of a window with a category is
  ``|min(I, w)| / |I|``; the best match's shortfall, ``1 - M``, is the window's novelty. A window
  that matches a category at ``vigilance`` or better teaches it slowly (rate ``rate``); one that
  matches none becomes a category, replacing the least used when ``categories`` are taken;
- the novelty is not thresholded as ARTime does (its vigilance is re-tuned by hand-set rules);
  it is judged by its own decayed histogram, the tail probability every channel here speaks in
  (``tail_p``), so the channel joins the others on one rarity scale.

State per metric: ``categories`` x 4 x ``window`` weights, their use counts, the window, the
block's running sums and the novelty histogram (O(metrics), about 9 kB a metric at the defaults).
"""

from __future__ import annotations

import numpy as np

from .tail import EDGES, Z_CAP, bin_of, tail_p

NOVELTY_Z = 20.0  # novelty in [0, 1] is histogrammed on the tail's z scale (edges 0.05 .. 200)


def _haar(x: np.ndarray) -> np.ndarray:
    """Full Haar decomposition along the last axis (a power-of-two length): the overall average,
    then the differences from the coarsest scale to the finest."""
    out = []
    a = x
    while a.shape[-1] > 1:
        even, odd = a[..., 0::2], a[..., 1::2]
        out.append((even - odd) / np.sqrt(2.0))
        a = (even + odd) / np.sqrt(2.0)
    return np.concatenate([a] + out[::-1], axis=-1)


def _unit(x: np.ndarray) -> np.ndarray:
    """Each row min-max scaled to [0, 1]; a constant row is all zeros."""
    lo = x.min(axis=-1, keepdims=True)
    span = x.max(axis=-1, keepdims=True) - lo
    return np.where(span > 1e-12, (x - lo) / np.where(span > 1e-12, span, 1.0), 0.0)


class Patterns:
    """Fuzzy-ART novelty of each metric's recent shape, for ``m`` metrics (state in plain arrays)."""

    STATE = ("blk_sum", "blk_hi", "blk_lo", "blk_n", "bmean", "win", "nwin", "weights", "uses", "nhist", "nblocks")

    def __init__(self, m: int, block: int = 6, window: int = 8, categories: int = 32, radius: float = 0.3,
                 rate: float = 0.1, decay: float = 0.995, warmup: int = 48, prior: float = 2.0) -> None:
        if window & (window - 1):
            raise ValueError("window must be a power of two (the Haar transform)")
        self.block, self.window, self.k, self.radius = block, window, categories, radius
        self.rate, self.decay, self.warmup, self.prior = rate, decay, warmup, prior
        self.blk_sum = np.zeros(m)
        self.blk_hi = np.full(m, -np.inf)
        self.blk_lo = np.full(m, np.inf)
        self.blk_n = np.zeros(m)
        self.bmean = np.full(m, np.nan)  # the running mean of block means (ARTime's moving average)
        self.win = np.zeros((m, window))
        self.nwin = np.zeros(m)  # blocks in the window so far
        self.weights = np.zeros((m, categories, 2 * window))
        self.uses = np.zeros((m, categories))  # decayed use counts (0: unused)
        self.nhist = np.zeros((m, len(EDGES)))
        self.nblocks = np.zeros(m)  # windows judged

    def step(self, x: np.ndarray, ok: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Take one record; the tail probability of the window that a closing block completes
        (1.0 for every other record and metric)."""
        self.blk_sum += np.where(ok, x, 0.0)
        self.blk_hi = np.where(ok, np.maximum(self.blk_hi, x), self.blk_hi)
        self.blk_lo = np.where(ok, np.minimum(self.blk_lo, x), self.blk_lo)
        self.blk_n += ok
        closing = self.blk_n >= self.block
        if not closing.any():
            return np.ones(len(x))
        return self._close(np.flatnonzero(closing), hi, lo)

    def _close(self, rows: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        p = np.ones(len(self.blk_n))
        mean = self.blk_sum[rows] / self.blk_n[rows]
        ref = np.where(np.isnan(self.bmean[rows]), mean, self.bmean[rows])
        self.bmean[rows] = 0.5 * (ref + mean)
        up, down = self.blk_hi[rows], self.blk_lo[rows]
        value = np.where(np.abs(up - ref) >= np.abs(down - ref), up, down)  # the block's extreme survives
        self.blk_sum[rows], self.blk_n[rows] = 0.0, 0.0
        self.blk_hi[rows], self.blk_lo[rows] = -np.inf, np.inf
        self.win[rows] = np.concatenate([self.win[rows, 1:], value[:, None]], axis=1)
        self.nwin[rows] += 1
        full = rows[self.nwin[rows] >= self.window]
        if not full.size:
            return p
        w = self.win[full]
        shape = _unit(_haar(_unit(w)))
        span = np.maximum(hi[full] - lo[full], 1e-12)
        level = np.clip((w - lo[full, None]) / span[:, None], 0.0, 1.0)
        f = np.concatenate([shape, level], axis=1)
        dist = np.sqrt(((f[:, None, :] - self.weights[full]) ** 2).mean(axis=2))
        dist = np.where(self.uses[full] > 0, dist, np.inf)
        best = dist.argmin(axis=1)
        novelty = np.minimum(dist[np.arange(len(full)), best], 1.0)
        r = novelty * NOVELTY_Z
        judged = self.nblocks[full] >= self.warmup
        if judged.any():
            # a window closes once a block: rarer than q of windows is rarer than q / block of records
            p[full[judged]] = tail_p(self.nhist[full[judged]], r[judged], self.prior) / self.block
        self._learn(full, f, best, novelty, r)
        return p

    def _learn(self, full: np.ndarray, f: np.ndarray, best: np.ndarray, novelty: np.ndarray, r: np.ndarray) -> None:
        self.uses[full] *= self.decay
        near = novelty <= self.radius
        for i, j in enumerate(full):  # a few metrics close a block on one record: a loop is cheapest
            if near[i]:
                c = best[i]
                self.weights[j, c] += self.rate * (f[i] - self.weights[j, c])
            else:
                c = int(self.uses[j].argmin())  # an unused prototype, or the least used one
                self.weights[j, c] = f[i]
            self.uses[j, c] += 1.0
        self.nhist[full] *= self.decay
        self.nhist[full, bin_of(r)] += 1.0
        self.nblocks[full] += 1

    def reset(self, j: int) -> None:
        """Metric j starts over (remediation restored it)."""
        self.nwin[j] = 0


__all__ = ["Patterns"]


class Calm:
    """A second try beside ``Patterns``: the noise that vanishes. A stuck sensor or a hung exporter
    repeats a plausible value; its level is ordinary, its *spread* is not. Per block of ``block``
    records, the spread (max - min) is compared with the metric's usual block spread in logs:
    ``r = (usual - log spread) / sd``, one-sided (calmer than usual), calibrated by its own decayed
    histogram as every channel is (per block: scaled from blocks to records, as ``Patterns`` is,
    it spoke too often). A metric that idles at a floor (a disk's zeros) has many calm blocks, so
    calm is common there and says nothing."""

    STATE = ("blk_hi", "blk_lo", "blk_n", "mu", "var", "nhist", "nblocks")

    def __init__(self, m: int, block: int = 6, alpha: float = 0.02, decay: float = 0.995, warmup: int = 48,
                 prior: float = 2.0) -> None:
        self.block, self.alpha, self.decay, self.warmup, self.prior = block, alpha, decay, warmup, prior
        self.blk_hi = np.full(m, -np.inf)
        self.blk_lo = np.full(m, np.inf)
        self.blk_n = np.zeros(m)
        self.mu = np.zeros(m)
        self.var = np.ones(m)
        self.nhist = np.zeros((m, len(EDGES)))
        self.nblocks = np.zeros(m)

    def step(self, x: np.ndarray, ok: np.ndarray, scale: np.ndarray) -> np.ndarray:
        self.blk_hi = np.where(ok, np.maximum(self.blk_hi, x), self.blk_hi)
        self.blk_lo = np.where(ok, np.minimum(self.blk_lo, x), self.blk_lo)
        self.blk_n += ok
        closing = self.blk_n >= self.block
        p = np.ones(len(x))
        if not closing.any():
            return p
        rows = np.flatnonzero(closing)
        floor = 1e-3 * scale[rows]  # a spread a thousandth of the metric's scale is flat
        ls = np.log(np.maximum(self.blk_hi[rows] - self.blk_lo[rows], floor) + floor)
        sd = np.sqrt(self.var[rows])
        r = np.clip((self.mu[rows] - ls) / np.maximum(sd, 1e-3), 0.0, Z_CAP)
        judged = self.nblocks[rows] >= self.warmup
        if judged.any():
            p[rows[judged]] = tail_p(self.nhist[rows[judged]], r[judged], self.prior)
        first = self.nblocks[rows] == 0
        a = np.maximum(self.alpha, 1.0 / (self.nblocks[rows] + 1.0))
        d = ls - self.mu[rows]
        self.mu[rows] = np.where(first, ls, self.mu[rows] + a * d)
        self.var[rows] = np.where(first, 1.0, (1 - a) * (self.var[rows] + a * d * d))
        self.nhist[rows] *= self.decay
        self.nhist[rows, bin_of(r)] += 1.0
        self.nblocks[rows] += 1
        self.blk_hi[rows], self.blk_lo[rows], self.blk_n[rows] = -np.inf, np.inf, 0.0
        return p
