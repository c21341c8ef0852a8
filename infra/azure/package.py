"""Lay out the Function App and the Azure ML environment's recipe.

    python infra/azure/package.py      # -> build/azure/app/ and build/azure/app.zip, build/azure/environment/

The app is ``functions/azure/function_app.py``, ``host.json``, ``requirements.txt`` (the Functions
build pip-installs it: ``func azure functionapp publish`` or a zip deploy with remote build) and
the ``skyloop`` package without the other clouds' adapters. The environment (``conda.yaml``, for
``az ml environment create``) is pinned to the app's model libraries: the scoring script and the
training jobs run on the libraries the train function trains with.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from source_tree import ROOT, lay_out, model_pins, zip_tree  # noqa: E402

BUILD = ROOT / "build" / "azure"
FUNCTIONS = ROOT / "functions" / "azure"


def app() -> Path:
    out = lay_out("azure", [FUNCTIONS / "function_app.py", FUNCTIONS / "host.json", FUNCTIONS / "requirements.txt"],
                  BUILD / "app")
    zip_tree(out, BUILD / "app.zip")
    return out


def environment() -> Path:
    out = BUILD / "environment"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pins = model_pins(FUNCTIONS / "requirements.txt")
    (out / "conda.yaml").write_text(
        "name: skyloop-serving\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
        + "".join(f"      - {lib}=={v}\n" for lib, v in pins.items()) + "      - azureml-inference-server-http\n")
    return out


def main(argv: list[str]) -> None:
    a, e = app(), environment()
    print(f"{a} ({sum(1 for _ in a.rglob('*.py'))} modules), {BUILD / 'app.zip'}, {e / 'conda.yaml'}")


if __name__ == "__main__":
    main(sys.argv[1:])
