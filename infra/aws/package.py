"""Build one Lambda package per function: build/aws/<function>/ (for ``sam build``/``sam deploy``)
and build/aws/<function>.zip, then print each one's unzipped size.

    python infra/aws/package.py            # all five
    python infra/aws/package.py detect     # one

Wheels are fetched for Lambda's platform (manylinux2014 x86_64, CPython 3.13, the template's
runtime), so the
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
PYTHON = "3.13"  # the template's Runtime: python3.13, the newest Lambda Python whose wheels all resolve
KEEP = {"numpy/_core/tests"}
SOURCE_ONLY = {".pyi", ".pxd", ".pyx", ".h", ".hpp", ".c", ".cpp"}
# modules a function imports lazily, on its first real event: the build checks they import too
LAZY_IMPORTS = {"train": ("sklearn.ensemble", "sklearn.model_selection", "pandas", "joblib",
                          "skyloop.training.usecase"),
                "detect": ("skyloop.detection.adaptive", "skyloop.detection.usecase"),
                "remediate": ("skyloop.remediation.usecase",), "rollout": ("skyloop.serving.rollout",),
                "deploy": ("skyloop.handlers.deploy",)}


RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _runtime_sdk() -> str:
    """A folder holding only what the Lambda Python runtime provides (boto3 and its
    dependencies), linked from this machine: it stands in for the runtime's, nothing more."""
    import importlib.util
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="lambda-runtime-"))
    for mod in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(mod)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{mod} is needed to check the train package (the Lambda runtime provides it)")
        origin = Path(spec.origin)
        src = origin.parent if origin.name == "__init__.py" else origin
        (home / src.name).symlink_to(src)
    return str(home)


def _interpreter() -> str:
    """A CPython of the runtime's version: the built package is imported by the same Python that
    will run it (its compiled wheels load in no other). A pyenv shim is resolved to its binary,
    since the check runs with an empty environment."""
    exe = shutil.which(f"python{PYTHON}")
    if exe is not None:
        real = subprocess.run([exe, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True)
        if real.returncode == 0 and real.stdout.strip():
            return real.stdout.strip()
    for found in sorted(Path.home().glob(f".pyenv/versions/{PYTHON}*/bin/python{PYTHON}")):
        return str(found)
    raise SystemExit(f"python{PYTHON} is needed to check the packages it builds (e.g. pyenv install {PYTHON})")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(name: str) -> dict[str, object]:
    out = BUILD / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(out), "--platform",
                    "manylinux2014_x86_64", "--implementation", "cp", "--python-version", PYTHON, "--only-binary=:all:",
                    "--upgrade", *FUNCTIONS[name]], check=True)
    if "boto3>=1.34" not in FUNCTIONS[name]:  # pulled in by the X-Ray SDK: the runtime has its own
        for p in out.iterdir():
            if p.name.split("-")[0].removesuffix(".py").replace("python_dateutil", "dateutil") in RUNTIME_PROVIDED:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    shutil.copytree(ROOT / "shared" / "skyloop", out / "skyloop", ignore=shutil.ignore_patterns("__pycache__"))
    for module in ("common.py", f"{name}.py"):
        shutil.copy2(ROOT / "functions" / "aws" / module, out / module)
    # test suites of the libraries and bytecode caches are never imported in Lambda, with one
    # exception: numpy's _core/tests holds _natype.py, which numpy imports at run time (issue 15:
    # deleting it broke scikit-learn's import in the built train package)
    for p in sorted((p for p in out.rglob("*") if p.is_dir() and p.name in {"tests", "__pycache__"}
                     and p.relative_to(out).as_posix() not in KEEP), key=lambda p: len(p.parts), reverse=True):
        shutil.rmtree(p, ignore_errors=True)
    # nor are type stubs, Cython sources and C headers (5.5 MB in train: what keeps it under the limit)
    for p in [p for p in out.rglob("*") if p.is_file() and p.suffix in SOURCE_ONLY]:
        p.unlink()
    present = sorted(m for m in FORBIDDEN.get(name, ()) if (out / m).exists())
    if present:
        raise SystemExit(f"{name}: package contains {', '.join(present)}; it must not")
    # the entry point, and what it imports only when it runs, must import from the package alone:
    # -S drops this machine's site-packages; train relies on the runtime's boto3, so a folder
    # with only the runtime-provided SDK stands in for it there
    runtime_boto = [] if "boto3>=1.34" in FUNCTIONS[name] else [_runtime_sdk()]
    code = (f"import sys; sys.path[:0] = {[str(out), *runtime_boto]!r}; import {name}; "
            + "".join(f"import {m}; " for m in LAZY_IMPORTS.get(name, ())))
    subprocess.run([_interpreter(), "-I", "-S", "-c", code], check=True, cwd=out,
                   env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"})
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

        write("packages", {"limit_mb": LIMIT_MB, "platform": f"manylinux2014_x86_64 / CPython {PYTHON}", "functions": rows})


if __name__ == "__main__":
    main(sys.argv[1:])
