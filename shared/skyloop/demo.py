"""``skyloop demo``: the whole loop on the embedded default, in about a minute.

train v1 -> policy gate approves -> staging, smoke test, production -> a real
HTTP endpoint serves it -> 12 hours of fleet metrics stream in (replayed fast
on a manual clock) with four injected incidents -> detect + RCA -> remediation
under guardrails -> the simulated fleet recovers. At 07:30 into the stream a
retrained v2 goes out through canary; the error burst that follows is traced to
it and rolled back.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from .config import Settings
from .demo_data import FleetSim, churn_csv, demo_incidents, demo_start, overlap
from .history import deployment_history
from .events import AnomalyFound, MetricBatch, TrainingDataArrived
from .handlers import on_metrics, on_training_data
from .local.endpoint import serve_in_thread
from .local.kv import ManualClock
from .local.runtime import LocalRuntime
from .registry import ApprovalGate

SERVICE = "churn-endpoint"
GROUP = "churn"
BATCH_MINUTES = 15
STREAM_MINUTES = 720
BAD_DEPLOY_MINUTE = 450
ACTION_FIXES = {"scale_out": "cpu", "restart_service": "memory", "rollback_deployment": "errors", "clear_cache": "latency"}


def _train(rt: LocalRuntime, name: str, data: bytes) -> dict[str, Any]:
    a = rt.adapters
    uri = a.store.put(f"inbox/{name}.csv", data)
    a.store.put(f"inbox/{name}.skyloop.json", json.dumps({"target": "churned", "model_group": GROUP}).encode())
    return on_training_data(TrainingDataArrived(uri=uri, version=name), a)


def _call_endpoint(url: str, rows: list[dict[str, Any]], n: int) -> Counter[int]:
    served: Counter[int] = Counter()
    for i in range(n):
        body = json.dumps({"instances": [rows[i % len(rows)]]}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            served[json.loads(resp.read())["version"]] += 1
    return served


def run_demo(home: Path, *, seed: int = 7, console: Any = None, show_progress: bool = True) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    t_start = time.perf_counter()
    demo_home = Path(home) / "demo"
    shutil.rmtree(demo_home, ignore_errors=True)
    sim = FleetSim(start=demo_start(), seed=seed, incidents=demo_incidents())
    clock = ManualClock(sim.at(0).timestamp())
    settings = Settings(home=demo_home, dry_run=False, gate=ApprovalGate(enabled=True, margin=0.005, min_score=0.6))
    rt = LocalRuntime(settings, clock=clock, seed=seed)
    a = rt.adapters
    say = console.print if console is not None and show_progress else (lambda *x, **k: None)

    trained = [_train(rt, "churn-v1", churn_csv(2000, label_noise=0.15, seed=seed))]
    say(f"[bold]1. trained[/] churn v{trained[0]['version']}: CV accuracy "
        f"{trained[0]['metrics']['cv_accuracy_mean']:.3f}; gate: {trained[0]['gate']}")
    pumped = rt.pump()
    rollouts = [r for r in pumped["events"].results]
    say(f"[bold]2. deployed[/] v{rollouts[0]['version']}: " + "; ".join(rollouts[0]["steps"]))
    rt.fleet.add_service(SERVICE, kind="model", replicas=2, model_group=GROUP, cache_entries=4096)

    server, _ = serve_in_thread(rt.deployer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/models/{GROUP}:predict"
    from .deployment import smoke_rows

    sample = smoke_rows(a.registry.get(GROUP, 1).lineage, 10)
    served = _call_endpoint(url, sample, 20)
    say(f"[bold]3. serving[/] {url}: {sum(served.values())} predictions, all from v{max(served)}")

    anomalies: dict[str, AnomalyFound] = {}
    actions: list[dict[str, Any]] = []
    approvals: list[str] = []
    dead = 0
    n_batches = STREAM_MINUTES // BATCH_MINUTES
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} batches"),
                        TimeElapsedColumn(), console=console, disable=not show_progress or console is None, transient=False)
    with progress:
        task = progress.add_task("4. streaming 12h of metrics", total=n_batches)
        for _ in range(n_batches):
            if sim.minute == BAD_DEPLOY_MINUTE:
                clock.set(sim.at(sim.minute).timestamp())
                trained.append(_train(rt, "churn-v2", churn_csv(3000, label_noise=0.05, seed=seed + 1)))
                rollouts += rt.pump()["events"].results
                served += _call_endpoint(url, sample, 20)
            records = sim.next_batch(BATCH_MINUTES)
            clock.set(records[-1].timestamp.timestamp())
            out = on_metrics(MetricBatch(service=SERVICE, source="demo", records=records), a)
            for an in out.get("anomalies", []):
                anomalies[an["anomaly_id"]] = AnomalyFound.model_validate(an)
            for _round in range(3):
                rep = rt.pump()["remediation"]
                dead += rep.dead_lettered
                for res in rep.results:
                    actions.append({**res, "minute": sim.minute})
                    if res["status"] == "executed" and res["action"] in ACTION_FIXES:
                        sim.resolve(ACTION_FIXES[res["action"]], sim.minute)
                held = a.state.held()
                if not held:
                    break
                for h in held:  # the demo's on-call engineer approves what the guardrails held
                    rt.approve_held(h["request_id"], actor="demo-oncall")
                    approvals.append(h["request_id"])
            progress.advance(task)
    server.shutdown()

    from .report import write_report

    page = write_report(rt, demo_home / "report.html")
    summary = _summary(rt, sim, trained, rollouts, anomalies, actions, approvals, dead, served, time.perf_counter() - t_start)
    summary["report"] = page["path"]
    rt.close()
    return summary


def _summary(
    rt: LocalRuntime,
    sim: FleetSim,
    trained: list[dict[str, Any]],
    rollouts: list[dict[str, Any]],
    anomalies: dict[str, AnomalyFound],
    actions: list[dict[str, Any]],
    approvals: list[str],
    dead: int,
    served: Counter[int],
    seconds: float,
) -> dict[str, Any]:
    a = rt.adapters
    models = [
        {"version": v.version, "status": v.status.value, "cv_accuracy": round(v.metrics.get("cv_accuracy_mean", float("nan")), 4),
         "cv_f1": round(v.metrics.get("cv_f1_mean", float("nan")), 4), "cv_roc_auc": round(v.metrics.get("cv_roc_auc_mean", float("nan")), 4),
         "rows": v.lineage.get("rows")}
        for v in a.registry.versions(GROUP)
    ]
    prod = a.registry.alias(GROUP, "production")
    incidents = []
    for inc in sim.incidents:
        found = sorted((x for x in anomalies.values() if overlap(inc, x.start, x.end, sim)), key=lambda x: x.start)
        top = found[0].causes[0] if found and found[0].causes else None
        incidents.append({
            "incident": inc.name, "injected_at": sim.at(inc.start).isoformat(), "detected": bool(found),
            "anomaly_id": found[0].anomaly_id if found else None,
            "severity": found[0].severity.value if found else None,
            "detection_delay_min": round((found[0].start - sim.at(inc.start)).total_seconds() / 60, 1) if found else None,
            "top_cause": top.metric if top else None, "confidence": top.confidence if top else None,
            "action": top.action if top else None, "expected_cause": inc.expected_metric,
            "correct": bool(top and top.metric == inc.expected_metric and top.action == inc.expected_action),
            "resolved_by_remediation": inc.fixed_at is not None,
        })
    hist = deployment_history(a.kv, GROUP)
    rollbacks = [{"from": e["previous"], "to": e["version"]} for e in hist if e["kind"] == "rolled_back_to"]
    ok, chain = a.audit.verify()
    return {
        "wall_seconds": round(seconds, 1),
        "home": str(rt.settings.home),
        "models": models,
        "deployment": {"production": None if prod is None else prod.version, "rollouts": rollouts,
                       "endpoint_predictions": dict(served)},
        "anomalies": len(anomalies),
        "incidents": incidents,
        "actions": [{k: r[k] for k in ("request_id", "action", "target", "status", "detail")} for r in actions],
        "approvals": approvals,
        "rollbacks": rollbacks,
        "dead_letters": dead,
        "audit": {"entries": len(a.audit.entries()), "verified": ok, "detail": chain},
    }


def render(summary: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    t = Table(title="Model versions (group churn)")
    for c in ("version", "status", "CV accuracy", "CV F1", "CV ROC AUC", "rows"):
        t.add_column(c)
    for m in summary["models"]:
        prod = " (production)" if m["version"] == summary["deployment"]["production"] else ""
        t.add_row(f"v{m['version']}{prod}", m["status"], f"{m['cv_accuracy']:.3f}", f"{m['cv_f1']:.3f}", f"{m['cv_roc_auc']:.3f}", str(m["rows"]))
    console.print(t)

    t = Table(title="Rollouts")
    for c in ("version", "result", "steps"):
        t.add_column(c)
    for r in summary["deployment"]["rollouts"]:
        t.add_row(f"v{r['version']}", r["status"], "; ".join(r["steps"]))
    for rb in summary["rollbacks"]:
        t.add_row(f"v{rb['from']}", "[red]rolled back[/]", f"remediation restored v{rb['to']} to production")
    console.print(t)

    t = Table(title=f"Incidents: {sum(i['detected'] for i in summary['incidents'])}/{len(summary['incidents'])} detected, "
                    f"{summary['anomalies']} anomalies in all")
    for c in ("injected incident", "severity", "delay", "top cause (confidence)", "action", "correct", "resolved"):
        t.add_column(c)
    for i in summary["incidents"]:
        t.add_row(
            i["incident"], i["severity"] or "-", f"{i['detection_delay_min']:.0f} min" if i["detected"] else "missed",
            f"{i['top_cause']} ({i['confidence']:.0%})" if i["top_cause"] else "-", i["action"] or "-",
            "[green]yes[/]" if i["correct"] else "[red]no[/]", "yes" if i["resolved_by_remediation"] else "no",
        )
    console.print(t)

    t = Table(title="Remediation (guardrails: allow-list, cooldown, bounds, approval for destructive actions)")
    for c in ("request", "action", "status", "detail"):
        t.add_column(c)
    for r in summary["actions"]:
        colour = {"executed": "green", "refused": "yellow", "awaiting_approval": "cyan"}.get(r["status"], "white")
        t.add_row(r["request_id"], r["action"], f"[{colour}]{r['status']}[/]", r["detail"])
    console.print(t)
    rb = summary["rollbacks"]
    console.print(
        f"production: v{summary['deployment']['production']}"
        + (f" (rolled back v{rb[-1]['from']} -> v{rb[-1]['to']} after the error burst)" if rb else "")
        + f" | approvals by on-call: {len(summary['approvals'])} | dead letters: {summary['dead_letters']}"
        + f" | audit: {summary['audit']['detail']} | state: {summary['home']} | {summary['wall_seconds']} s"
    )
    console.print(f"report: {summary['report']} (open it in a browser; it needs no network)")
