"""One module builds adapters (issue 32): every runtime's table goes through ``bootstrap``'s one
recipe, so what every runtime shares (the run mirror around the registry, the defaults over the
key-value port, the AI services) is decided once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import skyloop
from skyloop.adapters import Adapters
from skyloop.bootstrap import Parts, Table, ai_provider, bootstrap, table
from skyloop.composed.idempotency import KvIdempotencyStore
from skyloop.composed.mirrored import MirroredRegistry
from skyloop.config import Settings
from skyloop.errors import CloudUnavailable


def test_every_runtime_has_a_table_with_every_required_builder() -> None:
    for runtime in ("local", "aws", "gcp", "azure"):
        t = table(runtime)
        assert isinstance(t, Table)
        assert all(callable(getattr(t, f)) for f in ("store", "kv", "registry", "deployer", "events", "remediation",
                                                     "executor", "own_ai", "idempotency", "audit", "state"))


def test_only_the_bootstrap_makes_an_adapter_set() -> None:
    """No other module constructs the bundle, decorates a registry with the mirror or makes a mirror."""
    root = Path(skyloop.__file__).parent
    makers: dict[str, list[str]] = {"Adapters": [], "MirroredRegistry": [], "MlflowMirror": []}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in makers:
                makers[node.func.id].append(str(path.relative_to(root)))
    assert makers == {"Adapters": ["bootstrap.py"], "MirroredRegistry": ["bootstrap.py"], "MlflowMirror": ["bootstrap.py"]}


def test_no_runtime_recipe_is_left() -> None:
    root = Path(skyloop.__file__).parent
    assert sorted(str(p.relative_to(root)) for p in root.glob("clouds/*/runtime.py")) == []
    assert not (root / "ai" / "providers.py").exists()


def test_the_local_runtime_is_the_recipe_with_its_table(tmp_path: Path) -> None:
    a = bootstrap("local", Settings(home=tmp_path), seed=3)
    assert isinstance(a, Adapters) and a.mirror is None and not isinstance(a.registry, MirroredRegistry)
    assert isinstance(a.idempotency, KvIdempotencyStore) and a.idempotency.lease_seconds == 60.0
    assert a.ai is not None and a.ai.name == "local"


def test_a_configured_mirror_wraps_the_registry_for_every_runtime(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    s = Settings(home=tmp_path, tracking={"mlflow_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    a = bootstrap("local", s)
    assert isinstance(a.registry, MirroredRegistry) and a.registry.mirror is a.mirror
    assert a.mirror.artifact_root == (tmp_path / "mlflow-artifacts").resolve().as_uri()


def test_a_table_builder_sees_what_was_built_before_it(tmp_path: Path) -> None:
    """The recipe's order is the contract: store, kv, registry (mirrored), deployer, then the rest."""
    seen: list[str] = []
    local = table("local")

    def spy(name: str, build):  # type: ignore[no-untyped-def]
        def wrapped(p: Parts):  # type: ignore[no-untyped-def]
            seen.append(f"{name}:{','.join(k for k in ('store', 'kv', 'registry', 'deployer') if getattr(p, k) is not None)}")
            return build(p)
        return wrapped

    from dataclasses import replace

    spied = replace(local, **{f: spy(f, getattr(local, f)) for f in ("store", "kv", "registry", "deployer", "executor")})
    import skyloop.bootstrap as boot

    orig = boot.table
    boot.table = lambda runtime: spied  # type: ignore[assignment]
    try:
        bootstrap("local", Settings(home=tmp_path))
    finally:
        boot.table = orig  # type: ignore[assignment]
    assert seen == ["store:", "kv:store", "registry:store,kv", "deployer:store,kv,registry",
                    "executor:store,kv,registry,deployer"]


def test_a_local_run_that_names_a_cloud_for_ai_fails_on_use_not_at_start(tmp_path: Path, monkeypatch) -> None:
    from skyloop.clouds import CLOUDS, Cloud

    monkeypatch.setitem(CLOUDS, "gcp", Cloud("gcp", "skyloop.clouds.gcp", ("surely_absent_vision_sdk",), "gcp"))
    a = bootstrap("local", Settings(home=tmp_path, ai={"provider": "gcp"}))  # starts
    with pytest.raises(CloudUnavailable, match=r"pip install 'skyloop\[gcp\]'"):
        a.ai.analyze_text("hello", features=["language"])  # type: ignore[union-attr]
    with pytest.raises(CloudUnavailable, match="unknown AI provider"):
        ai_provider("ibm")
