"""Model serving, one file for every runtime: the local endpoint imports it, and each cloud's
serving bundle ships this very file with a few lines of that platform's contract appended
(SageMaker's model_fn / input_fn / predict_fn / output_fn: ``clouds/aws/sagemaker.py``).

Standalone on purpose: stdlib + pandas + joblib only, nothing from Skyloop, so the
container needs nothing installed beyond its own image.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from typing import Any, Mapping, Sequence

MAX_ROWS_PER_REQUEST = 10_000
MODEL_FILE = "model.joblib"
ARTIFACT_FORMAT = "skyloop-model/1"
# scikit-learn's trees compare features as float32: a value beyond it raises inside the model
# call, and with dynamic batching that failed every request batched with it. Refused per request.
FLOAT32_MAX = 3.4028234663852886e38


class RequestError(ValueError):
    """A prediction request that does not match the model's input schema."""


class BadValue(RequestError):
    """A value no version of any model takes (not a number, not finite, beyond float32): the
    caller's fault alone, where a missing feature may be the version's (a new column)."""


def categorical_features(bundle: Mapping[str, Any]) -> set[str]:
    """The features the pipeline one-hot encodes (text), the rest being numbers: every scorer's rule."""
    try:
        steps = bundle["pipeline"].named_steps
        return set(steps["encode"].transformers_[0][2]) if "encode" in steps else set()
    except (AttributeError, KeyError, IndexError):  # pragma: no cover - defensive
        return set()


