"""The HTML report: built from the demo's state, every chart a valid Vega-Lite spec rendered to
inline SVG, the anomalies, the remediation timeline, versions and drift all on the page."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from typer.testing import CliRunner

from skyloop.app.cli import app
from skyloop.config import Settings
from skyloop.local.runtime import LocalRuntime
from skyloop.app.report import charts, collect


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)


def test_demo_writes_a_self_contained_report(demo_run) -> None:
    summary = demo_run["summary"]
    page = (demo_run["home"] / "report.html").read_text()
    assert summary["report"].endswith("report.html")
    tags = _Tags()
    tags.feed(page)
    assert "script" not in tags.tags and "http" not in re.sub(r'xmlns(:\w+)?="[^"]+"', "", page)  # offline
    rt = LocalRuntime(Settings(home=demo_run["home"]))
    data = collect(rt)
    names = [name for name, _ in charts(data)]
    # metrics with anomaly windows (fleet and serving telemetry), remediation timeline, model versions, drift
    assert page.count("<svg") == len(names) == 5, names
    rows = re.findall(r"<tr><td>churn-(?:endpoint|model)</td>", page)
    assert len(rows) == summary["anomalies"]
    for action in ("scale_out", "restart_service", "rollback_deployment", "clear_cache", "abort_canary"):
        assert action in page
    for _, chart in charts(data):
        spec = chart.to_dict(validate=True)  # altair validates against the Vega-Lite schema
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    # decisions on the demo's own clock (--start 2026-11-24T00:00Z, 12 simulated hours and the A/B test)
    assert data["audit"] and all(e["at"].startswith("2026-11-24T") for e in data["audit"]), data["audit"][:3]
    rt.close()


def test_report_cli_with_drift_section(runtime, tmp_path) -> None:
    from skyloop.events import DriftDetected
    from skyloop.handlers import on_drift

    from ..unit.test_deployment import approve_and_deploy, train_version
    from skyloop.app.demo_data import churn_csv

    approve_and_deploy(runtime, train_version(runtime, churn_csv(300, label_noise=0.1, seed=1)))
    on_drift(DriftDetected(model_group="churn", version=1, rows=400, drifted_features=["tenure_months"],
                           report={"features": {"tenure_months": {"psi": 1.2}, "usage_gb": {"psi": 0.03}}}),
             runtime.adapters)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", "--out", str(out), "--home", str(runtime.settings.home)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "Drift of churn v1" in page and page.count("<svg") == 2  # versions + drift (no metrics streamed here)
    data = json.loads(CliRunner().invoke(app, ["report", "--json", "--home", str(runtime.settings.home)]).stdout)
    assert data["drift"]["churn"]["psi"] == {"tenure_months": 1.2, "usage_gb": 0.03}
