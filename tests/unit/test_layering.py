"""Imports flow one way: only skyloop/clouds/<cloud>/ touches a cloud SDK, and only lazily."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import skyloop

SDKS = ("boto3", "botocore", "google.cloud", "azure", "aws_lambda_powertools")


def test_the_core_imports_no_cloud_sdk() -> None:
    core = sorted(m.name for m in pkgutil.walk_packages(skyloop.__path__, "skyloop.")
                  if ".clouds" not in m.name)
    code = ("import importlib, sys\n"
            f"for m in {core!r}: importlib.import_module(m)\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {[s.split('.')[0] for s in SDKS]!r})\n"
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_importing_the_aws_package_is_lazy() -> None:
    code = ("import sys, skyloop.clouds.aws, skyloop.clouds.aws.config; "
            "bad = [m for m in ('boto3', 'botocore') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_sdk_import_statement_outside_clouds() -> None:
    root = Path(skyloop.__file__).parent
    for path in root.rglob("*.py"):
        if "clouds" in path.relative_to(root).parts:
            continue
        text = path.read_text()
        for sdk in SDKS:
            assert f"import {sdk}" not in text and f"from {sdk}" not in text, f"{path} imports {sdk}"


def test_mlflow_is_imported_only_when_a_mirror_syncs() -> None:
    """The [mlflow] extra costs ~0.8 s of import: no handler pays it unless a mirror is set up and used."""
    code = ("import sys, skyloop.tracking.mlflow_mirror, skyloop.local.runtime, skyloop.handlers; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('mlflow', 'sqlalchemy', 'alembic')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
