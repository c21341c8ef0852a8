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

import re
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "shared" / "skyloop"
BUILD = ROOT / "build" / "gcp"
REQUIREMENTS = ROOT / "functions" / "gcp" / "requirements.txt"
OTHER_CLOUDS = ("aws", "azure")
MODEL_LIBRARIES = ("numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "pandas", "pydantic")


def _shipped(relative: Path) -> bool:
    parts = relative.parts
    return "__pycache__" not in parts and not (len(parts) > 1 and parts[0] == "clouds" and parts[1] in OTHER_CLOUDS)


def model_pins(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", requirements.read_text(), flags=re.M))
    missing = [lib for lib in MODEL_LIBRARIES if lib not in pins]
    if missing:
        raise SystemExit(f"{requirements} must pin {', '.join(missing)} (==): the serving image uses the same pins")
    return {lib: pins[lib] for lib in MODEL_LIBRARIES}


def source() -> Path:
    out = BUILD / "source"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy2(ROOT / "functions" / "gcp" / "main.py", out / "main.py")
    shutil.copy2(REQUIREMENTS, out / "requirements.txt")
    for f in sorted(CORE.rglob("*")):
        rel = f.relative_to(CORE)
        if f.is_file() and _shipped(rel) and f.suffix in (".py", ".json", ".typed"):
            (out / "skyloop" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out / "skyloop" / rel)
    archive = BUILD / "source.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(out.rglob("*")):
            if f.is_file():
                info = zipfile.ZipInfo(f.relative_to(out).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                z.writestr(info, f.read_bytes(), zipfile.ZIP_DEFLATED)
    return out


def serving_image() -> Path:
    out = BUILD / "serving-image"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(ROOT / "infra" / "aws" / "serving", out, ignore=shutil.ignore_patterns("__pycache__"))
    (out / "requirements.txt").write_text("".join(f"{lib}=={v}\n" for lib, v in model_pins().items()))
    return out


def main(argv: list[str]) -> None:
    src, image = source(), serving_image()
    print(f"{src} ({sum(1 for _ in src.rglob('*.py'))} modules), {BUILD / 'source.zip'}, {image}")


if __name__ == "__main__":
    main(sys.argv[1:])
