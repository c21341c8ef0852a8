"""Detection: detectors behind one interface, severity, attribution, incidents.

Importing this package costs numpy and nothing heavier: no pandas, no
scikit-learn, so a detect function cold-starts fast.

>>> det = make_detector("default")
>>> s = det.score_one("2026-01-01T00:00:00Z", {"cpu": 71.0})
>>> det.severity(s).value
'normal'
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SkyloopError
from .base import BANDS, Detector, severity_of
from .adaptive import AdaptiveDetector
from .ensemble import EnsembleDetector
from .iforest import IsolationForestDetector
from .robust import RobustZDetector

DETECTORS: dict[str, type] = {
    "iforest": IsolationForestDetector,
    "robust_z": RobustZDetector,
    "ensemble": EnsembleDetector,
    "adaptive": AdaptiveDetector,
}
ALIASES = {"default": "adaptive"}  # chosen by bench/quality.py: see bench/README.md


def make_detector(name: str = "default", **params: Any) -> Any:
    key = ALIASES.get(name, name)
    try:
        cls = DETECTORS[key]
    except KeyError:
        raise SkyloopError(f"unknown detector {name!r}; known: {', '.join(sorted([*DETECTORS, *ALIASES]))}") from None
    return cls(**params)


def load_detector(source: str | Path | bytes) -> Any:
    """Load a saved detector (npz with a json header; never unpickles)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        name = json.loads(bytes(z["meta"]).decode())["detector"]
    return DETECTORS[name].from_bytes(data)


make_detector.load = load_detector  # type: ignore[attr-defined]

__all__ = ["AdaptiveDetector", "BANDS", "DETECTORS", "Detector", "EnsembleDetector", "IsolationForestDetector", "RobustZDetector", "load_detector", "make_detector", "severity_of"]
