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


def frame(bundle: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Any:
    """Validate request rows against the model's features; build the DataFrame it was trained on."""
    import pandas as pd

    if not isinstance(rows, (list, tuple)) or not rows:
        raise RequestError("instances must be a non-empty list of objects")
    if len(rows) > MAX_ROWS_PER_REQUEST:
        raise RequestError(f"at most {MAX_ROWS_PER_REQUEST} instances per request")
    features: list[str] = bundle["features"]
    try:
        categorical = set(bundle["pipeline"].named_steps["encode"].transformers_[0][2]) if "encode" in bundle["pipeline"].named_steps else set()
    except (AttributeError, KeyError, IndexError):  # pragma: no cover - defensive
        categorical = set()
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


def parse_request(body: bytes | str, content_type: str = "application/json") -> list[Any]:
    if content_type.split(";")[0].strip() != "application/json":
        raise RequestError(f"content type {content_type!r} is not supported; send application/json")
    try:
        doc = json.loads(body)
    except ValueError:
        raise RequestError("request body is not valid JSON") from None
    rows = doc.get("rows", doc.get("instances")) if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise RequestError('send {"rows": [...]} or {"instances": [...]}')
    return rows


def predict(bundle: Mapping[str, Any], rows: list[Any]) -> list[Any]:
    preds = bundle["pipeline"].predict(frame(bundle, rows))
    return [p.item() if hasattr(p, "item") else p for p in preds]


def render(predictions: list[Any]) -> str:
    return json.dumps({"predictions": predictions})
