"""Imports flow one way: only skyloop/clouds/<cloud>/ touches a cloud SDK, and only lazily."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import skyloop

SDKS = ("boto3", "botocore", "google.cloud", "azure", "aws_lambda_powertools")


def test_the_core_imports_no_cloud_sdk() -> None:
    core = sorted(m.name for m in pkgutil.walk_packages(skyloop.__path__, "skyloop.")
                  if ".clouds" not in m.name)
    # what the interpreter has before any import does not count: functions-framework's nspkg .pth
    # file creates empty google and google.cloud namespace modules at every start
    code = ("import importlib, sys\n"
            "before = set(sys.modules)\n"
            f"for m in {core!r}: importlib.import_module(m)\n"
            f"bad = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {[s.split('.')[0] for s in SDKS]!r})\n"
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


def _skyloop_imports() -> dict[str, set[str]]:
    """module -> the skyloop modules it imports anywhere (top level, in functions, under TYPE_CHECKING)."""
    import ast

    root = Path(skyloop.__file__).parent
    mods = {}
    for p in root.rglob("*.py"):
        parts = p.relative_to(root.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                t = f"{target}.{alias.name}" if f"{target}.{alias.name}" in mods else target
                if t in mods and t != m:
                    edges[m].add(t)
    return edges


def test_no_import_cycles_between_skyloop_modules() -> None:
    """Definitions flow one way (issue 14 found ports <-> registry, training entry <-> usecase and
    model <-> search): a cycle, even through a lazy or TYPE_CHECKING import, is refused."""
    edges = _skyloop_imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    assert cycles == []


PLATFORM_WORDS = ("sagemaker", "sqs", "sm_", "aws_lambda", "lambda_handler", "receipthandle", "receipt_handle",
                  "variantname", "eventbridge", "dynamodb")


def test_no_core_code_names_a_platform() -> None:
    """Platform vocabulary (SageMaker job states and script-mode variables, SQS receipts, Lambda
    handlers ...) lives in skyloop/clouds/<cloud>/: no identifier or string in the core names it.
    Docstrings and comments may say which platform a neutral rule was mapped from."""
    import ast

    root = Path(skyloop.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if "clouds" in path.relative_to(root).parts:
            continue
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                text = node.value
            elif isinstance(node, ast.Name):
                text = node.id
            elif isinstance(node, ast.Attribute):
                text = node.attr
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                text = node.name
            elif isinstance(node, ast.arg):
                text = node.arg
            else:
                continue
            low = text.lower()
            hits = [w for w in PLATFORM_WORDS if (low.startswith(w) if w == "sm_" else w in low)]
            if hits:
                found.append(f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')} {text[:60]!r} ({hits[0]})")
    assert found == []


# The rooms a use-case lives in. Adapters (local/, clouds/), the ports and the adapters written over
# ports (composed/) import none of them: a rule every backend keeps lives in ports/, beside its protocol.
USE_CASE_ROOMS = ("training", "detection", "remediation", "serving", "drift", "ai", "handlers", "app", "notify",
                  "incidents")
ADAPTER_ROOMS = ("local", "clouds", "ports", "composed", "notifiers")
# The composition roots: they wire use-cases to adapters, so they alone may import both.
COMPOSITION_ROOTS = {"skyloop.local.runtime", "skyloop.clouds.instance"}


def _violations(edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, outs in sorted(edges.items()):
        room = mod.split(".")[1] if mod.count(".") >= 1 else ""
        if room not in ADAPTER_ROOMS or mod in COMPOSITION_ROOTS:
            continue
        bad += [f"{mod} -> {o}" for o in sorted(outs) if o.count(".") >= 1 and o.split(".")[1] in USE_CASE_ROOMS]
    return bad


def test_adapters_import_only_the_kernel() -> None:
    """Issue 32: ``local/``, ``clouds/``, ``ports/`` and ``composed/`` import only the kernel (ports,
    events, errors, config, clock, logs ...), never a use-case room or the handlers; every import is
    counted, lazy and type-only ones too. The composition roots are the only exception."""
    assert _violations(_skyloop_imports()) == []


def test_the_import_rule_catches_an_adapter_reaching_into_a_use_case() -> None:
    """The rule is not vacuous: the edges it refused before the ports package are refused again."""
    edges = {"skyloop.local.audit": {"skyloop.remediation.auditchain"},
             "skyloop.clouds.aws.stepfunctions": {"skyloop.serving.rollout"},
             "skyloop.composed.remediation": {"skyloop.ports.audit"},
             "skyloop.local.runtime": {"skyloop.handlers"}}
    assert _violations(edges) == ["skyloop.clouds.aws.stepfunctions -> skyloop.serving.rollout",
                                  "skyloop.local.audit -> skyloop.remediation.auditchain"]


FOUNDATION = {"__init__", "adapters", "bootstrap", "clock", "config", "delivery", "envsettings", "errors", "events", "logs", "modelgroup", "once",
              "outbox", "versions"}


def test_the_package_root_holds_only_the_shared_foundation() -> None:
    """Issue 14: the layout shows the architecture. A feature lives in its wing (training/, serving/,
    detection/, drift/, remediation/, app/ ...); the root keeps what every wing shares."""
    root = Path(skyloop.__file__).parent
    assert sorted(p.stem for p in root.glob("*.py") if p.stem not in FOUNDATION) == []


def test_only_the_app_wing_imports_the_app_wing() -> None:
    """The CLI, the demo and the report sit on top: the core and the adapters never reach up into them."""
    bad = [f"{m} -> {o}" for m, outs in sorted(_skyloop_imports().items()) if not m.startswith("skyloop.app")
           for o in sorted(outs) if o.startswith("skyloop.app")]
    assert bad == []


def test_the_packager_and_the_kernel_know_nothing_of_the_bench() -> None:
    """The AWS packager wrote a bench result itself (importing bench/); the bench now calls it."""
    root = Path(skyloop.__file__).resolve().parents[2]
    for f in [root / "infra" / "aws" / "package.py", *Path(skyloop.__file__).parent.rglob("*.py")]:
        assert not re.search(r"^\s*(from|import) bench\b", f.read_text(), flags=re.M), f


def test_mis_homed_classes_live_in_their_rooms() -> None:
    """The manual clock is a clock, not a key-value store; the EventBridge publisher is not a queue;
    the remediation state is not the simulated fleet."""
    import inspect

    from skyloop import clock
    from skyloop.local import fleet, kv, remediation_state

    assert hasattr(clock, "ManualClock") and not hasattr(kv, "ManualClock")
    assert hasattr(remediation_state, "SqliteRemediationState") and not hasattr(fleet, "SqliteRemediationState")
    sqs_source = (Path(skyloop.__file__).parent / "clouds" / "aws" / "sqs.py").read_text()
    assert "class EventBridgeBus" not in sqs_source
    assert "class EventBridgeBus" in (Path(skyloop.__file__).parent / "clouds" / "aws" / "eventbridge.py").read_text()
    assert inspect.getmodule(clock.ManualClock) is clock
