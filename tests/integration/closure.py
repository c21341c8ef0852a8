"""A function's dependency closure, checked against what its code imports.

A deployed function gets exactly what its own requirements.txt installs: the tests here ran the
code in the development virtualenv, where every extra is installed, so a module the GCP or Azure
function imports at run time (the AI SDKs, Pillow) could be missing from its requirements and
nothing noticed: an upload to ai/ failed with ImportError, was retried forever and never
dead-lettered.

Every import statement in the shipped source (module level or inside a function: a lazy import is
still a code path) is resolved to the distribution that provides it in this virtualenv, and that
distribution must be in the closure of the requirements (the listed distributions and everything
they require, read from the installed metadata). Standard-library modules, the package's own
modules, and imports guarded by ``except ImportError`` (optional by construction) are left out;
so are the modules a deliberate exception names (``allowed``), each with its reason.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def closure(requirements: Path) -> set[str]:
    """The listed distributions and, transitively, what they require (installed metadata)."""
    todo = [_name(line) for line in requirements.read_text().splitlines() if line.strip() and not line.startswith("#")]
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            reqs = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in reqs if "extra ==" not in r]
    return seen


def _optional(tree: ast.AST) -> set[int]:
    """Line numbers of imports inside ``try: ... except ImportError`` (or ModuleNotFoundError)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                or isinstance(h.type, ast.Tuple) and any(getattr(e, "id", "") in ("ImportError", "ModuleNotFoundError")
                                                         for e in h.type.elts)
                for h in node.handlers):
            for inner in node.body:
                lines |= {n.lineno for n in ast.walk(inner) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return lines


def _module_of(source: Path, f: Path) -> str:
    rel = f.relative_to(source).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(current: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    """The absolute module names an ``ImportFrom`` may load (the module, or its submodules)."""
    if node.level == 0:
        base = node.module or ""
    else:
        parts = current.split(".")
        keep = len(parts) - node.level + (1 if is_pkg else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    return [base] + [f"{base}.{a.name}" for a in node.names]


def imports(source: Path, entry: Path, own: str = "skyloop") -> dict[str, list[str]]:
    """{module: [file:line, ...]} of the third-party imports reachable from ``entry``: the import
    graph of the package's own modules, lazy imports included (a lazy import is still a code path)."""
    return _walk(source, entry, own)[0]


def reachable(source: Path, entry: Path, own: str = "skyloop") -> list[str]:
    """The package's own modules some code path from ``entry`` imports."""
    return sorted(_module_of(source, f) for f in _walk(source, entry, own)[1] if f != entry and f.is_relative_to(source))


def _walk(source: Path, entry: Path, own: str) -> tuple[dict[str, list[str]], set[Path]]:
    files = {_module_of(source, f): f for f in source.rglob("*.py")}
    stdlib = set(sys.stdlib_module_names)
    found: dict[str, list[str]] = {}
    todo, seen = [entry], set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        tree = ast.parse(f.read_text(), str(f))
        optional = _optional(tree)
        current = _module_of(source, f) if f.is_relative_to(source) else ""
        if current == f"{own}.handlers":  # dispatch imports each handler by name (importlib): every one is a path
            todo += [p for p in f.parent.glob("*.py") if p != f]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = _resolve(current, f.name == "__init__.py", node)
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == own:
                    parts = name.split(".")
                    for i in range(1, len(parts) + 1):  # the package's __init__s run too
                        if ".".join(parts[:i]) in files:
                            todo.append(files[".".join(parts[:i])])
                    continue
                if top in stdlib or top == "__future__" or node.lineno in optional:
                    continue
                # from google.cloud import vision_v1: the base and each name (a submodule, or an attribute)
                found.setdefault(name, []).append(f"{f.name}:{node.lineno}")
    return found, seen


def _owners() -> dict[str, str]:
    """{installed file: distribution} for every distribution here (a namespace package such as
    google.* is provided by many: the module's own file names its one)."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        for f in dist.files or []:
            if f.suffix == ".py":
                out[str(dist.locate_file(f))] = name
    return out


def missing(source: Path, entry: Path, requirements: Path, allowed: dict[str, str] | None = None) -> list[str]:
    """Reachable imports whose distribution the requirements' closure does not install."""
    import importlib.util

    provided = closure(requirements)
    owners = _owners()
    out = []
    for module, where in sorted(imports(source, entry).items()):
        if any(module == a or module.startswith(a + ".") for a in (allowed or {})):
            continue
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            try:
                installed = importlib.util.find_spec(module.split(".")[0]) is not None
            except (ImportError, ValueError):
                installed = False
            if installed and "." in module:
                continue  # a name imported from an installed module: an attribute, not a module
            out.append(f"{module} ({where[0]}): not installed here, so its distribution cannot be named")
            continue
        origin = spec.origin
        if origin is None or origin == "namespace":  # a namespace package (google.cloud): its modules are checked
            if not any((Path(p) / "__init__.py").exists() for p in spec.submodule_search_locations or []):
                continue
            origin = next(str(Path(p) / "__init__.py") for p in spec.submodule_search_locations or []
                          if (Path(p) / "__init__.py").exists())
        dist = owners.get(str(origin))
        if dist is None:
            out.append(f"{module} ({where[0]}): installed, but no distribution lists its file {origin}")
        elif dist not in provided:
            out.append(f"{module} ({where[0]}): from {dist}, not in requirements.txt's closure")
    return out
