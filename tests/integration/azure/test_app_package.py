"""Run what ships: the Function App folder (infra/azure/package.py -> build/azure/app/) imported
alone, in a fresh interpreter that sees only that folder and the third-party libraries (no site
hooks, so not this checkout's editable skyloop), indexes the functions the host would find, and
its Azure ML environment recipe is pinned to the app's model libraries. The Functions host and its
remote build (pip on requirements.txt) cannot run here."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from .. import infra_package

ROOT = Path(__file__).resolve().parents[3]

CHECK = """
import json, sys
sys.path[:0] = [{app!r}, {site!r}]
import function_app, skyloop
assert skyloop.__file__.startswith({app!r}), skyloop.__file__
names = sorted(f.get_function_name() for f in function_app.app.get_functions())
print(json.dumps(names))
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("skyloop.clouds.aws", "skyloop.clouds.gcp", "boto3", "google.cloud")))))
"""


def _package() -> Any:
    return infra_package.load("azure")


def test_the_built_app_imports_alone_and_indexes_every_function() -> None:
    package = _package()
    app = package.app()
    assert not (app / "skyloop" / "clouds" / "aws").exists() and not (app / "skyloop" / "clouds" / "gcp").exists()
    assert {p.name for p in app.iterdir()} == {"function_app.py", "host.json", "requirements.txt", "skyloop"}
    code = CHECK.format(app=str(app), site=sysconfig.get_paths()["purelib"])
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=300, cwd=app)
    assert res.returncode == 0, res.stderr[-3000:]
    names, foreign = (json.loads(line) for line in res.stdout.strip().splitlines()[-2:])
    assert names == ["deploy", "detect", "invoke", "notify", "notify_look", "remediate", "rollout", "rollout_step", "train"]
    assert foreign == []


def test_the_environment_is_pinned_to_the_apps_model_libraries() -> None:
    package = _package()
    conda = (package.environment() / "conda.yaml").read_text()
    pins = dict(line.strip().removeprefix("- ").split("==") for line in conda.splitlines() if "==" in line)
    sys.path.insert(0, str(ROOT / "infra"))
    try:
        from source_tree import model_pins
    finally:
        sys.path.pop(0)
    assert pins == model_pins(ROOT / "functions/azure/requirements.txt")
