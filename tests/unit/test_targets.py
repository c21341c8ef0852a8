"""Executors are primitives (issue 32, item 5): they describe what they run and change it; the
version production serves and the guardrails' ceiling are the core's to add (remediation/targets.py)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any, Mapping

import skyloop
from skyloop.config import GuardrailSettings, Settings
from skyloop.local.runtime import LocalRuntime
from skyloop.remediation.targets import target_state


class Described:
    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc

    def describe(self, target: str) -> Mapping[str, Any]:
        return self.doc


class Registry:
    def __init__(self, production: int | None) -> None:
        self.production = production

    def alias(self, group: str, alias: str) -> Any:
        return None if self.production is None else type("V", (), {"version": self.production})()


def test_the_core_adds_the_production_version_and_the_ceiling() -> None:
    ex = Described({"kind": "ecs", "replicas": 2, "model_group": "churn", "actions": ["scale_out"]})
    out = target_state(ex, "api", registry=Registry(3), policy=GuardrailSettings(max_replicas=7))  # type: ignore[arg-type]
    assert out == {"kind": "ecs", "replicas": 2, "model_group": "churn", "actions": ["scale_out"], "max_replicas": 7,
                   "model_version": 3}


def test_a_target_with_its_own_ceiling_or_no_replicas_keeps_what_it_said() -> None:
    own = target_state(Described({"replicas": 2, "max_replicas": 3}), "x", registry=Registry(None),  # type: ignore[arg-type]
                       policy=GuardrailSettings(max_replicas=9))
    assert own == {"replicas": 2, "max_replicas": 3}
    endpoint = target_state(Described({"kind": "sagemaker-endpoint", "model_group": "g", "actions": []}), "e",  # type: ignore[arg-type]
                            registry=Registry(None), policy=GuardrailSettings())
    assert endpoint == {"kind": "sagemaker-endpoint", "model_group": "g", "actions": [], "model_version": None}


def test_no_executor_reads_the_registry_or_the_policy() -> None:
    root = Path(skyloop.__file__).parent
    for path in [root / "local" / "fleet.py", *root.glob("clouds/*/executors.py")]:
        tree = ast.parse(path.read_text())
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "production_version" not in called, path
    from skyloop.clouds.aws.executors import AwsActionExecutor
    from skyloop.clouds.azure.executors import AzureActionExecutor
    from skyloop.clouds.gcp.executors import GcpActionExecutor
    from skyloop.local.fleet import LocalFleet

    for cls in (AwsActionExecutor, AzureActionExecutor, GcpActionExecutor, LocalFleet):
        assert "registry" not in inspect.signature(cls.__init__).parameters, cls


def test_the_local_fleet_describes_without_the_model_and_the_core_adds_it(tmp_path: Path) -> None:
    rt = LocalRuntime(Settings(home=tmp_path))
    try:
        rt.fleet.add_service("scorer", model_group="churn")
        assert "model_version" not in rt.fleet.describe("scorer")
        out = target_state(rt.fleet, "scorer", registry=rt.registry, policy=rt.settings.guardrails)
        assert out["model_version"] is None and out["max_replicas"] == rt.settings.guardrails.max_replicas
    finally:
        rt.close()
