"""The clocks: the wall clock every runtime uses (the ``Clock`` port's default), and the one a
caller moves (the demo, tests). Composition roots take them from here, not from the local adapters."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock the caller moves: the demo replays a day of metrics in seconds with it."""

    def __init__(self, start: float) -> None:
        self._t = float(start)

    def now(self) -> float:
        return self._t

    def set(self, t: float) -> None:
        self._t = max(self._t, float(t))

    def advance(self, seconds: float) -> None:
        self._t += seconds


__all__ = ["ManualClock", "SystemClock"]
