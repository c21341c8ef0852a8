"""Turn per-row scores into incidents: runs of unusual rows, small gaps bridged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..events import Severity
from .base import lower_bound, severity_of


@dataclass(frozen=True)
class Run:
    start: int  # inclusive row index
    end: int  # inclusive row index
    strong_rows: int  # rows at MEDIUM or above
    peak: float

    @property
    def severity(self) -> Severity:
        return severity_of(self.peak)


def find_runs(scores: np.ndarray, merge_gap: int) -> list[Run]:
    """Runs of rows scoring at least LOW; gaps of <= merge_gap normal rows are bridged."""
    hot = np.flatnonzero(scores >= lower_bound(Severity.LOW))
    runs: list[Run] = []
    if hot.size == 0:
        return runs
    start = prev = int(hot[0])
    for i in hot[1:]:
        i = int(i)
        if i - prev - 1 > merge_gap:
            runs.append(_run(scores, start, prev))
            start = i
        prev = i
    runs.append(_run(scores, start, prev))
    return runs


def _run(scores: np.ndarray, a: int, b: int) -> Run:
    """A run starts at its first MEDIUM row, or at the unbroken LOW ramp just before it.

    A LOW blip bridged in by the merge gap is noise before the incident, not its onset.
    """
    low, medium = lower_bound(Severity.LOW), lower_bound(Severity.MEDIUM)
    seg = scores[a : b + 1]
    strong = np.flatnonzero(seg >= medium)
    if strong.size:
        first = a + int(strong[0])
        while first > a and scores[first - 1] >= low:
            first -= 1
        a = first
        seg = scores[a : b + 1]
    return Run(a, b, int((seg >= medium).sum()), float(seg.max()))


def is_incident(run: Run, min_rows: int, min_severity: Severity) -> bool:
    """Big enough to act on: sustained and at least ``min_severity``, or one critical row."""
    sev = run.severity
    return sev >= min_severity and (run.strong_rows >= min_rows or sev >= Severity.CRITICAL)
