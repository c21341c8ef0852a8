"""Build one Lambda package per function: build/aws/<function>/ (for ``sam build``/``sam deploy``)
and build/aws/<function>.zip, then print each one's unzipped size.

    python infra/aws/package.py            # all five
    python infra/aws/package.py detect     # one

Wheels are fetched for Lambda's platform (manylinux2014 x86_64, CPython 3.13, the template's
runtime), so the
packages are right whatever machine builds them. detect and remediate carry no pandas
and no scikit-learn (checked here; `python -m bench.packages` records the sizes in bench/results/packages.json).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "aws"
CORE = ["numpy>=1.24", "pydantic>=2.6", "aws-lambda-powertools[tracer]>=3"]


def _tested_sdk() -> list[str]:
    """The boto3 and botocore the moto tests ran with (this environment's), pinned in the package:
    it ships the SDK that was tested. moto parses each request with the installed botocore's
    service models, so a package with a newer SDK can speak a protocol moto here cannot read
    (the newest botocore sends CloudWatch JSON, which moto with 1.35's models refuses)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return [f"boto3=={version('boto3')}", f"botocore=={version('botocore')}"]
    except PackageNotFoundError:
        return ["boto3>=1.34"]


BASE = CORE + _tested_sdk()  # in the package: the SQS/SageMaker calls use parameters newer than some runtimes' SDK
# train is the big one (pandas + scikit-learn + scipy): it uses the boto3 of the Lambda
# runtime instead of its own, which keeps it under the 250 MB limit.
# Its closure is pinned whole (train-requirements.txt, installed --no-deps): unpinned it had
# 8 MiB of headroom, and any release could have taken it over.
TRAIN_LOCK = ROOT / "infra" / "aws" / "train-requirements.txt"
TRAINING = ["--no-deps", "-r", str(TRAIN_LOCK)]
# analyze: files under ai/ (AWS's AI services); Pillow reads an image's size to turn boxes into pixels
FUNCTIONS = {"train": TRAINING, "deploy": BASE, "rollout": BASE, "detect": BASE, "remediate": BASE,
             "analyze": BASE + ["pillow>=10"], "notify": BASE}
FORBIDDEN = {"detect": ("pandas", "sklearn", "scipy"), "remediate": ("pandas", "sklearn", "scipy"),
             "deploy": ("sklearn",), "rollout": ("pandas", "sklearn", "scipy"), "analyze": ("pandas", "sklearn", "scipy"),
             "notify": ("pandas", "sklearn", "scipy")}
LIMIT_MB = 250  # Lambda's unzipped package limit
PYTHON = "3.13"  # the template's Runtime: python3.13, the newest Lambda Python whose wheels all resolve
KEEP = {"numpy/_core/tests"}
SOURCE_ONLY = {".pyi", ".pxd", ".pyx", ".h", ".hpp", ".c", ".cpp"}
# modules a function imports lazily, on its first real event: the build checks they import too
LAZY_IMPORTS = {"train": ("sklearn.ensemble", "sklearn.model_selection", "pandas", "joblib",
                          "skyloop.training.usecase", "skyloop.handlers.score", "skyloop.serving.batch"),
                "detect": ("skyloop.detection.adaptive", "skyloop.detection.usecase"),
                "remediate": ("skyloop.remediation.usecase",), "rollout": ("skyloop.serving.rollout",),
                "deploy": ("skyloop.handlers.deploy",),
                "analyze": ("skyloop.clouds.aws.ai", "skyloop.ai.uploads", "skyloop.handlers.analyze", "PIL.Image"),
                "notify": ("skyloop.notify.watch", "skyloop.notifiers.webhook", "skyloop.notifiers.pagerduty",
                           "skyloop.clouds.aws.notify")}


# Lambda's /var/task is read-only: Python cannot write a bytecode cache there, so every module
# without a .pyc is compiled from source at every cold start (the detect package's init: 687 ms
# without, 321 ms with, on the bench VM). The .pyc files are built for the runtime's interpreter
# with unchecked-hash invalidation: valid whatever mtimes the zip and Lambda's unpacking leave.
# train compiles only what it imports (its own, the lazy modules): all of scikit-learn, scipy and
# pandas compiled would take it over the size limit.
PRECOMPILE = """
import importlib.util, py_compile, sys
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
for m in list(sys.modules.values()):
    f = getattr(m, '__file__', None) or ''
    if f.startswith(ROOT) and f.endswith('.py'):
        py_compile.compile(f, cfile=importlib.util.cache_from_source(f), doraise=True, invalidation_mode=mode)
"""
COMPILE_ALL = {"deploy", "rollout", "detect", "remediate", "analyze", "notify"}


def ships_sdk(name: str) -> bool:
    """Does the function carry its own boto3 (else it uses the one the Lambda runtime provides)?"""
    return any(r.startswith("boto3") for r in FUNCTIONS[name])


RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


@functools.lru_cache(maxsize=None)
def _runtime_sdk() -> str:
    """A folder holding only what the Lambda Python runtime provides (boto3 and its
    dependencies), linked from this machine: it stands in for the runtime's, nothing more.
    Made once per process: every check and test run reuses it."""
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


OTHER_CLOUDS = {"gcp", "azure"}  # their adapters are not in an AWS package
CORE_SOURCE = ROOT / "shared" / "skyloop"


def _shipped(relative: Path) -> bool:
    """Whether a path under shared/skyloop goes into a package: the one rule for the copy and the digest."""
    parts = relative.parts
    return "__pycache__" not in parts and not (len(parts) > 1 and parts[0] == "clouds" and parts[1] in OTHER_CLOUDS)


def _not_shipped(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if not _shipped((Path(folder) / n).relative_to(CORE_SOURCE))}


def source_digest(name: str) -> str:
    """What a package is built from (Skyloop's code, the entry point, this recipe): recorded beside
    the build as build/aws/<function>.source, so a test can tell a stale package from a fresh one."""
    h = hashlib.sha256(repr(FUNCTIONS[name]).encode())
    files = [*sorted(p for p in CORE_SOURCE.rglob("*.py") if _shipped(p.relative_to(CORE_SOURCE))),
             ROOT / "functions" / "aws" / "common.py",
             ROOT / "functions" / "aws" / f"{name}.py", Path(__file__).resolve(),
             *([TRAIN_LOCK] if name == "train" else []),
             *(sorted(p for p in (ROOT / "infra" / "aws" / "serving").glob("*") if p.is_file()) if name == "train" else [])]
    for f in files:
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(name: str) -> dict[str, object]:
    out = BUILD / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(out), "--platform",
                    "manylinux2014_x86_64", "--implementation", "cp", "--python-version", PYTHON, "--only-binary=:all:",
                    "--upgrade", *FUNCTIONS[name]], check=True)
    if not ships_sdk(name):  # pulled in by the X-Ray SDK: the runtime has its own
        for p in out.iterdir():
            if p.name.split("-")[0].removesuffix(".py").replace("python_dateutil", "dateutil") in RUNTIME_PROVIDED:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    shutil.copytree(CORE_SOURCE, out / "skyloop", ignore=_not_shipped)
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
    if name in COMPILE_ALL:
        subprocess.run([_interpreter(), "-I", "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash",
                        str(out)], check=True, stdout=subprocess.DEVNULL)
    runtime_boto = [] if ships_sdk(name) else [_runtime_sdk()]
    code = (f"import sys; sys.path[:0] = {[str(out), *runtime_boto]!r}; import {name}; "
            + "".join(f"import {m}; " for m in LAZY_IMPORTS.get(name, ()))
            + ("" if name in COMPILE_ALL else f"ROOT = {str(out) + '/'!r}\n" + PRECOMPILE))
    subprocess.run([_interpreter(), "-I", "-S", "-B", "-c", code], check=True, cwd=out,
                   env={"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"})
    archive = BUILD / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(out.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(out))
    unzipped = _size(out) / 2**20
    if unzipped > LIMIT_MB:
        raise SystemExit(f"{name}: {unzipped:.0f} MB unzipped, above Lambda's {LIMIT_MB} MB")
    if name == "train":
        serving_image(out)
    (BUILD / f"{name}.source").write_text(source_digest(name) + "\n")
    return {"function": name, "unzipped_mb": round(unzipped, 1), "zip_mb": round(archive.stat().st_size / 2**20, 1),
            "has_pandas": (out / "pandas").exists(), "has_sklearn": (out / "sklearn").exists()}


