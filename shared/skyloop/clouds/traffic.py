"""Traffic splits as the clouds take them: whole percentages that add up to exactly 100 (Vertex
AI's ``traffic_split``, Azure ML's endpoint ``traffic``), from the core's weights."""

from __future__ import annotations

import math
from typing import Mapping


def percentages(weights: Mapping[str, float]) -> dict[str, int]:
    """Largest remainder, ties to the first name; no positive weight: an empty split (nothing
    takes traffic)."""
    positive = {k: float(w) for k, w in weights.items() if w > 0}
    total = sum(positive.values())
    if total <= 0:
        return {}
    raw = {k: 100.0 * w / total for k, w in positive.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[:100 - sum(out.values())]:
        out[k] += 1
    return out
