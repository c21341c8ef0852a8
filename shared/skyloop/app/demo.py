"""``skyloop demo``: the whole loop on the embedded default, in under a minute.

train v1 -> the gate approves -> staging, smoke test, production -> a real HTTP
endpoint serves it -> 12 hours of fleet metrics and client traffic replayed fast on
a manual clock, with four injected fleet incidents -> detect + RCA -> remediation
under guardrails -> the simulated fleet recovers. Along the way, the model's life:

- +02:00 a price rise shifts what clients send; at +03:00 drift is found on the served
  rows, retraining runs on the latest labelled data, the gate approves v2 on a
  held-back slice, and v2 bakes as a canary on live traffic before promotion;
- +05:00 v3 adds a column clients do not send yet: it passes the gate and its smoke
  tests, but live canary traffic fails; the detector blames the new version and
  remediation aborts the canary;
- +06:45 v4 (approved by the gate, or by on-call if the gate holds it) goes out through its canary;
  the fleet's error burst that follows is traced to it and rolled back;
- at the end a challenger trained with a bounded hyperparameter search is A/B tested
  against production on later-arriving labels, decided by a fixed-horizon test.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DeploymentSettings, Settings
from .demo_data import FleetSim, churn_csv, client_rows, demo_incidents, demo_start, overlap
from ..drift.check import check_drift
from ..errors import InvalidRequest
from ..events import AnomalyFound, MetricBatch, TrainingDataArrived
from ..handlers import on_metrics, on_training_data
from ..serving.history import deployment_history, gate_decisions
from ..local.deployer import SimulatedServingTime
from ..local.endpoint import serve_in_thread
from ..clock import ManualClock
from ..local.runtime import LocalRuntime
from ..config import ApprovalGate
from ..ports.registry import approve
from ..remediation.verification import resolution

SERVICE = "churn-endpoint"  # the fleet's view: cpu, memory, errors, latency of the hosts
SERVING = "churn-model"  # the model's view: per-variant serving telemetry counted by the endpoint
GROUP = "churn"
BATCH_MINUTES = 15
STREAM_MINUTES = 720
PRICE_RISE_MINUTE = 120  # clients now come from the world after a price change
DRIFT_CHECK_MINUTE = 180
SKEWED_UPLOAD_MINUTE = 300  # a retrain with a column the clients do not send yet
BAD_DEPLOY_TRAIN_MINUTE = 405  # goes out through a 30-minute canary, then the fleet's error burst at 455


def _train(rt: LocalRuntime, name: str, data: bytes, **sidecar: Any) -> dict[str, Any]:
    a = rt.adapters
    uri = _upload(rt, name, data, **sidecar)
    return on_training_data(TrainingDataArrived(uri=uri, version=name), a)


def _upload(rt: LocalRuntime, name: str, data: bytes, **sidecar: Any) -> str:
    a = rt.adapters
    uri = a.store.put(f"inbox/{name}.csv", data)
    a.store.put(f"inbox/{name}.skyloop.json", json.dumps({"target": "churned", "model_group": GROUP, **sidecar}).encode())
    return uri


def _call_endpoint(url: str, rows: list[dict[str, Any]], n: int) -> Counter[int]:
    served: Counter[int] = Counter()
    for i in range(n):
        body = json.dumps({"instances": [rows[i % len(rows)]]}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            served[json.loads(resp.read())["version"]] += 1
    return served


class Clients:
    """The application calling the model: one call a minute, four customers each, drawn from
    the world as it is (before or after the price rise). Served rows are kept for drift checks."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.before = client_rows(churn_csv(3000, label_noise=0.0, seed=seed + 100))
        self.after = client_rows(churn_csv(3000, label_noise=0.0, seed=seed + 101, price_rise=True))
        self.seen: list[dict[str, Any]] = []
        self.refused = 0

    def minute(self, rt: LocalRuntime, clock: ManualClock, when: float, minute: int) -> None:
        clock.set(when)
        pool = self.before if minute < PRICE_RISE_MINUTE else self.after
        rows = [pool[i] for i in self.rng.integers(0, len(pool), 4)]
        self.seen.extend(rows)
        try:
            rt.deployer.predict_detailed(GROUP, rows)
        except InvalidRequest:
            self.refused += 1  # a 400 for the client; the deployer counted it against the variant that served it


