"""Operating a deployed Google Cloud stack with the CLI (issue 33), on the emulators: `skyloop connect
gcp --outputs` with Terraform's JSON, then `skyloop --cloud gcp ...`: models, approve (as the caller's
Google account), incidents, a held critical request approved and carried out once by the remediate
function, audit verify and the report.

In process (typer's runner), not a subprocess as on AWS: the registry commands need Vertex AI, which
has no emulator, and its fake lives in this process (vertex_fake: the SDK's own request types at the
client edge); the CLI is handed the same world's adapters through bootstrap, with every fake where the
AWS test has moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .test_functions import GROUP, ROOT


def _cli(args: list[str], home: Path, expect: int = 0) -> str:
    from typer.testing import CliRunner

    from skyloop.app.cli import app

    res = CliRunner().invoke(app, [*args, "--home", str(home)])
    assert res.exit_code == expect, res.output
    return res.output


def test_an_sre_operates_the_gcp_stack_with_the_cli(gcp_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import skyloop.app.operate as operate
    from skyloop.events import RemediationRequested, Severity

    env = gcp_env
    home = tmp_path / "operator"
    blob = env.gcs.client.bucket(env.gcs.bucket).blob(f"datasets/{GROUP}.csv")
    blob.upload_from_filename(str(ROOT / "events/local/data/churn.csv"))
    assert harness.deliver("train", harness.finalized(env.gcs.bucket, blob), env.adapters, env.gcp).status_code == 200

    # what `terraform output -json` prints: the functions' settings under skyloop_settings
    settings = {f"SKYLOOP_GCP_{k.upper()}": v if isinstance(v, str) else json.dumps(v)
                for k, v in env.gcp.model_dump(mode="json").items() if v not in (None, "", {}, [])}
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"skyloop_settings": {"sensitive": False, "type": ["object", {}], "value": settings}}))
    assert "settings of the gcp deployment kept" in _cli(["connect", "gcp", "--outputs", str(outputs)], home)

    seen: list[Any] = []

    def with_fakes(runtime: str, s: Any, gcp: Any) -> Any:  # the connected settings, the same world's fakes
        assert runtime == "gcp" and gcp.bucket == env.gcp.bucket  # read back from connections/gcp.json
        seen.append(gcp)
        return env.rebuilt(s, gcp)

    monkeypatch.setattr(operate, "bootstrap", with_fakes)
    monkeypatch.setenv("CLOUDSDK_CORE_ACCOUNT", "oncall@example.com")
    for k in settings:
        monkeypatch.delenv(k, raising=False)

    models = json.loads(_cli(["--cloud", "gcp", "models", GROUP, "--json"], home))
    assert [(m["version"], m["status"]) for m in models] == [(1, "PENDING")]
    assert "as oncall@example.com" in _cli(["--cloud", "gcp", "approve", GROUP, "1"], home).replace("\n", "")
    assert env.adapters.registry.get(GROUP, 1).status.value == "APPROVED"

    req = RemediationRequested(request_id="inc-3:restart_service", action="restart_service", target="api",
                               severity=Severity.CRITICAL)
    from skyloop.handlers import on_remediation

    assert on_remediation(req, env.adapters, dry_run=False)["status"] == "awaiting_approval"
    listed = _cli(["--cloud", "gcp", "remediate"], home).replace("\n", "")
    assert f"skyloop --cloud gcp remediate --approve {req.request_id}" in listed
    out = _cli(["--cloud", "gcp", "remediate", "--approve", req.request_id], home).replace("\n", "")
    assert "approved by oncall@example.com" in out
    [again] = env.pull("remediation_topic")  # back on the queue: the push subscription takes it to remediate
    topic = f"projects/p/topics/{env.gcp.remediation_topic}"
    for _ in range(2):  # redelivered: carried out once
        assert harness.deliver("remediate", harness.pubsub_cloudevent(again, "projects/p/subscriptions/push", topic),
                               env.adapters, env.gcp).status_code == 200
    audit = env.adapters.audit.entries()
    assert [(e["request_id"], e["actor"]) for e in audit if e["kind"] == "approved"] == [(req.request_id, "oncall@example.com")]
    assert len([e for e in audit if e["kind"] == "executed" and e["request_id"] == req.request_id]) == 1

    assert json.loads(_cli(["--cloud", "gcp", "incidents", "--json"], home)) == []
    assert "chain intact" in _cli(["--cloud", "gcp", "audit", "verify"], home)
    report = tmp_path / "report.html"
    _cli(["--cloud", "gcp", "report", "--out", str(report)], home)
    assert GROUP in report.read_text()
    assert seen and all(g.remediation_topic == env.gcp.remediation_topic for g in seen)
