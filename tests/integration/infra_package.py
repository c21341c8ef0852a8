"""infra/<cloud>/package.py, loaded under a name of its own: each cloud's packager is a script
named ``package.py``, and the AWS tests import theirs as ``package``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def load(cloud: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"skyloop_{cloud}_package", ROOT / "infra" / cloud / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
