"""The ``skyloop`` command (typer + rich).

State lives in ``./.skyloop`` unless ``SKYLOOP_HOME`` (or ``--home``) says otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from .cli_errors import EXIT_USAGE, OneLineErrors, say_error
from ..errors import InvalidRequest
from ..clouds import CLOUDS
from ..handlers import HANDLERS

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=OneLineErrors, pretty_exceptions_enable=False,
                  help="Skyloop: train, deploy, detect, remediate, locally or in the cloud.")
console = Console()
err = Console(stderr=True)


_target: dict[str, str] = {"cloud": "local"}  # set by --cloud / SKYLOOP_CLOUD (the callback below)


def _runtime(home: Optional[Path] = None, *, local_only: str | None = None, **overrides: Any) -> Any:
    """Settings validated (a bad value is one line, naming the variable), typos named, the
    state folder checked before SQLite is asked to open a file in it. With ``--cloud``, the
    deployed stack's adapters (``skyloop connect`` saved its settings), built by the bootstrap its
    functions use; ``local_only``: what to do instead, for a command that runs on the local default only."""
    from ..config import Settings, unknown_variables

    cloud = _target["cloud"]
    if cloud != "local" and local_only is not None:
        raise InvalidRequest(f"this command runs on the local default only; on {cloud}, {local_only}")
    fields: dict[str, Any] = {"home": home} if home else {}
    if cloud != "local":
        from . import connect
        from .operate import CloudOperator

        connect.apply(Settings(**fields).home, cloud)  # under what the environment says itself
    for var, close in unknown_variables():
        err.print(f"[yellow]warning[/] {escape(var)} is not a Skyloop setting and is ignored"
                  + (f"; did you mean {escape(close)}?" if close else ""), soft_wrap=True)
    settings = Settings(**fields, **overrides)
    if cloud != "local":
        return CloudOperator(cloud, settings)
    from ..local.runtime import LocalRuntime

    _check_home(settings.home)
    return LocalRuntime(settings)


def _on_cloud() -> bool:
    return _target["cloud"] != "local"


def _caller(rt: Any) -> str:
    """Who decides: the caller's cloud identity on a deployed stack, the OS user locally."""
    import getpass

    return str(rt.caller()) if _on_cloud() else getpass.getuser()


def _check_home(home: Path) -> None:
    import tempfile

    if home.exists() and not home.is_dir():
        raise InvalidRequest(f"the state folder {home} is a file; point --home or SKYLOOP_HOME at a folder")
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        raise InvalidRequest(f"the state folder {home} is not writable ({exc.strerror}); "
                             "point --home or SKYLOOP_HOME at a writable folder") from None


def _tag(e: dict[str, str]) -> str:
    return f"[{e['error']}] {e['reason']}"


def _emit(doc: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        console.print_json(json.dumps(doc, default=str))


HomeOpt = typer.Option(None, "--home", envvar="SKYLOOP_HOME", help="state folder (default ./.skyloop)")


def _service_name(value: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}", value or ""):
        raise typer.BadParameter(f"{value!r} is not a service name: 1-128 letters, digits, . _ : / -, "
                                 "starting with a letter or digit")
    return value


@app.callback()
def _main(log_level: str = typer.Option("WARNING", "--log-level", help="JSON logs to stderr: DEBUG, INFO, WARNING or ERROR"),
          debug: bool = typer.Option(False, "--debug", help="show the traceback of an error instead of one line"),
          cloud: str = typer.Option("local", "--cloud", envvar="SKYLOOP_CLOUD",
                                    help="run on a deployed stack: aws, gcp or azure (skyloop connect points at it)")) -> None:
    from ..logs import setup

    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter(f"{log_level!r} is not DEBUG, INFO, WARNING or ERROR", param_hint="--log-level")
    if cloud not in CLOUDS:
        raise typer.BadParameter(f"{cloud!r} is not one of {', '.join(CLOUDS)}", param_hint="--cloud")
    _target["cloud"] = cloud
    setup(log_level)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"skyloop {__version__}")


