"""``skyloop report``: one static HTML page of the loop's state, readable offline.

Charts are Vega-Lite specs built with altair and rendered to SVG by vl-convert at
build time, then inlined: the page has no scripts and needs no server or network.
Sections: each service's metric series with the anomaly windows over it (coloured by
severity) and the detector's score; the root causes with their recommendations; the
remediation timeline from the audit log; model versions with their CV metric; drift
per feature from the last drift check of each model group.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..detection.series import load_series
from ..detection.series import services as series_services
from ..drift.history import latest as latest_drift

if TYPE_CHECKING:
    from ..local.runtime import LocalRuntime

SEVERITY_COLORS = {"low": "#f2c14e", "medium": "#f78154", "high": "#d1495b", "critical": "#7b2d26"}
MAX_POINTS = 500  # per metric line: enough for the eye, small enough for an SVG


def _iso(t: float) -> str:
    return datetime.fromtimestamp(float(t), tz=timezone.utc).isoformat()


def collect(rt: "LocalRuntime") -> dict[str, Any]:
    """Everything the page shows, as plain data (also what ``--json`` prints)."""
    kv = rt.adapters.kv
    from ..incidents import Incidents

    incidents = Incidents(kv)
    anomalies = [a.model_dump(mode="json") for a in incidents.all()]
    for a in anomalies:  # what verification concluded: recovered, escalated, or not yet judged
        a["verification"] = incidents.resolution(a["anomaly_id"])
    services = series_services(kv)
    series = {}
    for s in services:
        data = load_series(kv, s)
        if data is not None:
            step = max(1, len(data["t"]) // MAX_POINTS)
            series[s] = {"columns": data["columns"], "t": [_iso(t) for t in data["t"][::step]],
                         "x": data["x"][::step].tolist(), "score": data["score"][::step].round(4).tolist()}
    audit: list[dict[str, Any]] = []
    action_of: dict[Any, Any] = {}
    for e in rt.adapters.audit.entries():
        row = {k: e.get(k) for k in ("seq", "at", "kind", "request_id", "action", "target", "severity", "verdict", "why",
                                     "detail", "outcome", "escalated_to")}
        action_of.setdefault(row["request_id"], row["action"])
        row["action"] = row["action"] or action_of.get(row["request_id"])  # an approval names its request only
        audit.append(row)
    versions = [{"group": v.group, "version": v.version, "status": v.status.value, "metric": v.primary_metric,
                 "score": v.score, "created_at": v.created_at.isoformat()} for v in rt.registry.versions()]
    drift = latest_drift(kv)
    return {"anomalies": anomalies, "series": series, "audit": audit, "versions": versions, "drift": drift,
            "audit_verified": rt.adapters.audit.verify()[1]}


def charts(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(title, altair chart) pairs; each validates against the Vega-Lite schema on to_dict()."""
    import altair as alt

    out: list[tuple[str, Any]] = []
    sev_scale = alt.Scale(domain=list(SEVERITY_COLORS), range=list(SEVERITY_COLORS.values()))
    for service, s in data["series"].items():
        windows = [{"start": a["start"], "end": a["end"], "severity": a["severity"], "cause": (a["causes"] or [{}])[0].get("metric", "")}
                   for a in data["anomalies"] if a["service"] == service]
        rows = [{"t": t, "metric": m, "value": v} for i, t in enumerate(s["t"]) for m, v in zip(s["columns"], s["x"][i])
                if v == v]
        band = alt.Chart(alt.Data(values=windows)).mark_rect(opacity=0.25).encode(
            x="start:T", x2="end:T", color=alt.Color("severity:N", scale=sev_scale, title="anomaly"),
            tooltip=["severity:N", "cause:N", "start:T", "end:T"])
        panels = []
        for metric in s["columns"]:
            line = alt.Chart(alt.Data(values=[r for r in rows if r["metric"] == metric])).mark_line(
                strokeWidth=1, color="#30638e").encode(x=alt.X("t:T", title=None), y=alt.Y("value:Q", title=metric))
            panels.append(alt.layer(band, line).properties(width=760, height=70) if windows else line.properties(width=760, height=70))
        score = alt.Chart(alt.Data(values=[{"t": t, "score": v} for t, v in zip(s["t"], s["score"])])).mark_area(
            color="#888", opacity=0.5).encode(x=alt.X("t:T", title="time (UTC)"), y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 1]),
                                                                                        title="anomaly score"))
        rule = alt.Chart(alt.Data(values=[{"y": 0.6}])).mark_rule(color="#d1495b", strokeDash=[4, 3]).encode(y="y:Q")
        panels.append(alt.layer(score, rule).properties(width=760, height=70))
        out.append((f"Metrics of {service} with anomaly windows", alt.vconcat(*panels, spacing=4)))
    acts = [e for e in data["audit"] if e["kind"] in ("executed", "refused", "dry_run", "held", "failed", "approved",
                                                      "verified", "unresolved", "rejected")]
    if acts:
        out.append(("Remediation timeline (audit log)", alt.Chart(alt.Data(values=acts)).mark_point(filled=True, size=90).encode(
            x=alt.X("at:T", title="decided at (UTC)"), y=alt.Y("action:N", title=None), color=alt.Color("kind:N", title="decision"),
            shape="kind:N", tooltip=["seq:Q", "kind:N", "action:N", "target:N", "request_id:N", "detail:N", "why:N"],
        ).properties(width=760, height=160)))
    scored = [v for v in data["versions"] if v["score"] is not None]
    if scored:
        out.append(("Model versions and their cross-validated score", alt.Chart(alt.Data(values=scored)).mark_bar().encode(
            x=alt.X("version:O"), y=alt.Y("score:Q", title="primary CV metric", scale=alt.Scale(zero=False)),
            color=alt.Color("status:N"), column=alt.Column("group:N", title=None),
            tooltip=["group:N", "version:O", "status:N", "metric:N", "score:Q"]).properties(width=120, height=160)))
    for group, d in data["drift"].items():
        bars = [{"feature": f, "psi": p, "drifted": f in d.get("features", [])} for f, p in (d.get("psi") or {}).items()]
        if bars:
            base = alt.Chart(alt.Data(values=bars)).mark_bar().encode(
                x=alt.X("psi:Q", title="PSI (population stability index)"), y=alt.Y("feature:N", sort="-x", title=None),
                color=alt.Color("drifted:N", scale=alt.Scale(domain=[False, True], range=["#30638e", "#d1495b"])))
            rule = alt.Chart(alt.Data(values=[{"x": 0.2}])).mark_rule(strokeDash=[4, 3]).encode(x="x:Q")
            out.append((f"Drift of {group} v{d.get('version')} (last check)", alt.layer(base, rule).properties(width=600)))
    return out


