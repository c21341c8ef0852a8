"""Each deployed function's dependency closure covers every import its code paths reach
(tests/integration/closure.py). The GCP and Azure functions imported the AI SDKs and Pillow for
uploads under ai/, which their requirements.txt did not install: the upload failed with
ImportError, was retried forever and never dead-lettered, while the tests passed in the
development virtualenv that has every extra."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import infra_package
from .closure import missing

ROOT = Path(__file__).resolve().parents[2]
# imports that stay out of a function's requirements, each with its reason
ALLOWED = {"mlflow": "the MLflow mirror runs only where SKYLOOP_TRACKING__MLFLOW_URI is set; a deployment that sets "
                     "it adds mlflow-skinny (the [mlflow] extra) to requirements.txt"}
FUNCTIONS = [("gcp", "source", "main.py"), ("azure", "app", "function_app.py")]


@pytest.mark.parametrize("cloud, layout, entry", FUNCTIONS)
def test_every_import_a_function_reaches_is_in_its_requirements(cloud: str, layout: str, entry: str) -> None:
    source = getattr(infra_package.load(cloud), layout)()
    assert missing(source, source / entry, source / "requirements.txt", ALLOWED) == []


def test_the_closure_check_catches_a_missing_sdk(tmp_path: Path) -> None:
    """The GCP requirements as they were: no AI SDKs, no Pillow."""
    source = infra_package.load("gcp").source()
    lines = (source / "requirements.txt").read_text().splitlines()
    cut = tmp_path / "requirements.txt"
    cut.write_text("\n".join(ln for ln in lines if not ln.startswith(("google-cloud-vision", "pillow"))) + "\n")
    found = missing(source, source / "main.py", cut, ALLOWED)
    assert any(f.startswith("google.cloud.vision_v1 ") and "google-cloud-vision" in f for f in found), found
    assert any(f.startswith("PIL ") and "pillow" in f for f in found), found


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_every_import_the_serving_image_reaches_is_in_its_requirements(cloud: str, tmp_path: Path) -> None:
    """serve.py (Starlette, uvicorn; the storage client on Vertex) and the model's own
    code/inference.py (pandas, joblib) run on what the image's requirements.txt installs. The AWS
    image pins the train package's versions of the same libraries the GCP one pins."""
    import shutil
    import sys

    sys.path.insert(0, str(ROOT / "infra"))
    from source_tree import serving_image

    gcp = infra_package.load("gcp")
    image = gcp.serving_image() if cloud == "gcp" else serving_image(tmp_path / "image", gcp.model_pins())
    shutil.copy2(ROOT / "shared" / "skyloop" / "ports" / "inference.py", image / "inference.py")
    allowed = {"skyloop": "a training job's own copy of skyloop, unpacked from its code channel"}
    if cloud == "aws":
        allowed["google.cloud"] = "fetched from Cloud Storage only on Vertex AI (AIP_STORAGE_URI)"
    for entry in ("serve.py", "inference.py"):
        assert missing(image, image / entry, image / "requirements.txt", allowed) == []