# the model's libraries, and pydantic: on Vertex AI the same image runs training jobs (skyloop's core)
SERVING_LIBRARIES = ("numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "pandas", "pydantic")


def pinned_versions(package: Path) -> dict[str, str]:
    """name -> version of every distribution installed in a built package."""
    out = {}
    for dist in package.glob("*.dist-info"):
        name, version = dist.name.removesuffix(".dist-info").rsplit("-", 1)
        out[name.lower().replace("_", "-")] = version
    return out


def serving_image(train: Path) -> Path:
    """build/aws/serving-image/: the SageMaker serving image's recipe (infra/aws/serving/), with
    requirements.txt pinned to the libraries the train package trained with."""
    sys.path.insert(0, str(ROOT / "infra"))
    from source_tree import serving_image as recipe

    versions = pinned_versions(train)
    return recipe(BUILD / "serving-image", {lib: versions[lib] for lib in SERVING_LIBRARIES})


def server_site() -> Path:
    """build/aws/serving-server/: the serving image's server libraries (Starlette, uvicorn) for
    CPython 3.13, which tests put beside the train package to run serve.py as the image does."""
    sys.path.insert(0, str(ROOT / "infra"))
    from source_tree import server_pins

    out, pins = BUILD / "serving-server", server_pins()
    stamp = out / ".pins"
    if not stamp.exists() or stamp.read_text() != "\n".join(pins):
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(out), "--platform",
                        "manylinux2014_x86_64", "--implementation", "cp", "--python-version", PYTHON,
                        "--only-binary=:all:", *pins], check=True)
        stamp.write_text("\n".join(pins))
    return out


def fresh(name: str) -> Path:
    """build/aws/<name>, built first if absent or if what it is built from changed since."""
    stamp = BUILD / f"{name}.source"
    if not stamp.exists() or stamp.read_text().strip() != source_digest(name):
        build(name)
    return BUILD / name


def build_all(names: list[str]) -> list[dict[str, object]]:
    """Build the named packages (all when none is named); bench/packages.py records the sizes."""
    return [build(n) for n in names or list(FUNCTIONS)]


def main(argv: list[str]) -> None:
    rows = build_all(argv)
    for r in rows:
        print(f"{r['function']:<10} {r['unzipped_mb']:>7.1f} MB unzipped  {r['zip_mb']:>6.1f} MB zipped"
              f"  pandas={r['has_pandas']} sklearn={r['has_sklearn']}")


if __name__ == "__main__":
    main(sys.argv[1:])
