"""What the GCP and Azure packaging scripts share: the ``skyloop`` package without the other
clouds' adapters, laid out beside an entry point and the platform's requirements.txt (which the
platform's own build pip-installs), a deterministic zip of it, and the model libraries pinned
there, which the serving image or environment must match."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "shared" / "skyloop"
CLOUDS = ("aws", "gcp", "azure")
MODEL_LIBRARIES = ("numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "pandas", "pydantic")
SERVING_RECIPE = ROOT / "infra" / "aws" / "serving"  # serve.py and the Dockerfile, one for SageMaker and Vertex


def lay_out(cloud: str, entry: list[Path], out: Path) -> Path:
    """``out``/: the entry files (the first is the entry point) and skyloop/ for ``cloud``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for f in entry:
        shutil.copy2(f, out / f.name)
    others = [c for c in CLOUDS if c != cloud]
    for f in sorted(CORE.rglob("*")):
        rel = f.relative_to(CORE)
        parts = rel.parts
        if not f.is_file() or "__pycache__" in parts or f.suffix != ".py":
            continue
        if len(parts) > 1 and parts[0] == "clouds" and parts[1] in others:
            continue
        (out / "skyloop" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, out / "skyloop" / rel)
    return out


def zip_tree(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                info = zipfile.ZipInfo(f.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                z.writestr(info, f.read_bytes(), zipfile.ZIP_DEFLATED)
    return archive


def model_pins(requirements: Path) -> dict[str, str]:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", requirements.read_text(), flags=re.M))
    missing = [lib for lib in MODEL_LIBRARIES if lib not in pins]
    if missing:
        raise SystemExit(f"{requirements} must pin {', '.join(missing)} (==): the serving image uses the same pins")
    return {lib: pins[lib] for lib in MODEL_LIBRARIES}


def server_pins() -> list[str]:
    """The serving image's server libraries (Starlette, uvicorn), pinned in the recipe."""
    text = (SERVING_RECIPE / "requirements-server.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def serving_image(out: Path, model: dict[str, str], extra: tuple[str, ...] = ()) -> Path:
    """``out``/: the serving image's recipe, with a requirements.txt of the model's libraries as
    the functions pin them, the server's, and ``extra`` (a cloud's own, pinned)."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(SERVING_RECIPE, out, ignore=shutil.ignore_patterns("__pycache__", "requirements-server.txt"))
    lines = [*(f"{lib}=={v}" for lib, v in model.items()), *server_pins(), *extra]
    (out / "requirements.txt").write_text("".join(f"{line}\n" for line in lines))
    return out
