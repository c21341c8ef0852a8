"""State has an owner (issue 32): every key the loop leaves in the key-value store belongs to a
family in ``skyloop.ports.kv.KEY_FAMILIES``, and the incident's keys are written only by the
incident repository."""

from __future__ import annotations

import ast
from pathlib import Path

import skyloop
from skyloop.config import Settings
from skyloop.incidents.repository import FAMILIES as INCIDENT_FAMILIES
from skyloop.local.runtime import LocalRuntime
from skyloop.ports.kv import KEY_FAMILIES, family_of

ROOT = Path(skyloop.__file__).parent
KV_CALLS = {"get", "put", "put_if", "get_versioned", "items", "delete"}


def test_every_key_the_demo_leaves_has_a_family(demo_run) -> None:
    rt = LocalRuntime(Settings(home=demo_run["home"]))
    try:
        keys = [k for k, _ in rt.adapters.kv.items("")]
    finally:
        rt.close()
    assert len(keys) > 100  # the whole loop ran: incidents, rollouts, remediation, idempotency
    assert [k for k in keys if family_of(k) is None] == []
    seen = {family_of(k) for k in keys}
    assert set(INCIDENT_FAMILIES) <= seen  # the demo's incidents were verified, so all five exist


def test_every_family_names_a_module_that_exists_and_builds_it() -> None:
    for prefix, fam in KEY_FAMILIES.items():
        parts = fam.owner.split(".")[1:]
        path = ROOT.joinpath(*parts)
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
        assert files and all(f.exists() for f in files), fam.owner
        text = "\n".join(f.read_text() for f in files)
        assert prefix.rstrip(":/") in text, f"{prefix}: {fam.owner} does not build it"


def _key_literal(node: ast.AST) -> str | None:
    """The leading text of a key argument: a constant, an f-string's head, or a + chain's left end."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _key_literal(node.left)
    return None


def _incident_key_uses(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in KV_CALLS and node.args:
            arg = node.args[0]
        elif isinstance(node.func, ast.Name) and node.func.id == "update" and len(node.args) > 1:
            arg = node.args[1]
        else:
            continue
        text = _key_literal(arg)
        if text is not None and any(text.startswith(f) for f in INCIDENT_FAMILIES):
            lines.append(node.lineno)
    return lines


def test_only_the_incident_repository_builds_incident_keys() -> None:
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "incidents" / "repository.py":
            continue
        bad += [f"{path.relative_to(ROOT)}:{n}" for n in _incident_key_uses(path.read_text())]
    assert bad == []


def test_the_scan_finds_a_raw_incident_key() -> None:
    """What detection, verification and the report did before the repository is caught."""
    assert _incident_key_uses('kv.put(f"anomaly:{a}", b"")\nkv.items("anomaly:")\nupdate(kv, "verify:" + s, f)\n'
                              'kv.get("series:x")') == [1, 2, 3]
