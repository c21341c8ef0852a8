"""Is the canary worse than production over the same minutes? A two-sample judgement.

Netflix's Kayenta judges a canary this way, and for a reason that matters here: the
comparison is with production's records *from the same minutes*, not with what a detector
learned about production. A fault both variants share (load, a dependency) cancels out,
and a fault the detector has already learned (an incident last week) still shows, because
production does not have it now.

Per metric: the Mann-Whitney U test (rank-based, so a heavy tail or a few outliers do not
decide it) and the Hodges-Lehmann estimate of the shift (the median of all canary minus
production differences) with its distribution-free confidence interval. A metric fails
only when the *whole* interval lies beyond the tolerance in a harmful direction: the
canary is worse, by more than the tolerance, with the stated confidence. Kayenta adds an
effect-size threshold for the same reason: a canary serving a tenth of the traffic has
noisier minutes, and a 4% latency difference is not a regression to roll back.

No scipy: the normal approximation (with the tie correction) is exact enough from five
samples a side, and the detect path must not import scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# Which way a metric gets worse. Latency and errors only hurt when they rise; anything
# else (the predictions' mean, a business metric) is suspect either way.
UP_IS_BAD = ("error", "fault", "5xx", "4xx", "latency", "duration", "response_time", "wait", "throttl", "timeout")


@dataclass(frozen=True)
class Comparison:
    metric: str
    verdict: str  # "worse" | "pass" | "nodata"
    shift: float  # Hodges-Lehmann estimate, canary minus production
    low: float  # the shift's confidence interval
    high: float
    p: float  # two-sided Mann-Whitney p-value
    tolerance: float  # the absolute change allowed
    n_canary: int
    n_production: int

    def evidence(self, confidence: float) -> str:
        return (f"canary {self.metric} {self.shift:+.4g} vs production over the same minutes "
                f"({confidence:.0%} interval {self.low:+.4g} to {self.high:+.4g}, allowed ±{self.tolerance:.4g}; "
                f"Mann-Whitney p={self.p:.2g}, {self.n_canary} vs {self.n_production} minutes)")


def direction_of(metric: str) -> str:
    name = metric.lower()
    return "up" if any(h in name for h in UP_IS_BAD) else "either"


def compare(metric: str, canary: np.ndarray, production: np.ndarray, *, confidence: float, tolerance: float,
            min_samples: int = 5) -> Comparison:
    """``tolerance`` is relative to production's median: 0.2 lets the canary differ by 20%."""
    x = np.asarray(canary, float)
    y = np.asarray(production, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    n, m = len(x), len(y)
    if n < min_samples or m < min_samples:
        return Comparison(metric, "nodata", 0.0, -math.inf, math.inf, 1.0, 0.0, n, m)
    allowed = tolerance * abs(float(np.median(y)))
    p = _mann_whitney_p(x, y)
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    shift = float(np.median(diffs))
    low, high = _shift_interval(diffs, n, m, confidence)
    worse = low > allowed if direction_of(metric) == "up" else (low > allowed or high < -allowed)
    return Comparison(metric, "worse" if worse else "pass", shift, low, high, p, allowed, n, m)


def _mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    n, m = len(x), len(y)
    both = np.concatenate([x, y])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(n + m)
    ranks[order] = np.arange(1, n + m + 1, dtype=float)
    values, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    if len(values) < n + m:  # ties share their mean rank
        ranks = (np.bincount(inverse, ranks) / counts)[inverse]
    u = float(ranks[:n].sum()) - n * (n + 1) / 2.0
    ties = float(((counts ** 3) - counts).sum())
    var = n * m / 12.0 * ((n + m + 1) - ties / ((n + m) * (n + m - 1)))
    if var <= 0.0:  # every value equal
        return 1.0
    z = (abs(u - n * m / 2.0) - 0.5) / math.sqrt(var)
    return float(min(1.0, 2.0 * (1.0 - NormalDist().cdf(max(z, 0.0)))))


def _shift_interval(diffs: np.ndarray, n: int, m: int, confidence: float) -> tuple[float, float]:
    """The order statistics of the pairwise differences that bound the shift (Hollander & Wolfe)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    k = int(math.floor(n * m / 2.0 - z * math.sqrt(n * m * (n + m + 1) / 12.0)))
    if k < 1:  # too few samples to bound the shift at this confidence
        return -math.inf, math.inf
    return float(diffs[k - 1]), float(diffs[n * m - k])
