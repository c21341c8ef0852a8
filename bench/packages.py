"""The Lambda packages' sizes against Lambda's 250 MB limit, built as infra/aws/package.py builds
them, recorded in bench/results/packages.json (the packager itself writes no bench result).

    python -m bench.packages
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from bench.common import write

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> Path:
    spec = importlib.util.spec_from_file_location("skyloop_aws_package", ROOT / "infra" / "aws" / "package.py")
    assert spec is not None and spec.loader is not None
    package: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    rows = package.build_all([])
    return write("packages", {"limit_mb": package.LIMIT_MB, "platform": f"manylinux2014_x86_64 / CPython {package.PYTHON}",
                              "functions": rows})


if __name__ == "__main__":
    main(sys.argv[1:])