@app.command()
def demo(
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON only"),
    home: Optional[Path] = HomeOpt,
    seed: int = typer.Option(7, min=0, max=2**32 - 1, help="random seed of the simulated data"),
    start: Optional[datetime] = typer.Option(None, "--start", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
                                             help="first simulated minute (default: 12 hours ago); fixed for a reproducible run"),
) -> None:
    """Run the whole loop locally on simulated data and print a summary."""
    from .demo import render, run_demo

    if _on_cloud():
        raise InvalidRequest("skyloop demo runs on the local default only (it is the whole loop on files and SQLite)")

    import logging

    home = home or Path(os.environ.get("SKYLOOP_HOME", ".skyloop"))
    quiet = logging.getLogger("skyloop")
    level = quiet.level
    if level == logging.NOTSET or level >= logging.WARNING:  # unless --log-level asked for more
        quiet.setLevel(logging.ERROR)  # the demo narrates its drift, canary and rollback warnings itself
    try:
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        summary = run_demo(home, seed=seed, console=None if as_json else console, show_progress=not as_json, start=start)
    finally:
        quiet.setLevel(level)
    if as_json:
        _emit(summary, True)
    else:
        render(summary, console)


@app.command()
def train(
    csv: Path = typer.Argument(..., exists=True, dir_okay=False, help="training CSV"),
    target: Optional[str] = typer.Option(None, help="target column (default: sidecar, else last column)"),
    group: Optional[str] = typer.Option(None, help="model group (default: sidecar, else file name)"),
    model: Optional[str] = typer.Option(None, "--model", help="hist_gradient_boosting (default) or random_forest"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Validate a CSV, train with 5-fold CV, register a PENDING version."""
    from ..events import TrainingDataArrived
    from ..handlers import on_training_data
    from ..modelgroup import check

    if group is not None:
        check(group)  # the named refusal, before the event model's
    rt = _runtime(home, local_only='upload the CSV (and its .skyloop.json) to the training bucket: the train function trains it')
    res = on_training_data(TrainingDataArrived(uri=str(csv.resolve()), target=target, model_group=group, model=model),
                           rt.adapters)
    _emit(res, False)


@app.command()
def predict(
    group: str = typer.Argument(..., help="model group"),
    csv: Path = typer.Argument(..., exists=True, dir_okay=False, help="rows to predict (a header with the model's features)"),
    out: Optional[Path] = typer.Option(None, "--out", help="predictions CSV (default: <csv>.predictions.csv)"),
    version: Optional[int] = typer.Option(None, help="a version instead of production"),
    chunk_rows: int = typer.Option(50_000, min=1, help="rows per chunk: memory stays flat"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Batch prediction over a CSV with the production model, streamed in chunks."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..serving.batch import predict_csv

    rt = _runtime(home, local_only="ask the deployment's endpoint itself, or call `skyloop --cloud ... invoke`")
    out = out or csv.with_suffix(".predictions.csv")
    with Progress(TextColumn("[bold]predict[/]"), BarColumn(), TextColumn("{task.completed:,} rows"), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("rows", total=None)
        res = predict_csv(csv, out, group=group, version=version, registry=rt.registry, store=rt.adapters.store,
                          chunk_rows=chunk_rows, on_chunk=lambda n: progress.advance(task, n))
    if res.warning:
        err.print(f"[yellow]warning[/] {escape(res.warning)}", soft_wrap=True)
    _emit(res.to_dict(), False)


@app.command()
def drift(
    group: str = typer.Argument(..., help="model group"),
    csv: Path = typer.Argument(..., exists=True, dir_okay=False, help="recent inference inputs (the model's features)"),
    retrain_on: Optional[Path] = typer.Option(None, "--retrain-on", exists=True, dir_okay=False,
                                              help="newer labelled data: retrain on it if drift is found"),
    max_rows: int = typer.Option(10_000, min=1, help="compare at most this many recent rows"),
    as_json: bool = typer.Option(False, "--json"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """PSI and KS per feature and on predictions against the production model's training data;
    drift emits DriftDetected, which retrains on --retrain-on data through the train handler."""
    import pandas as pd

    from ..drift.check import check_drift

    rt = _runtime(home, local_only='the drift function checks what the scoring jobs report; run this locally on an exported sample')
    frame = pd.read_csv(csv, nrows=max_rows, skipinitialspace=True)
    report, out = check_drift(rt.adapters, group, frame.to_dict("records"),
                              str(retrain_on.resolve()) if retrain_on else None)
    mv_version = out["version"]
    failed: list[dict[str, str]] = []
    if out.pop("event_id"):
        drained = rt.pump()["events"]  # DriftDetected -> (retrain) TrainingDataArrived -> train handler
        out["handled"] = drained.results
        failed = drained.errors  # a retrain that failed (bad data) must not exit 0 behind a drift table
        if failed:
            out["failed"] = failed
    if as_json:
        _emit(out, True)
        if failed:
            raise typer.Exit(EXIT_USAGE)
        return
    from rich.table import Table

    table = Table(title=f"Drift of {group} v{mv_version} on {report.rows:,} recent rows")
    for c in ("feature", "PSI", "KS D", "KS p", "drifted"):
        table.add_column(c)
    for name, r in [*report.features.items(), *([("(predictions)", report.prediction)] if report.prediction else [])]:
        table.add_row(name, f"{r['psi']:.3f}", str(r.get("ks_d", "-")), str(r.get("ks_p", "-")),
                      "[red]yes[/]" if r["drifted"] else "no")
    console.print(table)
    console.print_json(json.dumps({k: v for k, v in out.items() if k not in ("features", "prediction", "failed")},
                                  default=str))
    for e in failed:
        say_error(e.get("error", "failed"), f"the retrain on {retrain_on} failed: {e.get('reason', '')}")
    if failed:
        raise typer.Exit(EXIT_USAGE)


ab = typer.Typer(help="A/B test a challenger against production on a binary outcome.", no_args_is_help=True)
app.add_typer(ab, name="ab")


@ab.command("start")
def ab_start(group: str, version: int, split: float = typer.Option(0.5, help="share of traffic for B"),
             p_base: float = typer.Option(..., help="production's current success rate"),
             mde: float = typer.Option(..., help="smallest absolute lift worth detecting"),
             alpha: float = 0.05, power: float = 0.8, home: Optional[Path] = HomeOpt) -> None:
    """Serve VERSION as B beside production; prints the sample size each arm needs."""
    from ..serving import abtest

    rt = _runtime(home, local_only='A/B tests run on the local endpoint')
    try:
        state = abtest.start(group, version, split=split, p_base=p_base, mde=mde, alpha=alpha, power=power,
                             deployer=rt.deployer, registry=rt.registry, kv=rt.adapters.kv)
    except ValueError as exc:  # the statistics' own argument checks, as a typed one-liner
        raise InvalidRequest(str(exc)) from None
    _emit(state, False)


@ab.command("record")
def ab_record(group: str, arm: str = typer.Argument(..., help="a (production) or b (challenger)"),
              successes: int = typer.Option(..., min=0), trials: int = typer.Option(..., min=1),
              home: Optional[Path] = HomeOpt) -> None:
    """Log outcomes for one arm."""
    from ..serving import abtest

    if arm not in ("a", "b"):
        raise typer.BadParameter("arm is a or b")
    rt = _runtime(home, local_only='A/B tests run on the local endpoint')
    try:
        _emit(abtest.record(group, arm, successes, trials, kv=rt.adapters.kv)["counts"], False)  # type: ignore[arg-type]
    except ValueError as exc:  # the statistics' own argument checks, as a typed one-liner
        raise InvalidRequest(str(exc)) from None


@ab.command("decide")
def ab_decide(group: str, apply: bool = typer.Option(False, "--apply", help="promote the winner / end the test"),
              as_json: bool = typer.Option(False, "--json"), home: Optional[Path] = HomeOpt) -> None:
    """Fixed-horizon two-proportion z-test: continue, b_wins, a_wins or inconclusive."""
    from ..serving import abtest
    from ..serving.rollout import RolloutContext

    rt = _runtime(home, local_only='A/B tests run on the local endpoint')
    out = abtest.conclude(group, apply=apply, ctx=RolloutContext.of(rt.adapters))
    _emit(out, as_json)


ai = typer.Typer(help="Cloud AI services on a file: OCR, text analysis, speech, translation, speech synthesis.",
                no_args_is_help=True)
app.add_typer(ai, name="ai")
ProviderOpt = typer.Option("local", "--provider", help="local (offline), aws, gcp or azure")
RawOpt = typer.Option(False, "--raw", help="also print the provider's own response, as it answered")


def _ai_result(result: Any, raw: bool = False) -> None:
    doc = json.loads(result.model_dump_json(exclude={"audio"}))
    if raw:
        doc["raw"] = getattr(result, "raw", None)
    typer.echo(json.dumps(doc, indent=2, default=str))


@ai.command("image")
def ai_image(file: Path = typer.Argument(..., exists=True, dir_okay=False), provider: str = ProviderOpt,
             feature: Optional[list[str]] = typer.Option(None, "--feature", help="labels, objects, faces, text"),
             raw: bool = RawOpt) -> None:
    """Analyse an image: labels, objects, faces, text (OCR). Locally: text."""
    from ..bootstrap import ai_provider as make

    p = make(provider)
    _ai_result(p.analyze_image(file.read_bytes(), *([feature] if feature else [])), raw)


@ai.command("text")
def ai_text(file: Path = typer.Argument(..., exists=True, dir_okay=False), provider: str = ProviderOpt,
            feature: Optional[list[str]] = typer.Option(None, "--feature",
                                                        help="sentiment, entities, key_phrases, language"),
            raw: bool = RawOpt) -> None:
    """Analyse a UTF-8 text file: sentiment, entities, key phrases, language. Locally: sentiment, language."""
    from ..bootstrap import ai_provider as make

    p = make(provider)
    _ai_result(p.analyze_text(file.read_text(encoding="utf-8"), *([feature] if feature else [])), raw)


@ai.command("speech")
def ai_speech(file: Path = typer.Argument(..., exists=True, dir_okay=False), provider: str = ProviderOpt,
              language: Optional[str] = None, raw: bool = RawOpt) -> None:
    """Transcribe an audio file (a cloud provider's service)."""
    from ..bootstrap import ai_provider as make

    _ai_result(make(provider).transcribe(file.read_bytes(), language=language,
                                         media_format=file.suffix.lstrip(".").lower() or "wav"), raw)


@ai.command("translate")
def ai_translate(file: Path = typer.Argument(..., exists=True, dir_okay=False),
                 to: str = typer.Option(..., "--to", help="target language, ISO 639-1"), provider: str = ProviderOpt,
                 raw: bool = RawOpt) -> None:
    """Translate a UTF-8 text file (a cloud provider's service)."""
    from ..bootstrap import ai_provider as make

    _ai_result(make(provider).translate(file.read_text(encoding="utf-8"), to), raw)


@ai.command("tts")
def ai_tts(file: Path = typer.Argument(..., exists=True, dir_okay=False), provider: str = ProviderOpt,
           voice: Optional[str] = None, audio_format: str = typer.Option("wav", "--format"),
           out: Optional[Path] = typer.Option(None, "--out", help="where the audio goes (default: FILE.<format>)")) -> None:
    """Speak a UTF-8 text file; writes the audio and prints what was made."""
    from ..bootstrap import ai_provider as make

    speech = make(provider).synthesize(file.read_text(encoding="utf-8"), voice=voice, audio_format=audio_format)
    target = out or file.with_suffix(f".{speech.format}")
    target.write_bytes(speech.audio)
    _ai_result(speech)
    typer.echo(f"audio: {target}", err=True)


@app.command()
def report(out: Path = typer.Option(Path("skyloop-report.html"), "--out", help="the HTML file to write"),
           as_json: bool = typer.Option(False, "--json", help="print the data behind the page instead"),
           home: Optional[Path] = HomeOpt) -> None:
    """One static HTML page: metric series with anomalies, root causes, remediation timeline,
    model versions, drift per feature. Opens offline: charts are inline SVG."""
    from .report import collect, write_report

    if not as_json and not out.parent.is_dir():
        raise InvalidRequest(f"the folder {out.parent} does not exist; create it or choose another --out")
    rt = _runtime(home)
    if as_json:
        return _emit(collect(rt), True)
    _emit(write_report(rt, out), False)


@app.command()
def runs(
    group: str = typer.Argument(..., help="model group"),
    compare: Optional[list[int]] = typer.Option(None, "--compare", help="two versions side by side"),
    sync_mlflow: bool = typer.Option(False, "--sync-mlflow",
                                     help="bring the MLflow mirror (tracking.mlflow_uri) up to the registry now"),
    as_json: bool = typer.Option(False, "--json"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Training runs of a group: params, CV metrics, data hash, code version, duration, data shift."""
    from ..tracking import compare_runs, run_rows

    rt = _runtime(home)
    if sync_mlflow:
        if rt.adapters.mirror is None:
            raise InvalidRequest("no MLflow mirror configured: set SKYLOOP_TRACKING__MLFLOW_URI")
        return _emit(rt.adapters.mirror.sync(rt.registry, group).to_dict(), as_json)
    versions = rt.registry.versions(group)
    if compare:
        if len(compare) != 2:
            raise typer.BadParameter("--compare takes two versions")
        doc = compare_runs(rt.registry.get(group, compare[0]), rt.registry.get(group, compare[1]))
        return _emit(doc, as_json)
    rows = run_rows(versions)
    if as_json:
        return _emit(rows, True)
    from rich.table import Table

    t = Table(title=f"Runs of {group}")
    for c in ("version", "status", "primary CV", "params", "data sha256", "rows", "shifted vs previous", "code", "train s"):
        t.add_column(c)
    for r in rows:
        t.add_row(str(r["version"]), r["status"], f"{r['primary_metric']} {r['score']:.4f}" if r["score"] is not None else "-",
                  escape(", ".join(f"{k}={v}" for k, v in r["params"].items())), r["data_sha256"][:12], str(r["rows"]),
                  escape(", ".join(r["shifted_vs_previous"]) or "-"), r["code_version"], str(r["train_seconds"]))
    console.print(t)


@app.command()
def models(group: Optional[str] = typer.Argument(None), home: Optional[Path] = HomeOpt,
           as_json: bool = typer.Option(False, "--json")) -> None:
    """List model versions with status, aliases and metrics."""
    from rich.table import Table

    rt = _runtime(home)
    versions = rt.registry.versions(group)
    from ..ports.registry import ALIASES

    aliases = {g: {a: (mv.version if (mv := rt.registry.alias(g, a)) else None) for a in ALIASES}
               for g in {v.group for v in versions}}
    if as_json:  # which version is production is the first thing a script asks
        return _emit([{**v.model_dump(mode="json"), "aliases": sorted(a for a, n in aliases[v.group].items() if n == v.version)}
                      for v in versions], True)
    t = Table(title="Model versions")
    for c in ("group", "version", "status", "aliases", "primary metric", "data sha256", "created"):
        t.add_column(c)
    for v in versions:
        al = sorted(a for a, n in aliases[v.group].items() if n == v.version)
        t.add_row(v.group, str(v.version), v.status.value, ",".join(al), f"{v.primary_metric}={v.score:.4f}" if v.score is not None else "-",
                  v.lineage.get("data_sha256", "")[:12], v.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(t)


@app.command()
def approve(group: str, version: int, actor: str = typer.Option(os.environ.get("USER", "cli"), help="who approves"),
            deploy: bool = typer.Option(True, help="run the deploy handler now"), home: Optional[Path] = HomeOpt) -> None:
    """Approve a PENDING version; emits ModelVersionApproved (and deploys it)."""
    from ..ports.registry import approve as approve_version

    from ..ports.registry import Status

    rt = _runtime(home)
    if _on_cloud():  # the approver is the caller's cloud identity, never a name typed on the command line
        actor = _caller(rt)
    if rt.registry.get(group, version).status is Status.APPROVED:
        # approving again would replay the first rollout's result (the event is deduplicated)
        prod = rt.registry.alias(group, "production")
        where = "in production" if prod is not None and prod.version == version else "not in production"
        console.print(f"{group} v{version} is already approved ({where}); nothing to do. "
                      f"To roll it out again: skyloop deploy {group} {version}", soft_wrap=True)
        return
    ev = approve_version(rt.registry, rt.adapters.events, group, version, actor=actor)
    console.print(f"approved {group} v{version} as {escape(actor)}: event {ev.event_id}", soft_wrap=True)
    if _on_cloud():
        console.print(f"the deploy function on {_target['cloud']} rolls it out (skyloop --cloud {_target['cloud']} models)")
        return
    if deploy:
        rep = rt.pump(dry_run=True)["events"]
        for r in rep.results:
            _emit(r, False)
        for e in rep.errors:
            err.print(f"[red]deploy failed[/] {escape(_tag(e))}", soft_wrap=True)


@app.command()
def deploy(group: str, version: int, home: Optional[Path] = HomeOpt) -> None:
    """(Re)run the rollout for an APPROVED version: staging, smoke test, canary, production."""
    from ..events import ModelVersionApproved
    from ..handlers import on_model_approved

    rt = _runtime(home)
    _emit(on_model_approved(ModelVersionApproved(model_group=group, version=version, approved_by="cli"), rt.adapters), False)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="bind address (loopback by default)"),
          port: int = typer.Option(8080, min=0, max=65535, help="TCP port (0: any free port)"),
          home: Optional[Path] = HomeOpt) -> None:
    """Serve deployed models over HTTP: POST /v1/models/<group>:predict."""
    from ..local.endpoint import bind, make_server

    rt = _runtime(home, local_only="the endpoint is the cloud's own")
    sock = bind(host, port)  # a busy port is one line here, not a log line and an exit inside uvicorn
    console.print(f"serving on http://{host}:{sock.getsockname()[1]} (Ctrl-C to stop)")
    make_server(rt.deployer).run(sockets=[sock])


@app.command()
def detect(
    metrics: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or JSON lines: timestamp + metric columns"),
    service: str = typer.Option("api", help="service the metrics belong to", callback=_service_name),
    batch_size: int = typer.Option(60, min=1, help="records per streamed batch"),
    time_column: Optional[str] = typer.Option(None, "--time-column", help="the time column (default: timestamp, time, ts, "
                                              "datetime or date; never guessed)"),
    home: Optional[Path] = HomeOpt,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stream metric records through the detector; anomalies queue remediation requests."""
    from ..detection.records import batches, load_records
    from ..handlers import on_metrics

    rt = _runtime(home, local_only="metric records reach the detect function from the cloud's monitoring (or `skyloop --cloud ... invoke detect`)")
    found: list[dict[str, Any]] = []
    for b in batches(load_records(str(metrics), time_column), batch_size, service):
        found += on_metrics(b, rt.adapters)["anomalies"]
    if as_json:
        return _emit(found, True)
    from rich.table import Table

    t = Table(title=f"{len(found)} anomaly reports for {service}")
    for c in ("anomaly", "start", "end", "severity", "deviating", "top cause", "action"):
        t.add_column(c)
    for a in found:
        top = a["causes"][0] if a["causes"] else {}
        t.add_row(a["anomaly_id"], a["start"], a["end"], a["severity"], ", ".join(a["deviating_metrics"][:3]),
                  f"{top.get('metric', '-')} ({top.get('confidence', 0):.0%})", top.get("action", "-"))
    console.print(t)


@app.command("fit-detector")
def fit_detector(
    metrics: Path = typer.Argument(..., exists=True, dir_okay=False, help="history: CSV or JSON lines"),
    service: str = typer.Option("api", help="whose detector to replace", callback=_service_name),
    kind: str = typer.Option("default", help="default (likelihood) | likelihood | adaptive | robust_z | iforest | "
                                                "ensemble | sklearn-iforest"),
    contamination: float = typer.Option(0.1, min=0.001, max=0.5, help="sklearn-iforest: expected share of anomalies"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Warm-start a service's detector from history (sklearn-iforest: trained with scikit-learn,
    exported so the detect path scores it with numpy alone)."""
    import numpy as np

    from ..detection import make_detector
    from ..detection.base import drop_out_of_range
    from ..detection.records import load_records
    from ..errors import InvalidMetrics

    rt = _runtime(home, local_only='fit locally, then the state reaches the cloud through the detect function')
    records = load_records(str(metrics))
    columns = sorted({k for r in records for k in r.values})
    X = np.array([[r.values.get(c, np.nan) for c in columns] for r in records], dtype=float)
    absurd = drop_out_of_range(X)  # as the detect path does: ±1e308 in a history once bypassed the guard
    if absurd.any():
        err.print(f"{int(absurd.sum())} value(s) beyond ±1e150 treated as missing "
                  f"({', '.join(sorted({columns[j] for j in np.nonzero(absurd)[1]}))})", soft_wrap=True)
    if not np.isfinite(X).any():
        raise InvalidMetrics(f"{metrics.name} has no usable values")
    if kind == "sklearn-iforest":
        from ..training.detector import fit_isolation_forest

        det, _ = fit_isolation_forest(X, columns, contamination=contamination)
    else:
        det = make_detector(kind)
        det.columns_ = columns
        if det.tags.streaming:
            det.process(X, [r.timestamp.timestamp() for r in records])
        else:
            det.fit(X, columns)
    from ..detection.usecase import install_detector

    install_detector(rt.adapters.kv, service, det, queue=rt.adapters.remediation, audit=rt.adapters.audit)
    console.print(f"{service}: {det.name} detector fitted on {len(records)} records x {len(columns)} metrics")


@app.command()
def remediate(
    live: bool = typer.Option(False, "--live", help="act for real (default: dry run)"),
    approve_request: Optional[str] = typer.Option(None, "--approve", help="approve a held request id first"),
    reject_request: Optional[str] = typer.Option(None, "--reject", help="reject a held request id"),
    note: Optional[str] = typer.Option(None, "--note", help="why, kept with the approval or rejection"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Drain the remediation queue under guardrails (dry run unless --live: a dry run leaves the
    requests queued for the live run). Approving or rejecting records who decided: the OS user
    locally, the caller's cloud identity with --cloud (where the remediate function drains the queue)."""
    rt = _runtime(home)
    for rid, decision in ((approve_request, "approved"), (reject_request, "rejected")):
        if rid:
            who = _caller(rt)
            rt.decide_held(rid, decision, actor=who, note=note)
            console.print(f"{escape(rid)}: {decision} by {escape(who)}", soft_wrap=True)
    cloud = _target["cloud"]
    if _on_cloud():  # the remediate function drains the queue there: an approved request runs on it
        for h in rt.adapters.state.held():
            console.print(f"held {escape(h['request_id'])}: {escape(h['action'])} on {escape(h['target'])} "
                          f"({escape(str(h.get('severity')))}): skyloop --cloud {cloud} remediate --approve "
                          f"{escape(h['request_id'])} | --reject {escape(h['request_id'])}", soft_wrap=True)
        return
    rep = rt.pump(dry_run=not live)["remediation"]
    for r in rep.results:
        console.print(f"{escape(r['request_id'])}: [bold]{r['status']}[/] {escape(r['detail'])}", soft_wrap=True)
    for e in rep.errors:
        err.print(f"[red]dead-lettered[/] {e['message_id']}: {escape(_tag(e))}", soft_wrap=True)
    held = rt.adapters.state.held()
    for h in held:
        console.print(f"held {escape(h['request_id'])}: {escape(h['action'])} on {escape(h['target'])} "
                      f"({escape(str(h.get('severity')))}): skyloop remediate --approve {escape(h['request_id'])} --live"
                      f" | --reject {escape(h['request_id'])}", soft_wrap=True)


@app.command()
def audit(action: Optional[str] = typer.Argument(None, help="'verify' checks the hash chain (same as --verify)"),
          verify: bool = typer.Option(False, "--verify", help="check the hash chain"),
          limit: int = typer.Option(50, min=1, help="the last N entries"),
          as_json: bool = typer.Option(False, "--json"), home: Optional[Path] = HomeOpt) -> None:
    """Show the remediation audit log (append-only, hash-chained); `skyloop audit verify` checks it."""
    if action not in (None, "verify"):
        raise typer.BadParameter(f"unknown audit action {action!r}; did you mean 'verify'?")
    rt = _runtime(home)
    if verify or action == "verify":
        ok, detail = rt.adapters.audit.verify()
        console.print(("[green]ok[/] " if ok else "[red]TAMPERED[/] ") + detail)
        raise typer.Exit(0 if ok else 1)
    entries = rt.adapters.audit.entries(limit)
    if as_json:
        return _emit(entries, True)
    from rich.table import Table

    t = Table(title="Audit log (skyloop audit --json for every field)")
    for c in ("seq", "at (UTC)", "kind", "action", "target", "verdict / detail"):
        t.add_column(c, overflow="fold")
    for e in entries:
        t.add_row(str(e["seq"]), str(e["at"])[:16].replace("T", " "), e["kind"], str(e.get("action", "")),
                  str(e.get("target", "")), str(e.get("verdict") or e.get("detail") or e.get("why") or ""))
    console.print(t)


@app.command()
def incidents(open_only: bool = typer.Option(False, "--open", help="only those still open or awaiting approval"),
              as_json: bool = typer.Option(False, "--json"), home: Optional[Path] = HomeOpt) -> None:
    """Each incident: service, times, severity, top causes, actions tried with their verification, and
    its state (open, awaiting approval, resolved, unresolved, ended). Works with --cloud."""
    from ..incidents.views import incident_rows

    rt = _runtime(home)
    rows = incident_rows(rt.adapters.kv, rt.adapters.state.held(), open_only=open_only)
    if as_json:
        return _emit(rows, True)
    from rich.table import Table

    t = Table(title="Incidents (skyloop incidents --json for every field)")
    for c in ("incident", "service", "start (UTC)", "severity", "state", "top cause", "tried"):
        t.add_column(c, overflow="fold")
    for r in rows:
        cause = r["causes"][0] if r["causes"] else None
        tried = ", ".join(f"{x['action']}: {x['outcome']}" for x in r["tried"]) or "-"
        if r["held"]:
            tried += f" (held: {r['held']['action']}, skyloop remediate --approve {r['held']['request_id']})"
        t.add_row(r["anomaly_id"], r["service"], r["start"][:16].replace("T", " "), r["severity"], r["state"],
                  f"{cause['metric']} ({cause['confidence']:.2f})" if cause else "-", escape(tried))
    console.print(t)


@app.command()
def connect(
    cloud: str = typer.Argument(..., help="aws, gcp or azure"),
    stack: Optional[str] = typer.Option(None, "--stack", help="aws: the CloudFormation stack's name"),
    outputs: Optional[Path] = typer.Option(None, "--outputs", exists=True, dir_okay=False,
                                           help="gcp: `terraform output -json`; azure: the deployment's outputs"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Point the CLI at a deployed stack: its settings, read from the stack's own outputs, are kept
    for every `skyloop --cloud <cloud> ...` command after this one."""
    from ..config import Settings
    from . import connect as conn

    if cloud == "aws":
        if not stack:
            raise typer.BadParameter("aws needs --stack <the CloudFormation stack's name>")
        from ..bootstrap import table
        from ..clouds.aws.connect import stack_settings

        found = stack_settings(table("aws").settings(), stack)
    elif cloud in ("gcp", "azure"):
        if outputs is None:
            raise typer.BadParameter(f"{cloud} needs --outputs <file>: " + (
                "terraform output -json > outputs.json (in infra/gcp)" if cloud == "gcp" else
                "az deployment group show -g <group> -n <deployment> --query properties.outputs > outputs.json"))
        doc = json.loads(outputs.read_text())
        found = conn.from_terraform(doc) if cloud == "gcp" else conn.from_bicep(doc)
    else:
        raise typer.BadParameter(f"{cloud!r} is not aws, gcp or azure")
    fields: dict[str, Any] = {"home": home} if home else {}
    where = conn.save(Settings(**fields).home, cloud, found)
    console.print(f"{len(found)} settings of the {cloud} deployment kept in {escape(str(where))}; "
                  f"now: skyloop --cloud {cloud} models", soft_wrap=True)


@app.command()
def gc(
    apply: bool = typer.Option(False, "--apply", help="delete (default: only list)"),
    older_than: float = typer.Option(3600.0, help="seconds; younger files may belong to a training still running"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Reclaim model artifacts no registry version points at (left by a crash between
    writing the artifact and registering it, when the event was never redelivered)."""
    from ..local.sweep import sweep_orphan_artifacts

    rt = _runtime(home, local_only="a cloud's registry keeps its own artifacts; lifecycle rules on the bucket reclaim the rest")
    found = sweep_orphan_artifacts(rt, older_than=older_than, apply=apply)
    for path in found:
        console.print(("deleted " if apply else "orphan ") + escape(str(path)))
    console.print(f"{len(found)} orphaned artifact(s){' deleted' if apply else '; --apply deletes them'}")


@app.command()
def invoke(
    handler: str = typer.Argument(..., help=" | ".join(HANDLERS)),
    event: Path = typer.Argument(..., exists=True, dir_okay=False, help="a JSON file with a Skyloop domain event"),
    live: bool = typer.Option(False, "--live", help="remediate: act for real (default: dry run)"),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Call one handler directly with a JSON event, as a cloud's invoke API would."""
    from ..handlers import invoke as invoke_handler

    overrides: dict[str, Any] = {} if handler != "remediate" else {"dry_run": not live}
    rt = _runtime(home, **overrides)
    _emit(invoke_handler(handler, event.read_bytes(), rt.adapters), False)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
