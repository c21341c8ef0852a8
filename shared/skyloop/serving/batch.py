"""Batch prediction: a CSV in, the same rows with predictions out, streamed in chunks.

Memory stays flat whatever the file size (one chunk of rows at a time), the model is
the registry's production version (or one named), and it is loaded only after its
bytes match the registry's sha256. Bad rows are refused with their line number, as
training refuses them: a prediction for a row with a hole in it is not worth having.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import InvalidRequest, NotFound
from ..ports.artifacts import load_verified
from ..ports.inference import FLOAT32_MAX, categorical_features

if TYPE_CHECKING:
    from ..ports import BlobStore, ModelRegistry


@dataclass(frozen=True)
class BatchResult:
    group: str
    version: int
    rows: int
    seconds: float
    output: str
    status: str = "APPROVED"

    @property
    def warning(self) -> str | None:
        """Asked for by number, a version not approved for production may predict (an offline
        comparison), never silently."""
        if self.status == "APPROVED":
            return None
        return f"{self.group} v{self.version} is {self.status}: these predictions come from a model not approved for production"

    def to_dict(self) -> dict[str, Any]:
        out = {"model_group": self.group, "version": self.version, "status": self.status, "rows": self.rows,
               "seconds": round(self.seconds, 3), "rows_per_s": round(self.rows / self.seconds) if self.seconds else None,
               "output": self.output}
        if self.warning:
            out["warning"] = self.warning
        return out


def _clean(chunk: Any, features: list[str], categorical: set[str], first_line: int,
           refused: dict[int, str] | None = None) -> Any:
    """The model's features from a chunk. A bad row refuses the whole file, as training does; with
    ``refused`` (batch scoring) it is left out instead, its line and reason kept there."""
    import pandas as pd

    X = pd.DataFrame(index=chunk.index)
    keep = pd.Series(True, index=chunk.index)
    for f in features:
        col = chunk[f]
        if f in categorical:
            bad = col.isna()
            X[f] = col.astype(str)
        else:
            X[f] = pd.to_numeric(col, errors="coerce")
            bad = X[f].isna() | ~X[f].abs().le(FLOAT32_MAX)
        if bad.any():
            if refused is None:
                i = int(bad.to_numpy().nonzero()[0][0])
                raise InvalidRequest(f"line {first_line + i}: feature {f!r} is missing or not a finite number")
            for i in bad.to_numpy().nonzero()[0]:
                refused.setdefault(first_line + int(i), f"feature {f!r} is missing or not a finite number")
            keep &= ~bad
    return X[keep] if refused is not None else X


def _has_features(chunk: Any, features: list[str]) -> None:
    missing = [f for f in features if f not in chunk.columns]
    if missing:
        raise InvalidRequest(f"CSV lacks the model's feature(s): {', '.join(missing[:5])}")


def _unparsable(exc: BaseException) -> InvalidRequest:
    return InvalidRequest(f"CSV does not parse: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


def _predictions(bundle: dict[str, Any], rows: Any, X: Any, classes: list[str]) -> Any:
    """The rows with their prediction (and each class's probability, for a classifier)."""
    result = rows.copy()
    result["prediction"] = bundle["pipeline"].predict(X)
    if classes and hasattr(bundle["pipeline"], "predict_proba"):
        proba = bundle["pipeline"].predict_proba(X)
        for j, c in enumerate(classes[: proba.shape[1]]):
            result[f"proba_{c}"] = proba[:, j].round(6)
    return result


@dataclass(frozen=True)
class Scored:
    data: bytes  # the predictions, as CSV
    rows_in: int
    rows_out: int
    refused: dict[int, str]  # line -> why, for the rows left out


def score_bytes(data: bytes, bundle: dict[str, Any], *, chunk_rows: int = 50_000) -> Scored:
    """A CSV's bytes (plain or gzip) scored chunk by chunk; a bad row is left out with its reason, a
    file the model cannot read at all (a missing feature, not CSV, no rows) is refused whole."""
    import io

    import pandas as pd

    features: list[str] = bundle["features"]
    categorical, classes = categorical_features(bundle), [str(c) for c in bundle.get("classes") or []]
    refused: dict[int, str] = {}
    out, rows_in, rows_out, line = io.StringIO(), 0, 0, 2
    try:
        reader = pd.read_csv(io.BytesIO(data), chunksize=chunk_rows, skipinitialspace=True,
                             compression="gzip" if data[:2] == b"\x1f\x8b" else None)
        for chunk in reader:
            _has_features(chunk, features)
            X = _clean(chunk, features, categorical, line, refused)
            kept = chunk.loc[X.index]
            if len(kept):
                _predictions(bundle, kept, X, classes).to_csv(out, index=False, header=rows_out == 0)
            rows_in, rows_out, line = rows_in + len(chunk), rows_out + len(kept), line + len(chunk)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise _unparsable(exc) from None
    if rows_in == 0:
        raise InvalidRequest("CSV has a header but no rows")
    return Scored(out.getvalue().encode(), rows_in, rows_out, refused)


def _check_out(src: Path, out: Path) -> None:
    """The output replaces only a regular file that is not the input: ``--out`` over a symlink
    or a device node replaced it, and ``--out`` equal to the input overwrote the rows being read."""
    import os

    for p in (out, Path(f"{out}.partial")):
        if p.is_symlink() or (p.exists() and not p.is_file()):
            raise InvalidRequest(f"{p} is a symlink or not a regular file: refusing to replace it; choose another --out")
    if out.exists() and src.exists() and os.path.samefile(src, out):
        raise InvalidRequest(f"--out {out} is the input file: the predictions would overwrite the rows they read")


def predict_csv(
    src: str | Path,
    out: str | Path,
    *,
    group: str,
    registry: "ModelRegistry",
    store: "BlobStore",
    version: int | None = None,
    chunk_rows: int = 50_000,
    on_chunk: Callable[[int], None] | None = None,
) -> BatchResult:
    import pandas as pd

    _check_out(Path(src), Path(out))
    mv = registry.get(group, version) if version is not None else registry.alias(group, "production")
    if mv is None:
        raise NotFound(f"{group} has no production version; name one with --version")
    bundle = load_verified(store, mv.artifact_uri, mv.artifact_sha256)
    features: list[str] = bundle["features"]
    categorical = categorical_features(bundle)
    classes = [str(c) for c in bundle.get("classes") or []]
    t0, rows, line = time.perf_counter(), 0, 2
    tmp = Path(f"{out}.partial")
    try:
        reader = pd.read_csv(src, chunksize=chunk_rows, skipinitialspace=True)
        with open(tmp, "w", newline="") as fh:
            for n, chunk in enumerate(reader):
                _has_features(chunk, features)
                X = _clean(chunk, features, categorical, line)
                _predictions(bundle, chunk, X, classes).to_csv(fh, index=False, header=n == 0)
                rows += len(chunk)
                line += len(chunk)
                if on_chunk:
                    on_chunk(len(chunk))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise _unparsable(exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave half a predictions file under the final name
        raise
    if rows == 0:
        tmp.unlink(missing_ok=True)
        raise InvalidRequest("CSV has a header but no rows")
    tmp.replace(out)
    return BatchResult(group, mv.version, rows, time.perf_counter() - t0, str(out), mv.status.value)
