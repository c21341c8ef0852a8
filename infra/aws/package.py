"""Build one Lambda package per function: build/aws/<function>/ (for ``sam build``/``sam deploy``)
and build/aws/<function>.zip, then print each one's unzipped size.

    python infra/aws/package.py            # all five
    python infra/aws/package.py detect     # one

Wheels are fetched for Lambda's platform (manylinux2014 x86_64, CPython 3.11), so the
packages are right whatever machine builds them. detect and remediate carry no pandas
and no scikit-learn (checked here, and recorded in bench/results/packages.json).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "aws"
CORE = ["numpy>=1.24", "pydantic>=2.6", "pydantic-settings>=2.2", "aws-lambda-powertools[tracer]>=3"]
BASE = CORE + ["boto3>=1.34"]  # pinned in the package: the SQS/SageMaker calls use recent parameters
# train is the big one (pandas + scikit-learn + scipy): it uses the boto3 of the Lambda
# runtime instead of its own, which keeps it under the 250 MB limit.
TRAINING = CORE + ["pandas>=2.0", "scikit-learn>=1.3", "joblib>=1.3"]
FUNCTIONS = {"train": TRAINING, "deploy": BASE, "rollout": BASE, "detect": BASE, "remediate": BASE}
FORBIDDEN = {"detect": ("pandas", "sklearn", "scipy"), "remediate": ("pandas", "sklearn", "scipy"),
             "deploy": ("sklearn",), "rollout": ("pandas", "sklearn", "scipy")}
LIMIT_MB = 250  # Lambda's unzipped package limit


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(name: str) -> dict[str, object]:
    out = BUILD / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(out), "--platform",
                    "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.11", "--only-binary=:all:",
                    "--upgrade", *FUNCTIONS[name]], check=True)
    shutil.copytree(ROOT / "shared" / "skyloop", out / "skyloop", ignore=shutil.ignore_patterns("__pycache__"))
    for module in ("common.py", f"{name}.py"):
        shutil.copy2(ROOT / "functions" / "aws" / module, out / module)
    # test suites of the libraries and bytecode caches are never imported in Lambda
    for p in sorted((p for p in out.rglob("*") if p.is_dir() and p.name in {"tests", "__pycache__"}),
                    key=lambda p: len(p.parts), reverse=True):
        shutil.rmtree(p, ignore_errors=True)
    present = sorted(m for m in FORBIDDEN.get(name, ()) if (out / m).exists())
    if present:
        raise SystemExit(f"{name}: package contains {', '.join(present)}; it must not")
    # the entry point must import from the package alone (no site-packages of this machine)
    subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path[:0] = [{str(out)!r}]; import {name}"],
                   check=True, cwd=out, env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"})
    archive = BUILD / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(out.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(out))
    unzipped = _size(out) / 2**20
    if unzipped > LIMIT_MB:
        raise SystemExit(f"{name}: {unzipped:.0f} MB unzipped, above Lambda's {LIMIT_MB} MB")
    return {"function": name, "unzipped_mb": round(unzipped, 1), "zip_mb": round(archive.stat().st_size / 2**20, 1),
            "has_pandas": (out / "pandas").exists(), "has_sklearn": (out / "sklearn").exists()}


def main(argv: list[str]) -> None:
    names = argv or list(FUNCTIONS)
    rows = [build(n) for n in names]
    for r in rows:
        print(f"{r['function']:<10} {r['unzipped_mb']:>7.1f} MB unzipped  {r['zip_mb']:>6.1f} MB zipped"
              f"  pandas={r['has_pandas']} sklearn={r['has_sklearn']}")
    if not argv:
        sys.path.insert(0, str(ROOT))
        from bench.common import write

        write("packages", {"limit_mb": LIMIT_MB, "platform": "manylinux2014_x86_64 / CPython 3.11", "functions": rows})


if __name__ == "__main__":
    main(sys.argv[1:])
