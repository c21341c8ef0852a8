"""What a serving container runs, the same on every cloud: ``model.joblib`` beside
``code/inference.py``, which is Skyloop's serving core (the file the local endpoint imports) plus
four functions in the shape of SageMaker's scikit-learn handler contract. Skyloop's serving image
(``infra/aws/serving/serve.py``) calls those four on SageMaker and on Vertex AI alike, so each
cloud's deployer only decides where the two files go (a model.tar.gz on S3, a folder on Cloud
Storage) and never writes its own copy of the code."""

from __future__ import annotations

from pathlib import Path

PROGRAM = "code/inference.py"

# Appended to the serving core: one self-contained file, so nothing depends on how the container
# sets up its import path. The registry's sha256 comes from the container's environment.
CONTRACT = b"""

# ---- serving container contract (appended by skyloop.ports.serving) ----
import os  # noqa: E402


def model_fn(model_dir):
    with open(os.path.join(model_dir, MODEL_FILE), "rb") as fh:
        return single_threaded(load_verified(fh.read(), os.environ.get("SKYLOOP_ARTIFACT_SHA256", "")))


def input_fn(body, content_type="application/json"):
    columns = os.environ.get("SKYLOOP_BATCH_COLUMNS")  # a SageMaker Batch Transform job's header
    return parse_request(body, content_type, json.loads(columns) if columns else None)


def predict_fn(rows, bundle):
    return predict(bundle, rows)


def output_fn(predictions, accept="application/json"):
    return render(predictions, accept)
"""


def serving_files(model_bytes: bytes) -> dict[str, bytes]:
    """The model directory a serving container loads: relative path -> bytes."""
    from . import inference

    return {inference.MODEL_FILE: model_bytes, PROGRAM: Path(inference.__file__).read_bytes() + CONTRACT}
