"""Detection: detectors behind one interface, severity, attribution, incidents.

Importing this package costs numpy and nothing heavier: no pandas, no
scikit-learn, so a detect function cold-starts fast.

>>> det = make_detector("default")
>>> s = det.score_one("2026-01-01T00:00:00Z", {"cpu": 71.0})
>>> det.severity(s).value
'normal'
"""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SkyloopError
from .base import BANDS, Detector, severity_of

# name -> (module, class). Imported on first use: a detect function that runs the
# default detector does not pay for the forest scorer's start-up.
_REGISTRY: dict[str, tuple[str, str]] = {
    "iforest": ("iforest", "IsolationForestDetector"),
    "robust_z": ("robust", "RobustZDetector"),
    "ensemble": ("ensemble", "EnsembleDetector"),
    "adaptive": ("adaptive", "AdaptiveDetector"),
    "likelihood": ("likelihood", "LikelihoodDetector"),
}
DETECTORS = tuple(_REGISTRY)
ALIASES = {"default": "likelihood"}  # chosen by bench/quality.py: see bench/README.md


def detector_class(name: str) -> Any:
    key = ALIASES.get(name, name)
    try:
        module, cls = _REGISTRY[key]
    except KeyError:
        raise SkyloopError(f"unknown detector {name!r}; known: {', '.join(sorted([*_REGISTRY, *ALIASES]))}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def make_detector(name: str = "default", **params: Any) -> Any:
    return detector_class(name)(**params)


def load_detector(source: str | Path | bytes) -> Any:
    """Load a saved detector (npz with a json header; never unpickles)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        name = json.loads(bytes(z["meta"]).decode())["detector"]
    return detector_class(name).from_bytes(data)


make_detector.load = load_detector  # type: ignore[attr-defined]

def __getattr__(attr: str) -> Any:  # PEP 562: the classes stay importable from here
    for module, cls in _REGISTRY.values():
        if attr == cls:
            return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


__all__ = ["AdaptiveDetector", "BANDS", "LikelihoodDetector", "DETECTORS", "Detector", "EnsembleDetector", "IsolationForestDetector", "RobustZDetector", "detector_class", "load_detector", "make_detector", "severity_of"]
