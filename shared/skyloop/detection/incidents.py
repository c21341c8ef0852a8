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
    lasting_rows: int = 0  # rows at LOW or above after its first MEDIUM one: how long it stayed out

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
    lasting = 0
    if strong.size:
        first = a + int(strong[0])
        lasting = int((scores[first + 1 : b + 1] >= low).sum())
        while first > a and scores[first - 1] >= low:
            first -= 1
        a = first
        seg = scores[a : b + 1]
    return Run(a, b, int((seg >= medium).sum()), float(seg.max()), lasting)


def is_incident(run: Run, min_rows: int, min_severity: Severity) -> bool:
    """Big enough to act on: sustained and at least ``min_severity``, or one critical row.

    Sustained: ``min_rows`` rows at MEDIUM or above, or a MEDIUM one that stayed at least LOW for
    ``min_rows`` rows after it. The likelihood detector reports a lasting departure once and holds
    it at LOW (nothing new to act on), so counting MEDIUM rows alone dropped a CPU 8 sigmas up for
    half an hour that scored HIGH at its first record, while a smaller one that the shift channel
    escalated was opened. A one-record spike below CRITICAL is still not an incident."""
    sev = run.severity
    sustained = run.strong_rows >= min_rows or run.lasting_rows >= min_rows
    return sev >= min_severity and (sustained or sev >= Severity.CRITICAL)
