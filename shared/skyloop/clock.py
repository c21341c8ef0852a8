"""The wall clock every runtime uses (the ``Clock`` port's default): cloud composition roots take
it from here rather than from the local adapters."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> float:
        return time.time()


__all__ = ["SystemClock"]
