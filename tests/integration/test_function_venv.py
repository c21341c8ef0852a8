"""Each deployed function in a virtualenv of its own requirements alone (tests/integration/
function_venv.py): the entry point, every shipped module and every third-party module its code
reaches import there, and every sample event of its cloud decodes or is refused with a typed
error. The closure check (test_function_closure.py) reads the same imports offline; this one runs
them, so a module that imports but fails (a missing transitive dependency, a version that lacks a
name) shows too. AWS's packages get the same from tests/integration/aws/test_built_packages.py,
which imports each built package in CPython 3.13 with nothing but its folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from . import infra_package
from .closure import imports, reachable
from .function_venv import check, venv
from .test_function_closure import ALLOWED

FUNCTIONS = {"gcp": ("source", "main"), "azure": ("app", "function_app")}


@pytest.fixture(scope="module", params=sorted(FUNCTIONS))
def built(request: pytest.FixtureRequest) -> tuple[str, Path, Path, str, list[str], list[str]]:
    cloud = request.param
    layout, entry = FUNCTIONS[cloud]
    source = getattr(infra_package.load(cloud), layout)()
    third = sorted(m for m in imports(source, source / f"{entry}.py")
                   if not any(m == a or m.startswith(a + ".") for a in ALLOWED))
    own = reachable(source, source / f"{entry}.py")
    return cloud, venv(source / "requirements.txt", cloud), source, entry, third, own


def test_every_module_imports_and_every_sample_decodes_in_the_functions_own_venv(built: Any) -> None:
    cloud, python, source, entry, third, own = built
    out = check(python, source, cloud, entry, third, own)
    assert out["failed"] == [], out["failed"][:10]
    assert out["imported"] > 100 and out["samples"] >= 10 and out["decoded"] >= 6, out


def test_the_venv_check_catches_a_missing_requirement(built: Any) -> None:
    """Pillow and the vision SDK hidden, as when requirements.txt lacked them (the AI uploads)."""
    cloud, python, source, entry, third, own = built
    hidden = {"gcp": "PIL,google.cloud.vision_v1", "azure": "PIL,azure.ai.vision"}[cloud]
    out = check(python, source, cloud, entry, third, own, block=hidden)
    assert any(f.startswith(("PIL", "skyloop.ai")) for f in out["failed"]), out["failed"]