def run_demo(home: Path, *, seed: int = 7, console: Any = None, show_progress: bool = True,
             start: datetime | None = None) -> dict[str, Any]:
    """``start``: the simulated stream's first minute (default: 12 hours ago, on the hour). A fixed
    start makes a run reproducible to the timestamp, which is what tests and bug reports want."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    t_start = time.perf_counter()
    demo_home = Path(home) / "demo"
    shutil.rmtree(demo_home, ignore_errors=True)
    sim = FleetSim(start=start or demo_start(), seed=seed, incidents=demo_incidents())
    clock = ManualClock(sim.at(0).timestamp())
    settings = Settings(
        home=demo_home, dry_run=False,
        gate=ApprovalGate(enabled=True, margin=0.0, min_score=0.6, holdout_margin=0.01, max_segment_drop=0.05),
        deployment=DeploymentSettings(canary_percent=25, canary_bake_minutes=30, canary_min_minutes=5),
    )
    rt = LocalRuntime(settings, clock=clock, seed=seed)
    rt.deployer.timer = SimulatedServingTime(seed)  # a replay: serving times drawn, not read off a busy machine
    a = rt.adapters
    say = console.print if console is not None and show_progress else (lambda *x, **k: None)
    story: list[str] = []

    def tell(text: str) -> None:
        story.append(f"+{sim.minute // 60:02d}:{sim.minute % 60:02d} {text}")
        say(f"[bold]{len(story)}.[/] {story[-1]}")

    trained = [_train(rt, "churn-v1", churn_csv(2000, label_noise=0.15, seed=seed))]
    tell(f"trained churn v1: CV accuracy {trained[0]['metrics']['cv_accuracy_mean']:.3f}; gate {trained[0]['gate']}")
    rollouts: list[dict[str, Any]] = []
    canary_events: list[dict[str, Any]] = []

    def pump() -> Any:
        out = rt.pump()
        for r in out["events"].results:
            if "steps" in r:
                rollouts.append(r)
            elif "observed_minutes" in r:
                canary_events.append(r)
                tell(f"canary v{r['version']} clean for {r['observed_minutes']} served minutes: {r['detail']}")
        return out

    pump()
    tell(f"deployed v{rollouts[0]['version']}: " + "; ".join(rollouts[0]["steps"]))
    rt.fleet.add_service(SERVICE, kind="model", replicas=2, model_group=GROUP, cache_entries=4096)
    rt.fleet.add_service(SERVING, kind="model", replicas=2, model_group=GROUP)

    server = serve_in_thread(rt.deployer, "127.0.0.1", 0)
    url = f"{server.url}/v1/models/{GROUP}:predict"
    from ..serving.deployment import smoke_rows

    sample = smoke_rows(a.registry.get(GROUP, 1).lineage, 10)
    served = _call_endpoint(url, sample, 20)
    server.shutdown()
    tell(f"served {sum(served.values())} predictions over HTTP at {url}, all from v{max(served)}")

    clients = Clients(seed)
    anomalies: dict[str, AnomalyFound] = {}
    actions: list[dict[str, Any]] = []
    approvals: list[str] = []
    drift: dict[str, Any] = {}
    dead = 0
    n_batches = STREAM_MINUTES // BATCH_MINUTES
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} batches"),
                        TimeElapsedColumn(), console=console, disable=not show_progress or console is None, transient=True)
    with progress:
        task = progress.add_task("streaming 12h of metrics and traffic", total=n_batches)
        for _ in range(n_batches):
            m0 = sim.minute
            clock.set(sim.at(m0).timestamp())
            if m0 == DRIFT_CHECK_MINUTE:
                recent = clients.seen[-4 * (DRIFT_CHECK_MINUTE - PRICE_RISE_MINUTE):]
                uri = _upload(rt, "churn-after-price-rise", churn_csv(3000, label_noise=0.1, seed=seed + 1, price_rise=True))
                _, drift = check_drift(a, GROUP, recent, retrain_uri=uri)
                top = sorted(drift["features"].items(), key=lambda kv: -kv[1]["psi"])[0]
                tell(f"drift on {', '.join(drift['drifted_features']) or 'predictions'} "
                     f"({top[0]} PSI {top[1]['psi']:.2f} over {drift['rows']} served rows): retraining on the latest labelled data")
                before = len(a.registry.versions(GROUP))
                pump()
                trained += [_outcome(a, v) for v in a.registry.versions(GROUP)[before:]]
                tell(f"v{trained[-1]['version']} {'auto-approved' if trained[-1]['auto_approved'] else 'held'}: {trained[-1]['gate']}")
            if m0 == SKEWED_UPLOAD_MINUTE:
                trained.append(_train(rt, "churn-with-region", churn_csv(3000, label_noise=0.1, seed=seed + 2, price_rise=True,
                                                                         region=True)))
                tell(f"v{trained[-1]['version']} (adds a region column) "
                     f"{'auto-approved' if trained[-1]['auto_approved'] else 'held'}: {trained[-1]['gate']}")
                pump()
            if m0 == BAD_DEPLOY_TRAIN_MINUTE:
                trained.append(_train(rt, "churn-v-next", churn_csv(3000, label_noise=0.1, seed=seed + 3, price_rise=True)))
                t = trained[-1]
                if not t["auto_approved"]:
                    approve(a.registry, a.events, GROUP, t["version"], actor="demo-oncall", note="reviewed the gate's record")
                tell(f"v{t['version']} {'auto-approved' if t['auto_approved'] else 'approved by on-call after the gate held it'}: "
                     f"{t['gate']}")
                pump()
            for m in range(m0, m0 + BATCH_MINUTES):
                clients.minute(rt, clock, sim.at(m).timestamp(), m)
            records = sim.next_batch(BATCH_MINUTES)
            clock.set(records[-1].timestamp.timestamp() + 59)
            outs = [on_metrics(MetricBatch(service=SERVICE, source="demo", records=records), a)]
            telemetry = rt.deployer.serving_records(GROUP, sim.at(m0).timestamp(), sim.at(sim.minute).timestamp())
            if telemetry:
                outs.append(on_metrics(MetricBatch(service=SERVING, source="serving", records=telemetry), a))
            for out in outs:
                for v in out.get("verifications", []):
                    tell(f"verified {v['action']} on {out['service']}: {v['outcome']}, {v['detail']}"
                         + (f"; escalated to {v['escalated_to']}" if v["escalated_to"] else ""))
                for an in out.get("anomalies", []):
                    anomalies[an["anomaly_id"]] = AnomalyFound.model_validate(an)
                if (out.get("canary") or {}).get("status") == "aborting":
                    an = anomalies[out["anomalies"][-1]["anomaly_id"]]
                    tell(f"canary v{out['canary']['version']} worse than production on "
                         f"{', '.join(an.deviating_metrics)} over the same minutes: abort_canary requested")
            for _round in range(3):
                rep = pump()["remediation"]
                dead += rep.dead_lettered
                for res in rep.results:
                    actions.append({**res, "minute": sim.minute})
                    if res["status"] == "executed":  # the simulated fleet reacts to what the action really does
                        sim.apply(res["action"], res["target"], SERVICE, sim.minute)
                    if res["status"] == "executed" and res["action"] in ("abort_canary", "rollback_deployment"):
                        tell(res["detail"])
                held = a.state.held()
                if not held:
                    break
                for h in held:  # the demo's on-call engineer approves what the guardrails held
                    rt.approve_held(h["request_id"], actor="demo-oncall")
                    approvals.append(h["request_id"])
            rt.fleet.warm_cache(SERVICE, 4096)  # serving refills the cache a restart or a clear emptied
            progress.advance(task)

    ab = _ab_test(rt, clock, seed, trained, tell)
    from .report import write_report

    page = write_report(rt, demo_home / "report.html")
    summary = _summary(rt, sim, trained, rollouts, anomalies, actions, approvals, dead, served, time.perf_counter() - t_start)
    summary.update({"report": page["path"], "story": story, "drift": {k: drift.get(k) for k in ("drifted_features", "rows")},
                    "canaries": canary_events, "ab_test": ab, "client_errors": clients.refused,
                    "gate": gate_decisions(a.kv, GROUP)})
    rt.close()
    return summary


def _outcome(a: Any, v: Any) -> dict[str, Any]:
    """A version trained by a handler the demo did not call itself, in the train handler's shape."""
    decision = next((d for d in gate_decisions(a.kv, GROUP) if d["version"] == v.version), None)
    return {"version": v.version, "metrics": v.metrics, "status": v.status.value,
            "auto_approved": bool(decision and decision["approve"]), "gate": decision["reason"] if decision else "-"}


