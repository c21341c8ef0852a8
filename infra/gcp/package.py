"""Lay out what Cloud Functions builds, and the serving image's recipe, for Google Cloud.

    python infra/gcp/package.py        # -> build/gcp/source/ and build/gcp/source.zip, build/gcp/serving-image/

The source is ``functions/gcp/main.py``, the ``skyloop`` package without the other clouds'
adapters, and ``requirements.txt``, which Cloud Functions pip-installs at deploy time (its own
build, in the function's runtime). Terraform uploads the zip (``infra/gcp/main.tf``). The serving
image (Skyloop's serve.py, which speaks Vertex AI's custom-container contract) is pinned to the
requirements' model libraries, so a model always loads where it is served; on Vertex the same
image runs training jobs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from source_tree import MODEL_LIBRARIES, ROOT, lay_out, model_pins as _pins, serving_image as _image, zip_tree  # noqa: E402

BUILD = ROOT / "build" / "gcp"
REQUIREMENTS = ROOT / "functions" / "gcp" / "requirements.txt"
__all__ = ["MODEL_LIBRARIES", "model_pins", "serving_image", "source"]


def model_pins() -> dict[str, str]:
    return _pins(REQUIREMENTS)


def source() -> Path:
    out = lay_out("gcp", [ROOT / "functions" / "gcp" / "main.py", REQUIREMENTS], BUILD / "source")
    zip_tree(out, BUILD / "source.zip")
    return out


# on Vertex the image fetches the model folder with the Cloud Storage client (serve.py)
VERTEX_LIBRARIES = ("google-cloud-storage==3.17.2",)


def serving_image() -> Path:
    return _image(BUILD / "serving-image", model_pins(), VERTEX_LIBRARIES)


def main(argv: list[str]) -> None:
    src, image = source(), serving_image()
    print(f"{src} ({sum(1 for _ in src.rglob('*.py'))} modules), {BUILD / 'source.zip'}, {image}")


if __name__ == "__main__":
    main(sys.argv[1:])