def _svg(chart: Any) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_json(validate=True))


def render(data: dict[str, Any], title: str = "Skyloop report") -> str:
    esc = html.escape
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title><style>"
             "body{font:14px system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
             "h1{font-size:1.6em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}"
             "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;"
             "vertical-align:top}.sev{padding:1px 6px;border-radius:3px;color:#fff}</style></head><body>",
             f"<h1>{esc(title)}</h1><p>Generated {esc(datetime.now(timezone.utc).isoformat(timespec='seconds'))}. "
             f"{len(data['anomalies'])} anomalies, {len(data['versions'])} model versions, audit log: "
             f"{esc(data['audit_verified'])}.</p>"]
    if data["anomalies"]:
        parts.append("<h2>Anomalies and root causes</h2><table><tr><th>service</th><th>window (UTC)</th><th>severity</th>"
                     "<th>deviating metrics</th><th>top cause</th><th>recommendation</th><th>verification</th></tr>")
        for a in sorted(data["anomalies"], key=lambda a: a["start"]):
            c = (a["causes"] or [{}])[0]
            color = SEVERITY_COLORS.get(a["severity"], "#888")
            parts.append(f"<tr><td>{esc(a['service'])}</td><td>{esc(a['start'][:16])} - {esc(a['end'][11:16])}</td>"
                         f"<td><span class=sev style='background:{color}'>{esc(a['severity'])}</span></td>"
                         f"<td>{esc(', '.join(a['deviating_metrics']))}</td>"
                         f"<td>{esc(str(c.get('metric', '')))} ({float(c.get('confidence', 0)):.0%})</td>"
                         f"<td>{esc(str(c.get('recommendation', '')))}</td><td>{esc(_verification_text(a))}</td></tr>")
        parts.append("</table>")
    for name, chart in charts(data):
        parts.append(f"<h2>{esc(name)}</h2><figure>{_svg(chart)}</figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _verification_text(anomaly: dict[str, Any]) -> str:
    v = anomaly.get("verification")
    if not v:
        return "not verified (no action executed on it, or still being judged)"
    steps = "; then ".join(f"{a['action']}: {a['outcome']}" for a in v["attempts"])
    return f"{v['status'].replace('_', ' ')} ({steps}): {v['attempts'][-1]['detail']}"


def write_report(rt: "LocalRuntime", out: str | Path) -> dict[str, Any]:
    data = collect(rt)
    page = render(data)
    path = Path(out)
    path.write_text(page, encoding="utf-8")
    return {"path": str(path), "bytes": len(page.encode()), "charts": page.count("<svg"),
            "anomalies": len(data["anomalies"]), "versions": len(data["versions"])}
