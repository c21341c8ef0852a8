"""Operating a deployed Azure stack with the CLI (issue 33), on Azurite: `skyloop connect azure
--outputs` with the Bicep deployment's outputs, then `skyloop --cloud azure ...`: models, approve,
incidents, a held critical request approved and carried out once by the remediate function, audit
verify and the report.

In process (typer's runner), not a subprocess as on AWS: the registry commands need Azure ML, which
has no emulator, and its fake lives in this process (ml_fake, at the MLClient edge). A shared-key
connection (Azurite) has no person behind it, so the caller names themself and the record says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .test_azure_ml import _register
from .test_functions import _app, _fn, _queue


def _cli(args: list[str], home: Path, expect: int = 0) -> str:
    from typer.testing import CliRunner

    from skyloop.app.cli import app

    res = CliRunner().invoke(app, [*args, "--home", str(home)])
    assert res.exit_code == expect, res.output
    return res.output


def test_an_sre_operates_the_azure_stack_with_the_cli(azure_env: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import skyloop.app.operate as operate
    from skyloop.config import Settings
    from skyloop.events import RemediationRequested, Severity
    from skyloop.handlers import on_remediation
    from skyloop.training.usecase import fit

    env = azure_env
    home = tmp_path / "operator"
    root = Path(__file__).resolve().parents[3]
    fitted = fit((root / "events/local/data/churn.csv").read_bytes(), source_uri="x", settings=Settings())
    _register(env, fitted, "op-1")

    settings = [{"name": f"SKYLOOP_AZURE_{k.upper()}", "value": v if isinstance(v, str) else json.dumps(v)}
                for k, v in env.azure.model_dump(mode="json").items() if v not in (None, "", {}, [])]
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"skyloopSettings": {"type": "Array", "value": settings}}))
    assert "settings of the azure deployment kept" in _cli(["connect", "azure", "--outputs", str(outputs)], home)

    def with_fakes(runtime: str, s: Any, azure: Any) -> Any:
        assert runtime == "azure" and azure.state_table == env.azure.state_table  # from connections/azure.json
        return env.rebuilt(s, azure)

    monkeypatch.setattr(operate, "bootstrap", with_fakes)
    monkeypatch.setenv("SKYLOOP_AZURE_CALLER", "alice@contoso.com")
    for s in settings:
        monkeypatch.delenv(s["name"], raising=False)
    who = "alice@contoso.com (self-declared over a shared-key connection)"

    models = json.loads(_cli(["--cloud", "azure", "models", "churn-2026", "--json"], home))
    assert [(m["version"], m["status"]) for m in models] == [(1, "PENDING")]
    assert f"as {who}" in _cli(["--cloud", "azure", "approve", "churn-2026", "1"], home).replace("\n", "")
    assert env.adapters.registry.get("churn-2026", 1).status.value == "APPROVED"

    req = RemediationRequested(request_id="inc-4:restart_service", action="restart_service", target="api",
                               severity=Severity.CRITICAL)
    assert on_remediation(req, env.adapters, dry_run=False)["status"] == "awaiting_approval"
    assert f"--approve {req.request_id}" in _cli(["--cloud", "azure", "remediate"], home).replace("\n", "")
    assert f"approved by {who}" in _cli(["--cloud", "azure", "remediate", "--approve", req.request_id],
                                        home).replace("\n", "")
    [again] = [m.content for m in env.queue(env.azure.remediation_queue).receive_messages(max_messages=32)]
    module = _app(env)
    for n in (1, 2):  # the queue trigger, and a redelivery: carried out once
        _fn(module, "remediate")(_queue(again, dequeue_count=n))
    audit = env.adapters.audit.entries()
    assert [(e["request_id"], e["actor"]) for e in audit if e["kind"] == "approved"] == [(req.request_id, who)]
    assert len([e for e in audit if e["kind"] == "executed" and e["request_id"] == req.request_id]) == 1

    assert json.loads(_cli(["--cloud", "azure", "incidents", "--json"], home)) == []
    assert "chain intact" in _cli(["--cloud", "azure", "audit", "verify"], home)
    report = tmp_path / "report.html"
    _cli(["--cloud", "azure", "report", "--out", str(report)], home)
    assert "churn-2026" in report.read_text()
