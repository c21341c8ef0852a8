"""Run what ships: the source Cloud Functions builds (infra/gcp/package.py -> build/gcp/source/) is
imported alone, in a fresh interpreter that sees only that folder and the third-party libraries
(no site hooks, so not this checkout's editable skyloop), and functions-framework loads each entry
point from it and answers a sample event as Eventarc would deliver it. Cloud Functions' own
build (pip on requirements.txt in its python312 image) cannot run offline here."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from .. import infra_package

pytest.importorskip("functions_framework")

ROOT = Path(__file__).resolve().parents[3]

CHECK = """
import json, sys
sys.path[:0] = [{source!r}, {site!r}]
import functions_framework, skyloop
assert skyloop.__file__.startswith({source!r}), skyloop.__file__
for target in ("train", "deploy", "detect", "remediate"):
    functions_framework.create_app(target=target, source={source!r} + "/main.py", signature_type="cloudevent")
functions_framework.create_app(target="rollout_step", source={source!r} + "/main.py", signature_type="http")
from skyloop.clouds.gcp.events import to_domain
sample = json.load(open({sample!r}))
print(json.dumps([e.type for e in to_domain(sample, training_bucket="skyloop-training-dev")]))
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("skyloop.clouds.aws", "skyloop.clouds.azure", "boto3", "azure")))))
"""


def _package() -> Any:
    return infra_package.load("gcp")


def test_the_built_source_imports_alone_and_serves_every_entry_point() -> None:
    package = _package()
    source = package.source()
    assert not (source / "skyloop" / "clouds" / "aws").exists() and not (source / "skyloop" / "clouds" / "azure").exists()
    assert (source / "requirements.txt").read_text() == (ROOT / "functions/gcp/requirements.txt").read_text()
    assert set(package.model_pins()) == set(package.MODEL_LIBRARIES)
    code = CHECK.format(source=str(source), site=sysconfig.get_paths()["purelib"],
                        sample=str(ROOT / "events/gcp/storage-object-finalized.json"))
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=source)
    assert res.returncode == 0, res.stderr[-3000:]
    kinds, foreign = (json.loads(line) for line in res.stdout.strip().splitlines()[-2:])
    assert kinds == ["TrainingDataArrived"] and foreign == []


def test_the_serving_image_is_pinned_to_the_functions_model_libraries() -> None:
    package = _package()
    image = package.serving_image()
    pins = dict(line.split("==") for line in (image / "requirements.txt").read_text().split())
    assert {lib: pins[lib] for lib in package.MODEL_LIBRARIES} == package.model_pins()
    assert (image / "serve.py").exists() and (image / "Dockerfile").exists()
    # the server's pins, and the storage client serve.py fetches the model folder with on Vertex
    assert {"starlette", "uvicorn", "google-cloud-storage"} <= set(pins)