def frame(bundle: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Any:
    """Validate request rows against the model's features; build the DataFrame it was trained on."""
    import pandas as pd

    if not isinstance(rows, (list, tuple)) or not rows:
        raise RequestError("instances must be a non-empty list of objects")
    if len(rows) > MAX_ROWS_PER_REQUEST:
        raise RequestError(f"at most {MAX_ROWS_PER_REQUEST} instances per request")
    features: list[str] = bundle["features"]
    categorical = categorical_features(bundle)
    clean = []
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise RequestError(f"instance {i} is not an object")
        missing = [f for f in features if f not in r]
        if missing:
            raise RequestError(f"instance {i} lacks feature(s): {', '.join(missing[:5])}")
        out: dict[str, str | float] = {}
        for f in features:
            v = r[f]
            if f in categorical:
                if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                    raise BadValue(f"instance {i}: feature {f!r} must be a string")
                out[f] = str(v)
            else:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise BadValue(f"instance {i}: feature {f!r} must be a finite number")
                if abs(v) > FLOAT32_MAX:
                    raise BadValue(f"instance {i}: feature {f!r} is beyond the model's range (±3.4e38)")
                out[f] = float(v)
        clean.append(out)
    return pd.DataFrame(clean, columns=features)


# ---- the serving core every platform's contract calls -----------------------------------
def load_verified(data: bytes, expected_sha256: str) -> dict[str, Any]:
    """Unpickle ``model.joblib`` only if it hashes to the sha256 the registry vouched for
    (the deployer passes it to the container): never load unvouched bytes."""
    import joblib

    actual = hashlib.sha256(data).hexdigest()
    if not expected_sha256 or actual != expected_sha256:
        raise RuntimeError(f"model artifact hashes to {actual[:12]}..., the registry vouches for "
                           f"{expected_sha256[:12] or 'nothing'}; refusing to load")
    bundle = joblib.load(io.BytesIO(data))
    if not isinstance(bundle, dict) or bundle.get("format") != ARTIFACT_FORMAT:
        raise RuntimeError(f"model artifact is not a {ARTIFACT_FORMAT} bundle")
    return bundle


def single_threaded(bundle: dict[str, Any]) -> dict[str, Any]:
    """Every model call on one thread (``n_jobs=1``) wherever a server answers requests. A server
    already runs a worker per core, and a forest trained with ``n_jobs=-1`` otherwise started and
    tore down a thread pool on every call: 31 -> 11 ms for the demo's forest on a few rows, and
    no pool per request left to race on a busy machine."""
    pipeline: Any = bundle.get("pipeline")
    if hasattr(pipeline, "get_params"):
        jobs = {k: 1 for k in pipeline.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")}
        if jobs:
            pipeline.set_params(**jobs)
    return bundle


def parse_request(body: bytes | str, content_type: str = "application/json",
                  batch_columns: Sequence[str] | None = None) -> list[Any]:
    """Rows to predict. Two batch shapes are scored row by row (``BatchRow``), a bad row refused alone:
    CSV lines as SageMaker Batch Transform sends them (``text/csv``, the file's header in
    ``batch_columns``), and Vertex AI batch prediction's arrays with the header in its parameters
    (``{"instances": [[...]], "parameters": {"columns": [...]}}``)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        if not batch_columns:
            raise RequestError("text/csv is taken from a batch job only (its columns in SKYLOOP_BATCH_COLUMNS)")
        return csv_batch(body, list(batch_columns))
    if kind != "application/json":
        raise RequestError(f"content type {content_type!r} is not supported; send application/json")
    try:
        doc = json.loads(body)
    except ValueError:
        raise RequestError("request body is not valid JSON") from None
    rows = doc.get("rows", doc.get("instances")) if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise RequestError('send {"rows": [...]} or {"instances": [...]}')
    columns = (doc.get("parameters") or {}).get("columns") if isinstance(doc, dict) else None
    if isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns):
        return [BatchRow(zip(columns, r)) if isinstance(r, list) and len(r) == len(columns) else
                Refused(f"has {len(r) if isinstance(r, list) else 'no'} fields; the header has {len(columns)}")
                for r in rows]
    return rows


# ---- batch scoring: every record answered, a bad one refused with its reason -----------------------
class BatchRow(dict[str, Any]):
    """One record of a batch job, its raw values (CSV text, or what Vertex read) by column."""


class Refused(str):
    """A record refused before the model saw it; the string is the reason."""


HEADER = Refused("\0header")  # a CSV batch's header line, answered with the output's header
OUTPUT_HEADER = ("prediction", "refused")


def csv_batch(body: bytes | str, columns: list[str]) -> list[Any]:
    """One entry per line, so SageMaker's ``JoinSource=Input`` joins each answer to its record."""
    import csv

    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    out: list[Any] = []
    for line in text.splitlines():
        try:
            [fields] = list(csv.reader([line])) or [[]]
        except (csv.Error, ValueError):
            out.append(Refused("is not a CSV record"))
            continue
        if fields == columns:
            out.append(HEADER)
        elif len(fields) != len(columns):
            out.append(Refused(f"has {len(fields)} fields; the header has {len(columns)}"))
        else:
            out.append(BatchRow(zip(columns, fields)))
    return out


def _batch_value(v: Any, categorical: bool) -> Any:
    """A raw batch value as the model takes it, or None: missing, not a number, not finite, or
    beyond float32 (the in-function scorer's rule, ``serving/batch.py``)."""
    if v is None or isinstance(v, bool) or (isinstance(v, str) and not v.strip()):
        return None
    if categorical:
        return str(v)
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and abs(x) <= FLOAT32_MAX else None


def score_batch(bundle: Mapping[str, Any], rows: list[Any]) -> list[tuple[str, Any]]:
    """("ok", prediction), ("refused", reason) or ("header", None) for each entry, in order; the
    rows that pass go to the model in one call."""
    import pandas as pd

    features: list[str] = bundle["features"]
    categorical = categorical_features(bundle)
    out: list[tuple[str, Any]] = []
    clean: list[dict[str, Any]] = []
    at: list[int] = []
    for r in rows:
        if r is HEADER:
            out.append(("header", None))
            continue
        if isinstance(r, Refused) or not isinstance(r, Mapping):
            out.append(("refused", str(r) if isinstance(r, Refused) else "is not a record"))
            continue
        values = {f: _batch_value(r.get(f), f in categorical) for f in features}
        bad = next((f for f, v in values.items() if v is None), None)
        if bad is not None:
            out.append(("refused", f"feature {bad!r} is missing or not a finite number"))
            continue
        at.append(len(out))
        out.append(("ok", None))
        clean.append(values)
    if clean:
        preds = bundle["pipeline"].predict(pd.DataFrame(clean, columns=features))
        for i, p in zip(at, preds):
            out[i] = ("ok", p.item() if hasattr(p, "item") else p)
    return out


def _is_batch(rows: list[Any]) -> bool:
    return bool(rows) and all(isinstance(r, (BatchRow, Refused)) for r in rows)


def predict(bundle: Mapping[str, Any], rows: list[Any]) -> list[Any]:
    if _is_batch(rows):
        return score_batch(bundle, rows)
    preds = bundle["pipeline"].predict(frame(bundle, rows))
    return [p.item() if hasattr(p, "item") else p for p in preds]


def render(predictions: list[Any], accept: str = "application/json") -> str:
    """JSON, or for a batch job asking ``text/csv`` one ``prediction,refused`` line per record."""
    batch = bool(predictions) and all(isinstance(p, tuple) and len(p) == 2 and p[0] in ("ok", "refused", "header")
                                      for p in predictions)
    if not batch:
        return json.dumps({"predictions": predictions})
    if accept.split(";")[0].strip().lower() == "text/csv":
        import csv

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for kind, value in predictions:
            w.writerow(OUTPUT_HEADER if kind == "header" else (value, "") if kind == "ok" else ("", value))
        return buf.getvalue()
    return json.dumps({"predictions": [v if k == "ok" else {"refused": v} for k, v in predictions if k != "header"]})
