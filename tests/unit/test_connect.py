"""`skyloop connect`: a deployment's settings from its infrastructure's own outputs (issue 33). The
AWS path runs against moto (tests/integration/aws/test_operate.py); the GCP and Azure outputs are
the documented JSON of `terraform output -json` and of a Bicep deployment's outputs, and each
template is held to declaring the output this reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skyloop.app import connect
from skyloop.errors import InvalidRequest

ROOT = Path(__file__).resolve().parents[2]


def test_terraform_outputs_give_the_gcp_settings() -> None:
    doc = {"skyloop_settings": {"sensitive": False, "type": ["object", {}], "value": {
        "SKYLOOP_GCP_PROJECT": "p", "SKYLOOP_GCP_BUCKET": "b", "OTHER": "x"}},
           "training_bucket": {"sensitive": False, "type": "string", "value": "b"}}
    assert connect.from_terraform(doc) == {"SKYLOOP_GCP_PROJECT": "p", "SKYLOOP_GCP_BUCKET": "b"}
    with pytest.raises(InvalidRequest, match="no skyloop_settings"):
        connect.from_terraform({"training_bucket": {"value": "b"}})


def test_bicep_outputs_give_the_azure_settings() -> None:
    doc = {"skyloopSettings": {"type": "Array", "value": [
        {"name": "SKYLOOP_AZURE_CONTAINER", "value": "datasets"},
        {"name": "SKYLOOP_QUEUES__queueServiceUri", "value": "https://q"}]}}  # the host's binding, not the CLI's
    assert connect.from_bicep(doc) == {"SKYLOOP_AZURE_CONTAINER": "datasets"}
    with pytest.raises(InvalidRequest, match="no skyloopSettings"):
        connect.from_bicep({})


def test_saved_settings_yield_to_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connect.save(tmp_path, "gcp", {"SKYLOOP_GCP_BUCKET": "saved", "SKYLOOP_GCP_PROJECT": "saved-p"})
    monkeypatch.setenv("SKYLOOP_GCP_BUCKET", "mine")
    monkeypatch.delenv("SKYLOOP_GCP_PROJECT", raising=False)
    assert connect.apply(tmp_path, "gcp") == tmp_path / "connections" / "gcp.json"
    assert (os.environ["SKYLOOP_GCP_BUCKET"], os.environ["SKYLOOP_GCP_PROJECT"]) == ("mine", "saved-p")
    monkeypatch.delenv("SKYLOOP_GCP_PROJECT")
    assert connect.apply(tmp_path, "azure") is None


def test_each_template_declares_the_output_connect_reads() -> None:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    aws = yaml.load((ROOT / "infra/aws/template.yaml").read_text(), Loader=Loader)
    assert "SettingsFunction" in aws["Outputs"]
    tf = (ROOT / "infra/gcp/outputs.tf").read_text()
    assert 'output "skyloop_settings"' in tf and "value       = local.env" in tf
    assert "output skyloopSettings array = skyloopSettings" in (ROOT / "infra/azure/main.bicep").read_text()
