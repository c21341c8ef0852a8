"""What every detector shares: the [0, 1] score scale and the severity bands on it.

Detectors calibrate their raw scores so that 0.5 is "as unusual as the rarest
normal data they learned" (the contamination quantile). Fixed bands above that
make severities comparable across detectors, services and clouds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

from ..events import Severity

# Lower bound of each band on the calibrated score.
BANDS: tuple[tuple[float, Severity], ...] = (
    (0.90, Severity.CRITICAL),
    (0.75, Severity.HIGH),
    (0.60, Severity.MEDIUM),
    (0.50, Severity.LOW),
)


def severity_of(score: float) -> Severity:
    if not np.isfinite(score):
        return Severity.NORMAL
    for bound, sev in BANDS:
        if score >= bound:
            return sev
    return Severity.NORMAL


# No real metric comes near this magnitude. A residual of two values near 1e308 overflows
# to inf, and one inf turned a detector's saved state into NaN for good (a later real
# incident then scored nothing). The detect use-case treats values beyond it as missing
# (and says so); a detector used directly clips to it, so differences, sums and ratios of
# what it learns stay finite.
MAX_ABS_VALUE = 1e150


def drop_out_of_range(X: np.ndarray) -> np.ndarray:
    """Values beyond ±``MAX_ABS_VALUE`` set to NaN (missing), in place; returns where they were.
    Every path that feeds a detector (the detect use-case, ``skyloop fit-detector``) goes through
    it: garbage from a broken exporter is not learned, or it blinds the detector for days."""
    absurd = np.abs(np.nan_to_num(X)) > MAX_ABS_VALUE
    if absurd.any():
        X[absurd] = np.nan
    return absurd


def clip_values(x: np.ndarray) -> np.ndarray:
    """Finite-safe copy of ``x`` (NaN stays NaN: it means missing)."""
    return np.minimum(np.maximum(x, -MAX_ABS_VALUE), MAX_ABS_VALUE)  # two ufuncs: np.clip costs twice as much


def state_is_sound(data: bytes, nan_ok: tuple[str, ...] = ()) -> bool:
    """Whether a detector's saved state is usable: every saved array finite, except NaN in
    the arrays where a detector says NaN means "not seen yet" (its ``nan_ok``)."""
    import io

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            for name in z.files:
                if name == "meta" or z[name].dtype.kind not in "fc":
                    continue
                arr = np.asarray(z[name], dtype=float)
                bad = ~np.isfinite(arr)
                if name in nan_ok:
                    bad &= ~np.isnan(arr)
                if bad.any() or (np.abs(np.nan_to_num(arr)) > MAX_ABS_VALUE * 4).any():
                    return False
    except Exception:  # noqa: BLE001 - anything unreadable is unsound by definition
        return False
    return True


def lower_bound(sev: Severity) -> float:
    for bound, s in BANDS:
        if s == sev:
            return bound
    return 0.0


@runtime_checkable
class Detector(Protocol):
    name: str
    columns_: list[str]

    def fit(self, X: Any, columns: list[str] | None = None) -> "Detector": ...

    def partial_fit(self, X: Any) -> "Detector": ...

    def score(self, X: Any) -> np.ndarray: ...

    def score_one(self, timestamp: Any, values: Mapping[str, float]) -> float: ...

    def severity(self, score: float) -> Severity: ...

    def save(self, path: Any) -> None: ...

    def to_bytes(self) -> bytes: ...


@dataclass(frozen=True)
class Tags:
    """What a detector can do, declared by its class (scikit-learn's estimator tags, in spirit),
    so the use-cases ask ``det.tags`` instead of probing for methods.

    - ``streaming``: learns record by record with timestamps (``process(X, ts)``), scores from
      its own warm-up (``warmup``, ``n_``); otherwise the use-case scores in chunks and learns
      only the rows below MEDIUM (``partial_fit``).
    - ``restores_normal``: can adopt a verified pre-incident normal (``restore_normal``).
    - ``nan_ok``: saved arrays where NaN means "not seen yet" rather than corruption.
    """

    streaming: bool = False
    restores_normal: bool = False
    nan_ok: tuple[str, ...] = ()


class SavesBytes:
    """The base of every detector: its ``tags``, and ``save(path)`` from ``to_bytes()``."""

    tags: ClassVar[Tags] = Tags()

    def to_bytes(self) -> bytes:  # pragma: no cover - implemented by each detector
        raise NotImplementedError

    def save(self, path: Any) -> None:
        with open(path, "wb") as fh:
            fh.write(self.to_bytes())


def as_matrix(X: Any, columns: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Accept a numpy array, a pandas DataFrame or a list of dicts, without importing pandas."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        cols = [str(c) for c in X.columns] if columns is None else columns
        return np.asarray(X[cols].to_numpy(dtype=float), dtype=float), cols
    if isinstance(X, list) and X and isinstance(X[0], Mapping):
        cols = columns or sorted({k for row in X for k in row})
        return np.array([[float(row.get(c, np.nan)) for c in cols] for row in X], dtype=float), cols
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    cols = columns or [f"x{i}" for i in range(arr.shape[1])]
    return arr, cols