def _ab_test(rt: LocalRuntime, clock: ManualClock, seed: int, trained: list[dict[str, Any]], tell: Any) -> dict[str, Any]:
    """A challenger trained with a bounded hyperparameter search goes out as B against
    production; the churn labels that arrive later are the outcome (was the call right?)."""
    from ..serving import abtest
    from ..serving.rollout import RolloutContext

    a = rt.adapters
    t = _train(rt, "churn-search", churn_csv(3000, label_noise=0.1, seed=seed + 4, price_rise=True),
               approval="manual", params={"search": {"candidates": 6, "max_seconds": 4}})
    trained.append(t)
    prod = a.registry.alias(GROUP, "production")
    assert prod is not None  # the story approved a production version before the A/B step
    held = (prod.lineage.get("holdout") or {}).get("candidate", {}).get("accuracy") or prod.score or 0.8
    st = abtest.start(GROUP, t["version"], split=0.5, p_base=min(max(held, 0.05), 0.9), mde=0.05, deployer=rt.deployer,
                      registry=a.registry, kv=a.kv)
    tell(f"A/B test: v{t['version']} (searched hyperparameters) as B against v{prod.version}, 50/50; "
         f"{st['n_required']} outcomes per arm planned up front")
    labelled = churn_csv(6000, label_noise=0.1, seed=seed + 5, price_rise=True).decode().strip().splitlines()
    rows, labels = client_rows(("\n".join(labelled) + "\n").encode()), [int(x.rsplit(",", 1)[1]) for x in labelled[1:]]
    i = 0
    counts = {"a": [0, 0], "b": [0, 0]}
    while min(counts["a"][1], counts["b"][1]) < st["n_required"] and i < len(rows):
        out = rt.deployer.predict_detailed(GROUP, rows[i:i + 10])
        arm = "b" if out["slot"] == "canary" else "a"
        hits = sum(int(p) == y for p, y in zip(out["predictions"], labels[i:i + 10]))
        counts[arm][0] += hits
        counts[arm][1] += len(out["predictions"])
        i += 10
    for arm, (ok, n) in counts.items():
        abtest.record(GROUP, arm, ok, n, kv=a.kv)  # type: ignore[arg-type]
    res = abtest.conclude(GROUP, apply=True, ctx=RolloutContext.of(a))
    now = a.registry.alias(GROUP, "production")
    tell(f"A/B decision: {res['verdict']} (A {res['a_rate']:.3f} vs B {res['b_rate']:.3f} on {res['a_n']}/{res['b_n']} "
         f"outcomes, p={res['p_value']:.3g}); production is v{now.version if now else '-'}")
    return res


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
        # incidents are injected into the fleet's service: an anomaly on the serving telemetry
        # at the same time (a canary, a latency blip) is not its detection
        found = sorted((x for x in anomalies.values() if x.service == SERVICE and overlap(inc, x.start, x.end, sim)),
                       key=lambda x: x.start)
        top = found[0].causes[0] if found and found[0].causes else None
        ver = resolution(a.kv, found[0].anomaly_id) if found else None
        incidents.append({
            "incident": inc.name, "injected_at": sim.at(inc.start).isoformat(), "detected": bool(found),
            "anomaly_id": found[0].anomaly_id if found else None,
            "severity": found[0].severity.value if found else None,
            "detection_delay_min": round((found[0].start - sim.at(inc.start)).total_seconds() / 60, 1) if found else None,
            "top_cause": top.metric if top else None, "confidence": top.confidence if top else None,
            "action": top.action if top else None, "expected_cause": inc.expected_metric,
            "correct": bool(top and top.metric == inc.expected_metric and top.action == inc.expected_action),
            # resolved only when verification saw the metrics recover after an action, not by construction
            "resolved_by_remediation": bool(ver and ver["status"] == "resolved"),
            "verification": None if ver is None else {
                "status": ver["status"], "actions": [x["action"] for x in ver["attempts"]],
                "detail": ver["attempts"][-1]["detail"], "minutes": ver["attempts"][-1].get("minutes")},
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
        "actions": [{k: r[k] for k in ("request_id", "action", "target", "status", "detail", "minute")} for r in actions],
        "approvals": approvals,
        "rollbacks": rollbacks,
        "dead_letters": dead,
        "audit": {"entries": len(a.audit.entries()), "verified": ok, "detail": chain},
    }


def render(summary: dict[str, Any], console: Any) -> None:
    """The tables after the run; its story was told line by line as it went (``--json`` has it too)."""
    from rich.table import Table

    t = Table(title="Model versions (group churn)")
    for c in ("version", "status", "CV accuracy", "CV F1", "CV ROC AUC", "rows"):
        t.add_column(c, overflow="fold")
    for m in summary["models"]:
        prod = " (production)" if m["version"] == summary["deployment"]["production"] else ""
        t.add_row(f"v{m['version']}{prod}", m["status"], f"{m['cv_accuracy']:.3f}", f"{m['cv_f1']:.3f}", f"{m['cv_roc_auc']:.3f}", str(m["rows"]))
    console.print(t)

    t = Table(title="Gate decisions (every one recorded)")
    for c in ("version", "against", "verdict", "checks"):
        t.add_column(c, overflow="fold")
    for d in summary.get("gate", []):
        t.add_row(f"v{d['version']}", f"v{d['against']}" if d["against"] else "-",
                  "[green]approve[/]" if d["approve"] else "[yellow]hold for a human[/]", "; ".join(d["checks"]))
    console.print(t)

    t = Table(title=f"Incidents: {sum(i['detected'] for i in summary['incidents'])}/{len(summary['incidents'])} detected, "
                    f"{summary['anomalies']} anomalies in all")
    for c in ("injected incident", "severity", "delay", "top cause (confidence)", "action", "correct"):
        t.add_column(c, overflow="fold")
    t.add_column("verified by the metrics", overflow="fold", ratio=2)
    for i in summary["incidents"]:
        ver = i.get("verification")
        t.add_row(
            i["incident"], i["severity"] or "-", f"{i['detection_delay_min']:.0f} min" if i["detected"] else "missed",
            f"{i['top_cause']} ({i['confidence']:.0%})" if i["top_cause"] else "-", i["action"] or "-",
            "[green]yes[/]" if i["correct"] else "[red]no[/]",
            "-" if ver is None else (f"[green]{ver['status']}[/]" if ver["status"] == "resolved" else f"[red]{ver['status']}[/]")
            + f" after {' -> '.join(ver['actions'])}" + (f" in {ver['minutes']:.0f} min" if ver.get("minutes") is not None else ""),
        )
    console.print(t)

    t = Table(title="Remediation (guardrails: allow-list, cooldown, bounds, approval for destructive actions)")
    for c in ("at", "action", "target", "status", "detail"):
        t.add_column(c, overflow="fold")
    for r in summary["actions"]:
        colour = {"executed": "green", "refused": "yellow", "awaiting_approval": "cyan"}.get(r["status"], "white")
        at = f"+{r['minute'] // 60:02d}:{r['minute'] % 60:02d}" if r.get("minute") is not None else "-"
        t.add_row(at, r["action"], r["target"], f"[{colour}]{r['status']}[/]", r["detail"])
    console.print(t)
    rb = summary["rollbacks"]
    console.print(
        f"production: v{summary['deployment']['production']}"
        + (f" (rolled back v{rb[-1]['from']} -> v{rb[-1]['to']} after the error burst)" if rb else "")
        + f" | approvals by on-call: {len(summary['approvals'])} | dead letters: {summary['dead_letters']}"
        + f" | audit: {summary['audit']['detail']} | state: {summary['home']} | {summary['wall_seconds']} s"
    )
    console.print(f"report: {summary['report']} (open it in a browser; it needs no network)")
