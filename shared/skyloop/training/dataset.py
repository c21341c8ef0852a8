"""Validate a training CSV and turn it into features + target.

Policy (documented in README): Skyloop *rejects* rather than repairs. Missing or
infinite values, a column that is numeric except for a few stray strings, a
duplicated header, or a class too small for k-fold CV each stop training with
one typed ``InvalidDataset`` and its one-line reason. Truly categorical feature
columns (text with at most ``max_categories`` levels) are one-hot encoded.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidDataset

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class DatasetLimits:
    max_bytes: int = 512 * 1024 * 1024
    min_rows: int = 10
    folds: int = 5
    max_categories: int = 50
    max_classes: int = 50
    # Bounded before parsing: one 5 MB text cell in a 300-row CSV once drove training to
    # 12.5 GB RSS (every copy pandas and the encoder make of it).
    max_row_bytes: int = 1024 * 1024
    max_field_bytes: int = 64 * 1024


@dataclass
class Dataset:
    frame: "pd.DataFrame"
    target: str
    task: Task
    numeric: list[str]
    categorical: dict[str, list[str]]
    sha256: str
    n_bytes: int
    classes: list[Any] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c != self.target]

    @property
    def X(self) -> "pd.DataFrame":
        return self.frame[self.features]

    @property
    def y(self) -> "pd.Series":
        return self.frame[self.target]

    def profile(self) -> dict[str, Any]:
        """Schema profile kept in the registry: enough to build smoke-test rows, no raw rows."""
        return {"numeric": {c: numeric_profile(self.frame[c]) for c in self.numeric}, "categorical": self.categorical}


def numeric_profile(col: "pd.Series") -> dict[str, Any]:
    """A numeric column as the registry keeps it (no NaN in ``col``): what smoke rows draw from."""
    return {"min": float(col.min()), "max": float(col.max()), "median": float(col.median()),
            "integer": bool((col == col.round()).all())}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sidecar(data: bytes | None) -> dict[str, Any]:
    """Parse ``<name>.skyloop.json``: {"target": ..., "model_group": ..., "params": {...}}."""
    if not data:
        return {}
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InvalidDataset(f"sidecar is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidDataset("sidecar must be a JSON object")
    return doc


def _header(data: bytes) -> list[str]:
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidDataset("CSV is not UTF-8 text") from None
    return next(csv.reader([text]), [])


def _line(index: Any) -> int:
    return int(index) + 2  # 1-based, after the header line


MAX_FEATURE_ABS = float(3.4e38)  # float32's range: scikit-learn's trees cast features to it
MAX_TARGET_ABS = 1e150  # squared errors (RMSE, the trees' impurity) stay finite below 1e154


def _check_sizes(data: bytes, limits: DatasetLimits) -> None:
    """Longest row and longest field, found with numpy over the raw bytes (no copy of the text).
    Fields are cut at every comma, so a quoted field only looks shorter than it is: the bound
    can let a long quoted cell through to the row check, never refuse a short one."""
    import numpy as np

    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    ends = np.concatenate(([-1], newlines, [len(buf)]))
    rows = np.diff(ends) - 1
    i = int(rows.argmax())
    if rows[i] > limits.max_row_bytes:
        raise InvalidDataset(f"line {i + 1} is {int(rows[i]):,} bytes, above the {limits.max_row_bytes:,}-byte limit per row")
    seps = np.flatnonzero((buf == 10) | (buf == 44))
    fields = np.diff(np.concatenate(([-1], seps, [len(buf)]))) - 1
    j = int(fields.argmax())
    if fields[j] > limits.max_field_bytes:
        line = int(np.searchsorted(newlines, seps[j - 1] if j > 0 else 0, side="right")) + 1
        raise InvalidDataset(f"a field on line {line} is {int(fields[j]):,} bytes, above the "
                             f"{limits.max_field_bytes:,}-byte limit per field")


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """A gzip-compressed CSV (``.csv.gz``) inflated, never past ``max_bytes``: a small file that
    expands without bound (a zip bomb) is refused before it is held in memory. Other bytes pass."""
    if data[:2] != b"\x1f\x8b":
        return data
    import zlib

    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise InvalidDataset(f"gzip data does not inflate: {exc}") from None
    if len(out) > max_bytes:
        raise InvalidDataset(f"gzip data inflates beyond the {max_bytes}-byte limit")
    if not d.eof:
        raise InvalidDataset("gzip data is truncated")
    return out


def load_dataset(data: bytes, target: str | None = None, limits: DatasetLimits | None = None) -> Dataset:
    """Parse and validate; the target defaults to the last column."""
    import numpy as np
    import pandas as pd

    limits = limits or DatasetLimits()
    data = gunzip(data, limits.max_bytes)
    n_bytes = len(data)
    if n_bytes == 0 or not data.strip():
        raise InvalidDataset("CSV is empty")
    if n_bytes > limits.max_bytes:
        raise InvalidDataset(f"CSV is {n_bytes} bytes, above the {limits.max_bytes}-byte limit")
    _check_sizes(data, limits)
    header = _header(data)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InvalidDataset(f"duplicated column name(s): {', '.join(dupes)}")
    if any(not h.strip() for h in header):
        raise InvalidDataset("CSV header has an empty column name")
    try:
        with warnings.catch_warnings():
            # index_col=False: a row wider than the header must not silently become an
            # index; pandas warns instead, and the warning is made the error it is.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(data), encoding="utf-8", skipinitialspace=True, index_col=False)
    except pd.errors.ParserWarning:
        raise InvalidDataset(f"CSV does not parse: a row has more fields than the {len(header)}-column header") from None
    except UnicodeDecodeError:
        raise InvalidDataset("CSV is not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise InvalidDataset("CSV is empty") from None
    except (pd.errors.ParserError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidDataset(f"CSV does not parse: {msg}") from None
    if len(frame) == 0:
        raise InvalidDataset("CSV has a header but no rows")
    if frame.shape[1] < 2:
        raise InvalidDataset("CSV needs at least one feature column and a target column")

    target = target or str(frame.columns[-1])
    if target not in frame.columns:
        raise InvalidDataset(f"target column {target!r} is not in the CSV (columns: {', '.join(map(str, frame.columns))})")

    numeric: list[str] = []
    categorical: dict[str, list[str]] = {}
    for col in frame.columns:
        s = frame[col]
        missing = s.isna()
        if missing.any():
            rows = ", ".join(str(_line(i)) for i in s.index[missing][:3])
            raise InvalidDataset(f"column {col!r} has {int(missing.sum())} missing value(s) (line {rows})")
        if pd.api.types.is_bool_dtype(s):
            frame[col] = s.astype(int)
            s = frame[col]
        if pd.api.types.is_numeric_dtype(s):
            values = s.to_numpy(dtype=float)
            bad = ~np.isfinite(values)
            if bad.any():
                i = s.index[bad][0]
                raise InvalidDataset(f"column {col!r} has a non-finite value {float(s[i])!r} at line {_line(i)}")
            # trees split on float32 features, and a regression's squared errors must stay finite
            bound = MAX_TARGET_ABS if col == target else MAX_FEATURE_ABS
            huge = np.abs(values) > bound
            if huge.any():
                i = s.index[huge][0]
                raise InvalidDataset(f"column {col!r} has {float(s[i]):g} at line {_line(i)}, beyond ±{bound:.3g}; rescale it")
            if col != target:
                numeric.append(str(col))
            continue
        as_num = pd.to_numeric(s, errors="coerce")
        parsed = as_num.notna()
        if parsed.all():  # quoted numbers: accept as numeric
            frame[col] = as_num
            if col != target:
                numeric.append(str(col))
            continue
        if parsed.mean() >= 0.5:
            i = s.index[~parsed][0]
            raise InvalidDataset(f"column {col!r} is numeric but line {_line(i)} has text {str(s[i])[:40]!r}")
        if col == target:
            continue
        levels = sorted(map(str, s.unique()))
        if len(levels) > limits.max_categories:
            raise InvalidDataset(
                f"column {col!r} is text with {len(levels)} distinct values (limit {limits.max_categories}); "
                "encode it numerically or drop it"
            )
        frame[col] = s.astype(str)
        categorical[str(col)] = levels

    task, classes = _task_of(frame[target], limits)
    if len(frame) < limits.min_rows:
        raise InvalidDataset(f"CSV has {len(frame)} rows; need at least {limits.min_rows}")
    if task == "classification":
        counts = frame[target].value_counts()
        if len(counts) < 2:
            raise InvalidDataset(f"target {target!r} has a single class ({counts.index[0]!r}); need at least two")
        small = counts[counts < limits.folds]
        if len(small):
            raise InvalidDataset(
                f"class {small.index[0]!r} of {target!r} has {int(small.iloc[0])} row(s); "
                f"need at least {limits.folds} per class for {limits.folds}-fold CV"
            )
    elif frame[target].nunique() < 2:
        raise InvalidDataset(f"target {target!r} is constant")
    return Dataset(
        frame=frame,
        target=str(target),
        task=task,
        numeric=numeric,
        categorical=categorical,
        sha256=sha256_bytes(data),
        n_bytes=n_bytes,
        classes=classes,
    )


def _task_of(y: "pd.Series", limits: DatasetLimits) -> tuple[Task, list[Any]]:
    """Text, bool or few distinct integers -> classification; otherwise regression."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(y):
        classes = sorted(map(str, y.unique()))
        if len(classes) > limits.max_classes:
            raise InvalidDataset(f"target has {len(classes)} text classes (limit {limits.max_classes})")
        return "classification", classes
    values = y.to_numpy(dtype=float)
    integral = bool(all(math.isclose(v, round(v)) for v in values[:10000]))
    n_unique = int(y.nunique())
    if integral and n_unique <= min(limits.max_classes, 20):
        return "classification", sorted(int(v) for v in y.unique())
    return "regression", []
