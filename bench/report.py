"""Render bench/README.md from bench/results/*.json (``python -m bench.report``)."""

from __future__ import annotations

from pathlib import Path

from bench.coldstart import AWS_DETECT, AWS_DETECT_TRACED, AWS_PACKAGED, AWS_PACKAGED_NUMPY, PYDANTIC_FLOOR  # the keys it records

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


from bench.common import load  # noqa: E402  (one reader of the recorded results)


def ok(flag: bool) -> str:
    return "met" if flag else "**not met**"


def planted_table(suite: dict, title: str, what: str, tuning_seed: int, planted: str) -> list[str]:
    """The rows for a generated suite of planted incidents (bench/knowncause.py, bench/weekly.py)."""
    if not suite.get("detectors"):
        return []
    out = ["", f"### {title}", "",
           f"{suite['series']} {what}, seed {suite['seed']} (held out: tuning looks at {tuning_seed}), {planted}: "
           + ", ".join(f"{k} {v}" for k, v in sorted(suite["anomalies_by_kind"].items()))
           + ". Scored like the synthetic suite.", "",
           "| detector | score at 0.6 (MEDIUM) | TP / FN / FP alarms | best threshold | score at best | recall by kind at 0.6 |",
           "|---|---|---|---|---|---|"]
    for name, d in suite["detectors"].items():
        c = d["counts_at_0.6"]
        kinds = ", ".join(f"{k} {v:.0%}" for k, v in d["recall_by_kind_at_0.6"].items())
        out.append(f"| {name} | {d['score_at_0.6']} | {c['tp']} / {c['fn']} / {c['fp']} | {d['best_threshold']} | "
                   f"{d['score_at_best']} | {kinds} |")
    return out


def main() -> None:
    out = [
        "# Benchmarks",
        "",
        "`python -m bench` reruns everything (`--quick` skips the 1M- and 5M-row training runs) and writes",
        "`bench/results/*.json`; `python -m bench.report` renders this page from them. Each figure",
        "below is measured in one run on the machine named with it. Never in timed unit tests.",
        "",
    ]
    machine = None
    rows = []
    notes_extra: list[str] = []
    cs = load("coldstart")
    if cs:
        machine = cs["machine"]
        m = cs["median_ms"]
        rows.append(("Cold start: `import skyloop.handlers.detect` vs `import numpy` (median of "
                     f"{cs['runs']} fresh interpreters)", f"{m['skyloop.handlers.detect']:.0f} ms vs {m['numpy']:.0f} ms "
                     f"= **{cs['detect_vs_numpy']}x**", "<= 1.5x", ok(cs["within_budget"])))
        if PYDANTIC_FLOOR in m:
            rows.append(("Cold start floor: `import numpy; from pydantic import BaseModel` vs `import numpy`",
                         f"{m[PYDANTIC_FLOOR]:.0f} ms = {m[PYDANTIC_FLOOR] / m['numpy']:.2f}x", "-", "-"))
        budget = f"<= {cs.get('aws_budget_ms', 300):.0f} ms"
        if AWS_PACKAGED in m:
            rows.append((f"Cold start, the Lambda entry point's init: `{AWS_PACKAGED}`",
                         f"{m[AWS_PACKAGED]:.0f} ms (numpy alone: {m[AWS_PACKAGED_NUMPY]:.0f} ms)", budget,
                         ok(cs.get("aws_within_budget"))))
        if AWS_DETECT in m:
            rows.append((f"Cold start, the Lambda entry point's init: `{AWS_DETECT}` (this venv)", f"{m[AWS_DETECT]:.0f} ms",
                         "-" if AWS_PACKAGED in m else budget,
                         "-" if AWS_PACKAGED in m else ok(cs.get("aws_within_budget"))))
        if AWS_DETECT_TRACED in m:
            rows.append((f"Cold start, the Lambda entry point's init: `{AWS_DETECT_TRACED}`",
                         f"{m[AWS_DETECT_TRACED]:.0f} ms", "-", "-"))
    tp = load("throughput")
    if tp:
        machine = machine or tp["machine"]
        r, rps = tp["ratios"], tp["rows_per_s"]
        rows.append(("Parity: numpy scorer vs sklearn `score_samples`, max abs diff", f"{tp['max_abs_diff_vs_sklearn']:.1e}",
                     "< 1e-9", ok(tp["budgets"]["parity_below_1e-9"])))
        rows.append((f"Throughput, {tp['rows']:,} rows x 7 metrics, 100 trees: numpy (1 thread) vs sklearn",
                     f"{rps['numpy_1_thread']:,} vs {rps['sklearn_score_samples']:,} rows/s = **{r['numpy_1_vs_sklearn']}x** "
                     f"(2 threads: {r['numpy_2_vs_sklearn']}x)", ">= 1.0x", ok(tp["budgets"]["numpy_vs_sklearn_at_least_1x"])))
        rows.append(("Throughput: numpy (1 thread) vs the seed's loop (decision_function + predict + per-row dicts)",
                     f"{rps['numpy_1_thread']:,} vs {rps['seed_loop']:,} rows/s = **{r['numpy_1_vs_seed']}x** "
                     f"(sklearn alone: {r['sklearn_vs_seed']}x)", ">= 3x", ok(tp["budgets"]["numpy_vs_seed_at_least_3x"])))
    lat = load("latency")
    if lat:
        labels = {"default": "default detector", "likelihood": "likelihood detector",
                  "default, second week": "default detector in its second week (5-minute records, four metrics "
                                          "with a weekly cycle)",
                  "default, third week": "default detector in its third week (the week's point test asked too)"}
        for name, label in labels.items():
            d = lat["detectors"].get(name)
            if d:
                spread = (f"; p99 {d['p99_range_us'][0]}-{d['p99_range_us'][1]} us over {d['runs']} runs"
                          if "p99_range_us" in d else "")
                rows.append((f"`score_one` latency, {label}, 7 metrics (median run)",
                             f"p50 {d['p50_us']} us, p99 {d['p99_us']} us ({d['records_per_s']:,} records/s{spread})",
                             "p99 <= 500 us", ok(d["p99_us"] <= 500)))
        st = lat.get("state")
        if st:
            b = st["bytes"]
            rows.append((f"Detector state (`default`), saved after {st['records']:,} records, by metrics",
                         ", ".join(f"{m}: {v / 1000:.1f} kB" for m, v in b.items())
                         + f" ({st['bytes_per_added_metric'] / 1000:.1f} kB per added metric)",
                         "O(metrics); 7 metrics in one DynamoDB item (380 kB)",
                         ok(b["7"] <= st["dynamodb_item_bytes"])))
    gb = load("garbage")
    if gb:
        runs = [r for r in gb["runs"] if r["amplitude"]]
        found = ", ".join(f"{r['amplitude']:.0e} +{r['gap_minutes']} min: "
                          + (f"{r['severity']} in {r['delay_minutes']:.0f} min" if r["found"] else "missed") for r in runs)
        rows.append((f"A garbage burst ({gb['burst_minutes']} min of 0 <-> 1e3 or 1e9, `bench/garbage.py`), then a CPU "
                     "saturation after a quiet gap: reported (`likelihood` missed it at 240 min before the disorder rule)",
                     found, "every one found", ok(gb["all_found"])))
    sv = load("serving")
    if sv:
        for name, r in sv["servers"].items():
            rows.append((f"Predictions over HTTP, {sv['clients']} clients x {r['requests'] // sv['clients']} requests of "
                         f"{sv['rows_per_request']} rows on 127.0.0.1 (`bench/serving.py`): {name}",
                         f"{r['requests_per_s']:,} requests/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                         f"{r['errors']} errors", "0 errors", ok(r["errors"] == 0)))
    bt = load("batch")
    if bt:
        hows = {"streamed": "streamed in chunks (`skyloop predict`)", "in-function": "in the function (bytes in memory)",
                "container": "the serving container's batch mode, one worker, 6 MB text/csv mini-batches (what each "
                             "Batch Transform / Vertex worker runs; no HTTP, no platform I/O)",
                "tally": "the manifest's count of a joined job output, streamed"}
        for r in bt["runs"]:
            how = hows.get(r["path"], r["path"])
            rows.append((f"Batch scoring, {r['rows']:,} rows x 20 columns ({r['csv_mib']} MiB of CSV), {how} "
                         "(`bench/batch.py`)", f"{r['rows_per_s']:,} rows/s, {r['seconds']} s, peak {r['peak_rss_mib']} MiB",
                         "flat memory" if r["path"] in ("streamed", "tally") else "-", "-"))
    ai = load("ai_local")
    if ai:
        for r in ai["ocr"]:
            rows.append((f"Local OCR (`bench/ai_local.py`): {r['image']}", f"character errors {r['cer_plain']:.1%} read as it "
                         f"is, {r['cer_provider']:.1%} as the provider reads it ({r['read']}), {r['seconds']} s", "-", "-"))
        f, k, t = ai["faces"], ai["key_phrases"], ai["transcription"]
        rows.append((f"Local faces (Haar cascade): {f['image']}", f"{f['found']} found, {f['seconds'] * 1000:.0f} ms", "-", "-"))
        rows.append(("Local key phrases (YAKE), two sentences", f"{k['seconds'] * 1000:.0f} ms", "-", "-"))
        rows.append((f"Local transcription (pocketsphinx), {t['sentences']} sentences of {t['voice']}",
                     f"word error {t['wer_mean']} (min {t['wer_min']}, max {t['wer_max']}), "
                     f"{t['seconds_per_audio_second']} s per second of audio", "- (a draft)", "-"))
    demo = load("demo")
    if demo:
        rows.append(("`skyloop demo` wall time (fresh state)", f"{demo['median_s']} s", "< 60 s", ok(demo["within_budget"])))
    tr = load("training")
    if tr:
        for run in tr["runs"]:
            if "error" in run:
                rows.append((f"Training {run['rows']:,} x 20, 5-fold CV", "failed: " + " ".join(run["error"]), "-", "-"))
                continue
            family = run.get("family", "random_forest")
            label = {"random_forest": "RandomForest, 100 trees", "hist_gradient_boosting": "HistGradientBoosting"}[family]
            budget, verdict = "-", "-"
            if run["rows"] == 1_000_000 and family == "hist_gradient_boosting":
                budget = "<= 5 min and 2 GiB (default family), CV >= the forest's"
                forest = next((r for r in tr["runs"] if r.get("family", "random_forest") == "random_forest"
                               and r["rows"] == run["rows"] and "error" not in r), None)
                verdict = ok(run["seconds"] <= 300 and run["peak_rss_mib"] <= 2048
                             and (forest is None or run["cv_accuracy"] >= forest["cv_accuracy"]))
            mins = f" ({run['seconds'] / 60:.0f} min)" if run["seconds"] >= 600 else ""
            earlier = " (recorded earlier: 40 minutes is not rerun each time)" if run.get("recorded_earlier") else ""
            path = ", the managed-job path: above the in-function rule" if run.get("path") == "managed job" else ""
            rows.append((f"Training {run['rows']:,} rows x 20 columns, 5-fold CV + final fit ({label}{path})",
                         f"{run['seconds']} s{mins}, peak {run['peak_rss_mib']} MiB, CV accuracy {run['cv_accuracy']}"
                         + (" (*)" if run.get("note") else "") + earlier, budget, verdict))
            if run.get("note"):
                notes_extra.append(f"(*) {run['note']}.")
    pk = load("packages")
    if pk:
        for f in pk["functions"]:
            extra = " (no pandas, no scikit-learn)" if not (f["has_pandas"] or f["has_sklearn"]) else ""
            rows.append((f"Lambda package `{f['function']}` ({pk['platform']})", f"{f['unzipped_mb']} MB unzipped, "
                         f"{f['zip_mb']} MB zipped{extra}", f"< {pk['limit_mb']} MB", ok(f["unzipped_mb"] < pk["limit_mb"])))
    out += ["| measure | result | budget | verdict |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if machine:
        out += ["", f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, Python "
                    f"{machine['python']}, numpy {machine['numpy']}, scikit-learn {machine.get('scikit_learn', '-')}."]
    q = load("quality")
    if q:
        out += ["", "## Detection quality (`bench/quality.py`)", "",
                f"{q['series']} labelled synthetic series (7 days at 5 minutes; a third with 7 metrics), seed {q['seed']} "
                "(held out: tuning used seed 2026), anomalies: "
                + ", ".join(f"{k} {v}" for k, v in sorted(q["anomalies_by_kind"].items()))
                + ". NAB-style score: flagging nothing = 0, perfect = 100, each false-positive alarm costs "
                f"{q['fp_weight']}. All streaming detectors run through `score_one` from a cold start.", "",
                "| detector | score at 0.6 (MEDIUM) | TP / FN / FP alarms | best threshold | score at best | recall by kind at 0.6 |",
                "|---|---|---|---|---|---|"]
        for name, d in q["detectors"].items():
            c = d["counts_at_0.6"]
            kinds = ", ".join(f"{k} {v:.0%}" for k, v in d["recall_by_kind_at_0.6"].items())
            label = {"seed_iforest": "seed baseline: StandardScaler + IsolationForest(0.1), fit on all, predict"}.get(name, name)
            out.append(f"| {label} | {d['score_at_0.6']} | {c['tp']} / {c['fn']} / {c['fp']} | {d['best_threshold']} | "
                       f"{d['score_at_best']} | {kinds} |")
        real = q.get("real") or {}
        if real.get("detectors"):
            out += ["", "### Real CloudWatch metrics (`bench/realdata.py`)", "",
                    f"{real['files']} labelled series from the Numenta Anomaly Benchmark's realAWSCloudwatch "
                    f"({real['points']:,} points, {real['windows']} anomaly windows), read from `../shared/data/cloud-metrics` "
                    "(not copied into the repo), scored with NAB's standard profile: first detection per window weighted "
                    "by its position, a missed window -1, each detection outside the windows -0.11 (less right after a "
                    "window), 15% probation, one threshold for the set chosen to maximise it; nothing flagged = 0, "
                    "perfect = 100. Alert rate: incidents (runs of consecutive flags) per metric per day at MEDIUM "
                    "outside the windows; the budget is 0.5.", "",
                    "| detector | score (best threshold) | TP / FN / FP records | score at MEDIUM | alerts per metric per day at MEDIUM | records at MEDIUM or above |",
                    "|---|---|---|---|---|---|"]
            for name, d in real["detectors"].items():
                c = d["counts"]
                label = {"seed_iforest": "seed baseline (fit on all, predict)"}.get(name, name)
                best = (f"{d['score']} @ {d['threshold']}" if c["tp"] or c["fp"]
                        else f"{d['score']} (no threshold beats flagging nothing)")
                out.append(f"| {label} | {best} | {c['tp']} / {c['fn']} / {c['fp']} | "
                           f"{d['score_at_medium']} | {d['alerts_per_metric_day_at_medium']} | "
                           f"{d['share_at_medium_or_above']:.2%} |")
            bands = {n: d["bands_outside_windows"] for n, d in real["detectors"].items() if d.get("bands_outside_windows")}
            if bands:
                out += ["", "Severity calibration on the same records outside the labelled windows (after probation): "
                            "the share at or above each band, pooled, against the rarity it stands for; and MEDIUM per "
                            "metric (median, worst, and metrics where it is commoner than 1 in 1,000).", "",
                        "| detector | LOW (1e-2) | MEDIUM (1e-3) | HIGH (1e-4) | CRITICAL (1e-5) | MEDIUM per metric: median / worst | metrics above 1 in 1,000 |",
                        "|---|---|---|---|---|---|---|"]
                for name, b in bands.items():
                    out.append(f"| {name} | {b['low']:.2e} | {b['medium']:.2e} | {b['high']:.2e} | {b['critical']:.2e} | "
                               f"{b['medium_per_metric_median']:.2e} / {b['medium_per_metric_max']:.2e} | "
                               f"{b['metrics_above_1_in_1000']} of {b['metrics']} |")
        elif real.get("skipped"):
            out += ["", f"Real-data suite: skipped ({real['skipped']})."]
        out += planted_table(q.get("known_cause") or {}, "Incidents with a known cause (`bench/knowncause.py`)",
                             "generated series on the same base", 2027, "one or two operational incidents each")
        out += planted_table(q.get("weekly") or {}, "Demand with a weekly cycle (`bench/weekly.py`)",
                             "generated series of six weeks at 30 minutes (city demand, as NAB's nyc_taxi)", 2028,
                             "one or two incidents each after the third week")
        hab = q.get("habits") or {}
        if hab:
            names = list(next(iter(hab.values())))
            out += ["", "### Real metrics' habits (`bench/habits.py`)", "",
                    "One generated case per habit, ten days at 5 minutes with one planted event on day 8. Each cell: "
                    "MEDIUM incidents per day outside the event (day 1 is warm-up) / whether the event scored MEDIUM.", "",
                    "| detector | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
            for det, cells in hab.items():
                out.append(f"| {det} | " + " | ".join(f"{c['incidents_per_day']} / {'found' if c['event_found'] else 'missed'}"
                                                      for c in cells.values()) + " |")
    soak = load("soak")
    if soak:
        m, r = soak["metrics"], soak["remediation"]
        out += ["", "## Soak (`bench/soak.py`, not in CI)", "",
                f"{soak['records']:,} metric records (in {m['messages']:,} queue messages of MetricBatch events, 20 "
                f"services) and {soak['messages']:,} remediation requests, each stream with "
                f"{soak['poison_rate']:.0%} poison and {soak['duplicate_rate']:.0%} duplicates, through the local "
                "runtime's SQLite queues (`LocalRuntime.drain`, the twin of an SQS event source mapping).", "",
                "| stream | throughput | processed | dead-lettered | duplicates suppressed | duplicates applied | lost | left on queue | peak RSS |",
                "|---|---|---|---|---|---|---|---|---|",
                f"| metrics | {m['records_per_s']:,} records/s ({m['seconds']} s) | {m['processed']:,} | {m['dead_lettered']:,} | "
                f"{m['duplicates_suppressed']:,} | 0 (content-keyed) | {m['lost']} | {m['queue_left']} | {m['peak_rss_mib']} MiB |",
                f"| remediation | {r['messages_per_s']:,} messages/s ({r['seconds']} s) | {r['processed']:,} | "
                f"{r['dead_lettered']:,} | {r['duplicates_suppressed']:,} | {r['duplicates_applied']} | {r['lost']} | "
                f"{r['queue_left']} | {r['peak_rss_mib']} MiB |", "",
                f"Audit chain after the run: {r['audit_chain']}. {m['anomalies']} anomalies were found in the metric stream.",
                "The remediation peak RSS is the bench's own accounting (it loads all 200k audit entries to "
                "count duplicates applied), not the runtime's. Remediation slows as the run goes on because "
                "the soak lifts the rate limit to 10^9 per hour: the guardrail then counts 100k actions in "
                "its window for every message; with a real limit (default 10 per hour) that count is small. "
                "Before the remediation log was indexed (found by this soak) it scanned the whole log per message."]
    out += ["", "## Notes", "", NOTES] + [f"- {n}" for n in notes_extra]
    (HERE / "README.md").write_text("\n".join(out) + "\n")
    print((HERE / "README.md").read_text())


NOTES = """- Cold start, core import (**not met**, and not reachable with pydantic on the path): the detect
  path imports no pandas, scikit-learn, joblib or cloud SDK (asserted by a test). `import pydantic`
  alone is lazy; the first `BaseModel` pulls in the rest, and `import numpy; from pydantic import
  BaseModel` by itself is above 1.5x numpy (row above). Meeting 1.5x would take a detect path with
  no pydantic at all (msgspec or dataclasses for the metric events), while the handbook picks
  pydantic for schemas. Reported, not done.
- Cold start, the Lambda entry point (issue 15): 500 ms at the last measurement, of which the X-Ray
  SDK was about 250 ms (Powertools' Tracer imports it even when disabled, and its recorder builds a
  botocore client at import) and pydantic-settings about 100 ms (asyncio, python-dotenv, its CLI
  and secret sources). Now the SDK is loaded only when the template's `TracingMode` is `Active`
  (`functions/aws/common.py`; the traced figure is in the table), and settings are read by
  `skyloop/envsettings.py` on pydantic alone (held to pydantic-settings' behaviour by
  `tests/unit/test_envsettings.py`). The figure that counts is the built package, as Lambda runs
  it: CPython 3.13, nothing but the package on the path, and no bytecode cache it could write.
  Lambda's `/var/task` is read-only, and the packages shipped no `.pyc`: that init was 687 ms,
  compiling every module at every cold start. They now carry unchecked-hash `.pyc` files built for
  3.13. What remains is numpy (its own row), pydantic, Powertools' Logger and Metrics, and about 65 ms
  of Skyloop's modules (its pydantic models). This VM's speed moves by a third from hour to hour, so
  each run also times `import numpy` in the same interpreter.
- Throughput: the numpy scorer re-lays every tree as a complete binary tree and walks all
  trees for a chunk of rows per level with `take` gathers; exact parity comes from comparing
  float32 inputs with thresholds rounded down to float32 (see `skyloop/detection/forest.py`).
  The seed loop is timed on 200,000 rows and scaled linearly to 1,000,000. Chunks are 512 rows
  (issue 14's re-measurement): at 2,048 rows x 100 trees the per-level arrays left the core's
  cache on this VM and the scorer fell to 0.82-1.01x sklearn in three runs with no code change;
  at 256-512 rows it ran 1.30x (300k rows: 400k rows/s vs 285k at 2,048 and 310k for sklearn).
- Demo wall time: the three timed runs of the full bench (33.6 s) ran while this VM was slow
  (numpy's own import 95 ms instead of 79 ms in the same hour); run alone the figure is 28.0 s, and
  the demo of the session's starting commit (before issue 14's rollout steps, CAS idempotency and
  alias book) timed 28.1 and 28.6 s against 28.1 and 29.1 s for this commit, alternated on the same
  machine: no change beyond noise, and the earlier 26.7 s was a faster hour of the VM.
- Training: these numbers chose the default family (`auto`: gradient boosting from 5,000 rows, faster
  and at least as accurate at every size measured; the forest below, where both take seconds) and
  set the in-function size rule for a 3 GB, 15-minute function with a wide margin: boosting up to 32M
  cells (1.6M x 20, about 70 s and 1.8 GiB by the 1M run), the forest up to 4M cells (200k x 20),
  2M rows and 320 MiB of CSV. Above it a dataset goes to a managed training job with the same code
  (the 5M-row run above is that path, run here without a job), locally it is refused with that
  reason. Folds run one after another: each fit already uses both cores (OpenMP threads for boosting,
  `n_jobs=-1` for the forest), so parallel folds would only multiply the memory.
- Serving (the servers row): the serving image now loads a model as the local endpoint does, every
  model call on one thread (`ports/inference.single_threaded`). Before, a forest trained with
  `n_jobs=-1` started and tore down a joblib thread pool on every call, in each of the workers
  that already run one per core: 393 -> 995 requests/s and p50 78.6 -> 28.6 ms with 2 workers,
  404 -> 1,246 requests/s with one, same 32 clients and 2-row requests. The load test in
  `tests/integration/test_serving_image.py` went from 25.5 to 12.2 s here. A CI run had hung in
  that test (it never finished its first case); the load driver now ends by a deadline and the
  servers' stderr goes to a file instead of a pipe nobody read while they ran.
- Lambda packages: built by `python -m bench.packages` (infra/aws/package.py's build) with wheels for Lambda's platform (CPython 3.13),
  `.pyc` included (unchecked-hash: all modules for the four small packages, the imported ones for
  `train`); `train` uses the Lambda runtime's boto3 to stay under the limit; the others pin the boto3
  and botocore the moto tests ran with. pydantic-settings is gone from all five.
- Detection on real metrics (issue 13; the figures in this paragraph are from before issue 36's tail
  fit, which moved them, see below): **`default` is now `likelihood`**
  (`skyloop/detection/likelihood.py`): real **69.5** (24 of 30 windows, 26 false-positive records;
  68.9 at MEDIUM itself), generated **66.9** at the recorded seed 7 (best threshold 0.55; 64.0 at
  MEDIUM; 67.3 at the tuning seed 2026), 0.17 MEDIUM incidents per metric per day (budget 0.5),
  every habit event found, and `skyloop demo` finds, attributes and remediates all five incidents.
  Its p99 is within the 500 us budget by a thin margin (the median of five runs; single runs on
  this VM range about 445-550 us). What kept it from `default` until this pass, and what settled it:
  **a canary judged right after an incident it shared with production** passed with the fault
  alone, because the detector had learned it. The canary is now judged as Kayenta judges one, against
  production's records of the same minutes (`skyloop/detection/twosample.py`: Mann-Whitney and the
  Hodges-Lehmann shift with its 98% interval, beyond a 20% tolerance on the harmful side, window by
  window); nothing learned is involved, so a shared fault cancels out and a learned one still counts,
  and a low-traffic canary's noisier minutes are not taken for a fault (a healthy SageMaker canary at
  +4% latency scored z = +6 against the detector's production normal). **In `skyloop demo`** the
  connection-pool exhaustion (latency +200 ms) and the latency spike were missed, because the tail and
  the range had learned the CPU saturation's +150 ms hours before: an incident that remediation
  resolved (verification says the metric is back) is now forgotten by both, from a ledger of what
  they learned from it (kept until verification, or `hold_max` records after the incident; the
  benchmarks run no remediation, so they are unchanged). The memory leak (0.6 sigma a minute from
  minute 300) was missed because the shift channel judges nothing before it has seen five
  excursions: until then it judges against white noise with 2.5 times the average's noise (seed
  2026 best / real: without 62.7 / 69.7; at 2, 67.7 / 68.9; 2.5, 67.3 / 69.5; 3, 62.4 / 69.7; 3.5,
  61.7 / 69.7), and the leak is found 16 minutes in. Judging a young excursion at every new height,
  without the once-per-band rule, scored 3 points more on the generated suite, but a level change
  that stays then alarmed for a day (two unit tests failed), so it was dropped; so was holding a held
  metric at exactly LOW (an incident then needed a CRITICAL first record to count, and the demo's
  CPU saturation was found 25 minutes late). Earlier passes: latency within budget (the shift
  channel's seasonal reference is a time-of-day slot table, `skyloop/detection/timeofday.py`; the
  slow numpy calls went, with identical results); **holds**: an incident that lasts is held at LOW
  while the metric stays 3 of its former sigmas out (at most 36 records), held records do not widen
  the scale, the level it left is restored when it comes back, and the detect use-case carries an
  open incident on LOW rows, so an incident spanning detect batches keeps one id (held at MEDIUM,
  real fell to 61.9 at MEDIUM; the held departure out of the tail, to 33.3, out of the range, to
  27.5: on real metrics a departure that happened is likely to happen again); the shift channel
  judges after five excursions instead of ten. **The shift channel** (`skyloop/detection/excursions.py`):
  a short average (EWMA 0.05) of the residual against the metric's own slow level and against its
  time-of-day baseline, calibrated by its *excursions* (declustering, one peak
  per excursion, as extreme value theory treats dependent data): P = excursions per record x P(peak
  >= height), with the same peaks-over-threshold tail, judged only on new ground and reported again
  only a severity band (tenfold) rarer than what the metric already reported, up to CRITICAL. It
  finds the plateaus and drifts the point channel absorbs (real: 22 -> 24 windows, 33 -> 24 false
  positives; generated: drifts, level shifts and seasonal breaks on strongly seasonal series). On
  white noise it is conservative: 21 records at p <= 1e-3 in 50,000 where 50 are allowed (unit
  test). Steps, each on both suites (real / generated at seed 2026 / at seed 7): the same average
  calibrated per record, like the point channel, 61.1 / 39.9 (one excursion fills the histogram
  with its own records, so the next looks common); per excursion on the slow level only, 69.5 /
  52.3 / 52.1; adding the seasonal reference, 68.9 / 61.7 / 60.2; counting excursions per record
  at the excursions' own decay, 68.8 / 68.4 / 63.3; band escalation with a shared memory of what
  the metric reported (a unit change then raises one alarm, not eight), 68.9 / 69.4 / 65.5; ten
  excursions before any is judged (the fit's minimum) and the two references' factor of 2, which
  the counter-burst and heavy-tail habits needed, 70.4 / 59.2 / 60.8. Around that point every
  variation tried stayed above the bar (excursion memory 0.999-0.9998, average 0.05-0.1,
  threshold 2-2.5 sigma, warm-up 50-288: real 65.5-70.4, generated 57.8-68.8); a full Bonferroni
  factor of 3 instead of 2 scored 70.4 / 55.5 / 59.0.
  What each anchor gave: **HTM's anomaly likelihood** (nupic `anomaly_likelihood.py`: `P(score >= s)`
  of the averaged raw anomaly score under a Gaussian fitted to the score's own history) gave the
  central idea, judging a raw statistic by the distribution of that statistic on the same metric,
  and reporting rarity on a log scale; a Gaussian fit over-trusted heavy-tailed CloudWatch data, so
  the tail here is a decayed log-binned histogram. Past the z's it holds, a generalised Pareto tail
  is fitted by moments to the top 10% of it (peaks over threshold, the extreme-value step of
  streaming detectors such as SPOT; `skyloop/detection/tail.py`); it replaced an exponential tail
  hung on the largest z seen (real 60.8 -> 61.9). HTM's short-window average of the raw score is
  the ancestor of the shift channel, which averages the residual instead and calibrates the
  average by excursions rather than by records. **NAB's harness** hands every detector the file's
  `inputMin` / `inputMax` (look-ahead that HTM's and CAD OSE's encoders use); Skyloop may not, so
  its range test uses a running range relaxed toward the level instead, which was the single
  largest gain on the real set (43 -> 62 in exploration). **CAD OSE** (contexts of recently seen
  value bins, novelty = an unseen context) and **Skyline** (a consensus of simple tests, including
  "histogram bins": a value in a rarely filled bin) point the same way: novelty relative to what
  the metric has done. Skyline's vote became a minimum-p over the tests, which keeps the score a
  probability. **Twitter S-H-ESD** (STL seasonal decomposition, then a generalised ESD test on
  median/MAD residuals) gave the robust center and scale, and its seasonal step is what the
  shift channel's second reference supplies. **Random Cut Forest** scores are uncalibrated (users
  threshold them by their own running mean and deviation): the same lesson as HTM's, calibrate
  against the detector's own history. Tried and dropped in earlier passes (real / generated): an
  HTM-style average of the raw score, refractory scoring, a "same time yesterday" channel, Holt
  trend, calibrating the adaptive detector's CUSUM and variance tests, a de-seasonalised point
  channel (55.2 / 46.6), a persistent-departure channel re-levelled after 36 rare records (32.9 /
  44.1), flagged records learned at a tenth of the weight (54.8 / 45.6), range holding (44.7 /
  46.4), a shorter tail memory (59.5 / 43.4), and a consensus gate trusting the adaptive detector's
  verdict where it has been quiet (61.2 / 57.3, 53.6 at seed 7). The held-out real series are for the team to score again now that it is `default`.
- Detection ahead of the published leaders (issue 36, open). Measured outside the project, `default`
  scores 60.0 on the whole Numenta benchmark and 57.3 on its 41 held-out series. Their weakest kind
  is incidents with a known operational cause.
  - **A third suite** (`bench/knowncause.py`, recorded above, seed 11 held out, tuning on 2027)
    plants those causes on the generated base: a stuck sensor, a slow calibration drift, a thermal
    ramp before a failure, a fleet's CPU doubled in steps, a rogue client's key-hold plateaus, and
    latency surges on a heavy-tailed baseline. Before the tail fit below, `default` scored 63.5 at
    MEDIUM there (65.9 at its best threshold). It found every fleet step and latency surge and 92%
    of failures, but only 60% of stuck sensors, 44% of key holds and 14% of drifts inside their
    windows. With the tail fit it scores 72.5, and finds 80%, 56% and 43% of those three. A drift of 6-10 sigmas
    over one or two days is about 2 sigmas when the window closes, so it is found after the window.
  - **Severity is calibrated** on the real set (table above). Outside the labelled windows, MEDIUM
    or above is 4.5e-4 of records (meant: rarer than 1e-3) and HIGH is 5.9e-5 (meant 1e-4).
    CRITICAL is none of 51,279 records (meant 1e-5; before the tail fit it was 2.0e-5, twice
    that). Per metric, MEDIUM's median is 3.3e-4, and 1 of 17 metrics passes 1e-3: an EC2 disk's
    write bytes at 2.3e-3 (7 records, scattered bursts). Before the scale floor (below) that disk was
    at 3.6e-3 (11 records), an EC2 network-in at 2.0e-3 (7 records) and MEDIUM pooled 6.2e-4. LOW
    is 6.3% because an open incident is held at LOW while it lasts.
  - **Tries this pass** (known-cause at 2027 / synthetic at 2026 / real, best threshold; the
    baseline is 58.6 / 67.3 / 69.5, 68.9 at MEDIUM):
    - **A stuck-value channel:** `P(run >= k) = q1 * q2^(k-2)` from the metric's own decayed
      repeat rates. As first built it scored 58.7 / 67.1 / **33.8**, because idle disks' long runs of
      zeros were called stuck. Judging only values strictly inside the range reached (so a floor or
      ceiling is idle or saturated, not stuck) gave 58.7 / 67.1 / 68.0 (66.6 at MEDIUM, 0.24 alerts
      per metric per day). Dropped: +0.1 where it was aimed and -1.5 on the real set. The stuck
      sensors it missed were count metrics, which repeat anyway.
    - **CAD OSE's contexts:** the last 3 values in 6 or 8 bands of the range, with a decayed count
      per context. Calibrated per record like the point channel, it never spoke (identical scores):
      a novel context came once in about 100 records, so its surprise never passed the 99.9th
      percentile. Averaged and calibrated by excursions like the shift channel, it stayed within a
      point of the baseline on every suite and was never better on all three:
      | bands x order | known-cause / synthetic / real |
      |---|---|
      | 8 x 3 | 59.1 / 67.7 / 69.4 |
      | 5 x 3 | 57.8 / 65.9 / 69.2 |
      | 12 x 3 | 58.5 / 66.2 / 68.5 |
      | 8 x 2 | 57.3 / 65.1 / 68.8 |
      | 8 x 4 | 56.0 / 66.7 / 69.0 |
      | 16 x 2 | 59.9 / 65.2 / 68.9 |

      Dropped: it would cost 512 counts per metric of state.
    - What a key hold shows, record by record (seed 2027, series k01): the first plateau scores
      point 1.9e-2 and range 4.1e-3, which is LOW, and the shift channel says nothing (p = 1)
      through the next hour of plateaus. Its state says why:
      - The slow-level reference sits in one long excursion made by the daily cycle (height 6.6
        before the onset, a scale three times the point channel's).
      - The time-of-day reference does rise, from 0.1 to 9.1 noise units. But 600 records in it has
        closed only 2.8 (decayed) excursions, under the 5 it needs to calibrate. So it is judged as
        a young metric, against white noise at 2.5 times the spread: p = 2.7e-4.
      - That is not a band above the LOW the point channel already said (L 2.7), so it is not
        reported.
    - Letting the shift channel's silence depend only on what it said itself (not on any channel's
      report) gave 58.1 / 67.4 / 69.5 (69.0 at MEDIUM): neutral, dropped. Dropping the silence
      altogether gave 52.6 / 62.9 / 60.9: the rule earns its place. Counting a channel's earlier
      report only from 10^-2.5 (so a faint LOW no longer silences it) gave 59.2 / 67.0 / 69.7 (68.6
      at MEDIUM); only from MEDIUM, 58.5 / 67.4 / 69.3 (68.5). Both are within a point of the
      baseline on every suite, so the rule stays at LOW.
    - **How many excursions before the shift channel calibrates** (`excursions.MIN_PEAKS`, 5; the key
      hold's diagnosis). Before that many, an excursion is judged against white noise at 2.5 times
      the spread:

      | MIN_PEAKS | known-cause 2027 / synthetic 2026 / real (at MEDIUM) | held out: known-cause 11 / synthetic 7 at MEDIUM (best) |
      |---|---|---|
      | 2 | 65.4 / 68.7 / 68.2 (67.4, 0.21 alerts per metric per day) | - |
      | 3 | 62.0 / 68.8 / 68.9 (68.4) | 66.8 / 62.6 (64.3) |
      | 4 | 62.3 / 68.6 / 68.9 (68.5) | 66.2 / 62.6 (65.1) |
      | **5** | 58.6 / 67.3 / 69.5 (68.9) | 63.5 / 64.0 (66.9) |
      | 8 | 51.5 / 66.9 / 69.5 (68.9) | - |
      | 5 slow level, 3 time of day | 62.3 / 68.9 / 68.9 (68.4) | 66.8 / 62.7 (64.5) |
      | 3 slow level, 5 time of day | 58.4 / 67.1 / 69.5 (68.9) | 63.5 / 63.9 (66.4) |
      | 5, and from 4 the bolder of the young rule and the early fit (`shift_bold_from=4`) | 61.9 / 68.6 / 68.9 (68.5, 0.18 alerts) | 65.9 / 63.9 (66.4) |
      | 5, and the bolder from 3 | 61.5 / 68.1 / 68.9 (68.4) | 66.0 / 63.9 (65.6) |

      Calibrating after 3 or 4 excursions finds more known-cause incidents, held out too (+3). But
      the held-out synthetic suite loses 1.4 at MEDIUM and the real set 0.6. That is not "both
      improve or hold", so 5 stays. Per reference, the time-of-day reference does both the gain and
      the loss. The held-out synthetic loss is one window: a seasonal break (s21) the young rule
      found and the early fit does not. The real loss is three more false-positive records, on two
      CPU metrics, and no window. Judging a young excursion by the bolder of the two from 4
      excursions keeps the seasonal break: +3.3 / +1.3 on the tuning seeds, +2.4 / -0.1 held out,
      and still -0.6 on the real set (the same three records). It is the best trade measured, and
      it is **not** the default: the real set does not hold. It ships as a parameter,
      `make_detector("likelihood", shift_bold_from=4)`, so the team's outside NAB run can score it
      on the held-out series. Those series are where the known causes are, and no suite here can
      stand in for them. The two are traded through one knob: the young rule is
      conservative where the known causes need it bold, and the early fit is bold where the
      synthetic spikes need it conservative. No knob tried this pass moved all three suites
      together: the next gain needs a new kind of evidence, not a retuned one.
  - **The tail fit by probability-weighted moments: now the default** (`detection/tail.py`). The point
    channel and the shift channel both extrapolate past the data with a generalised Pareto tail.
    Its shape was fitted by moments, which cannot pass 0.5 (it needs a finite variance). So a
    burstier tail, like disk and network bytes, was called about ten times rarer than it is: at
    the true 1-in-10,000 point of a shape-0.7 Pareto, 9e-6 by moments against 5e-5 by
    probability-weighted moments (Hosking and Wallis). Moments also gave a tail lighter than
    exponential a scale of up to twice its mean excess; now it gets an exponential with its own
    mean excess. Same seeds as every try; baseline first, then the new default:

    | suite | at MEDIUM | at its best threshold |
    |---|---|---|
    | real (tuning set) | 68.9 -> 68.7 | 69.5 -> **72.0** (0.612 -> 0.637) |
    | known-cause, seed 11 (held out) | 63.5 -> **72.5** | 65.9 -> 72.6 |
    | synthetic, seed 7 (held out) | 64.0 -> 66.3 | 66.9 -> 66.3 |
    | known-cause, seed 2027 (tuning) | 58.6 -> 57.1 | 58.6 -> 59.7 |
    | synthetic, seed 2026 (tuning) | 67.3 -> 67.4 | 67.3 -> 67.4 |

    Where the real set gains: the best threshold now separates the bursty metrics' false
    positives (disk write bytes, network in: 26 -> 13 false-positive records) and keeps all 24
    windows. At 0.637 the old fit found 22 of them. At MEDIUM the real set holds within 0.2 (two
    more false-positive records), with 0.18 alerts per metric per day. Severity stays calibrated
    (table above). A hybrid was measured beside it: probability-weighted moments only where they
    gave a heavier shape, plain moments elsewhere. It scored real 71.2 (69.1 at MEDIUM),
    known-cause 58.0 / 64.4 and synthetic 67.3 / 64.0 at MEDIUM (tuning / held out). So most of
    the held-out gain comes from giving light tails their own scale. A cap on the shape of 0.7 or 0.8
    scored 70.2 and 71.1 on the real set, 0.95 72.0; the generated suites were equal.
    `shift_bold_from=4` on top of it keeps its trade: known-cause 60.3 / 74.9 and synthetic
    68.8 / 66.2 at MEDIUM (tuning / held out), real 71.8 (68.3 at MEDIUM, 0.19 alerts per metric
    per day). That is +3.2 / +2.4 on known-cause and -0.2 on the real set, so it stays a
    parameter for the outside run.
  - **Tries, second pass** (same suites and seeds, measured before the tail fit above, so against
    its baseline 58.6 / 67.3 / 69.5; the pattern and calm channels' code is commit 787c826, removed
    after; the others are a few lines each, described in full):
    - **ARTime's windows, a pattern channel.** Records in blocks of 6 (each block kept as its value
      farthest from the blocks' running mean, ARTime's rule), the last 8 blocks as a shape (min-max
      scaled, Haar transform) and a level (inside the range reached so far, not the series'
      future extremes, which ARTime reads from the benchmark). First with fuzzy ART, as ARTime
      has it: a flat window fell *inside* the noise category. Fuzzy learning moves a box's lower
      bounds to 0, and a flat window's shape is all zeros. Its novelty was 0.18, and the noise's
      own 99th percentile 0.20. Nearest prototypes by distance did a little better, 0.32 against
      0.31. Calibrated by its own novelty tail and scaled from windows to records, the channel's
      rarest windows did fall on incidents on the tuning series: a thermal failure 20 records in,
      two flatlines about 40 records in. But they were never rarer than 9e-4, so no MEDIUM moved:
      58.6 / 67.3 / 69.5 (blocks of 6) and 58.8 / 67.3 / 69.5 (blocks of 12). On these noisy
      metrics, the shape of a few hours is not news. ARTime's edge on NAB comes from series
      cleaner than these, and from the range it is given.
    - **A calm channel** (for stuck sensors): a block's spread (max - min) against the metric's usual
      block spread, in logs, one-sided, calibrated by its own histogram.

      | variant | known-cause 2027 at MEDIUM (best) / synthetic 2026 / real (at MEDIUM, alerts per metric per day) |
      |---|---|
      | blocks of 6, p scaled to records | 56.4 (60.4) / 64.6 / 66.7 (65.6, 0.27) |
      | blocks of 12, p scaled to records | 55.9 (61.5) / 64.2 / 67.6 (66.3, 0.25) |
      | blocks of 6, p per block | 59.1 (61.6) / 67.1 / 68.9 (68.0, 0.20) |
      | blocks of 12, p per block | 60.5 (61.5) / 66.8 / 68.9 (68.4, 0.19) |
      | same, a longer memory (0.999 a block) | 60.2 / 66.5 / 68.9 (68.4) |
      | same, judging from block 144 | 58.7 / 67.3 / 68.9 (68.4) |

      It finds stuck sensors (+1.9 on the known-cause suite), but the real set loses 0.6 in every
      variant. The cost is four false-positive records, two on an EC2 CPU metric and two on
      `grok_asg_anomaly`, whose calm stretches are not labelled. They are quantised, not flat
      (0.132-0.136 for an hour). Counting only exactly flat blocks, at the rate the metric has had
      them (a prior of half a block, scaled to records), spared the real set (69.5, 68.9 at MEDIUM,
      blocks of 12) and found nothing more: 58.1 / 67.3 (blocks of 6: 58.6 / 67.3 / 69.5, 68.7).
      The planted flatlines are exact, and 9 of 11 on the tuning seed were already found by the
      other channels, 5 to 78 records after the onset. The flat channel was first only twice, by
      one or two records: ~200 blocks without a flat one can only say "rarer than 1 in ~200
      blocks", which is at MEDIUM's edge.
      Dropped: the real set does not hold for the spread, and exactness adds nothing.
    - **A third shift reference, a long level** (an average over about 500 records, for the slow
      drifts the slow level follows): with the Bonferroni factor at 3 for three references,
      54.7 / 66.8 / 68.7 (68.7 at MEDIUM); at 2, 58.4 / 66.7 / 69.5 (68.9). Not kept, and not
      diagnosed further. A likely reason: the long level's residual carries the daily cycle, which
      widens its scale.
    - **The shift channel's silence, by band.** Besides a tenfold rise, letting a channel speak
      again whenever its rarity crosses into a higher band (the key hold's LOW that would have
      been MEDIUM): 57.8 (58.8 at its best) / 67.3 / 66.7. The real set lost 2.8. Not kept.
    - **A startup burst that sets the bar.** `iio_us-east-1_i-a2eb1cd9_NetworkIn` opens with a 60M
      burst in its first 10 records. The range channel keeps that bar for thousands of records, and
      the file's two windows go unfound. Letting the range relax at 1/(n+2) per record for its
      first 50 records gave 56.5 / 66.1 / 69.3 (68.7 at MEDIUM); for its first 200, 48.3 / 61.2 /
      69.1. The narrower range after warm-up costs false positives everywhere, and the two windows
      were still not found. Not kept.
  - **The outside run, made one command** (`bench/nab.py`): it runs any detector over a NAB checkout
    from a cold start and writes NAB's results layout, so NAB's own scorer judges it. It also prints
    this project's reading: the corpus, the tuning series and the held-out rest. On the 17 tuning
    series laid out as a checkout it reads 69.5 (68.9 at MEDIUM), the figure above.

    Why NAB's scorer said 67.7 on the same 17: its optimiser picks one threshold for all 58 files,
    not for these 17. Here the 17 score 69.5 at 0.612 but 62.1 at 0.65, so a corpus threshold a
    little above 0.612 accounts for the gap. That is inferred, not checked (the corpus threshold is
    not known here). NAB's other differences change nothing measurable here: it divides a true
    positive's weight by the earliest one's, and counts a perfect window as 1.0.
  - **A weekly reference, and a fourth suite to judge it** (`bench/weekly.py`, recorded above). NAB's
    known-cause series include city demand (nyc_taxi), whose incidents are days that break the
    week's habit. No suite here could judge that: every generated series lasts a week. The new
    suite generates six weeks of 30-minute demand (a weekday and a weekend profile, a wandering
    level, counts) and plants, after week three, a holiday (a weekday that follows the weekend's
    shape), an event night (late hours at 1.5-2.5x), a storm (20-50% for 12-36 hours) and a busy
    weekend (a Saturday on the weekday profile). Against yesterday every Saturday is unlike its
    Friday, so the time-of-day reference learns that such days are common: `default` scored 7.3
    at MEDIUM there (tuning seed 2028), and found no holiday and no storm.
    - **Now the default:** a time-of-week table (336 half-hour slots, `timeofday.TimeOfDay` with a
      week's period) stands in for the time-of-day one, per metric, where its recent fit (a mean
      absolute residual over ~500 records) is better by `week_margin` (0.5). One reference is
      judged at a time, so the Bonferroni factor stays 2. Where it is the reference, the size of
      its residual is judged too (the shape statistic, below). Measured (baseline -> the week's
      table alone -> with the shape statistic, the new default):

      | suite | at MEDIUM | at its best threshold |
      |---|---|---|
      | weekly, seed 2028 (tuning) | 7.3 -> 47.8 -> **63.2** | 33.0 -> 68.2 -> 72.0 |
      | weekly, seed 13 (held out) | 7.1 -> 45.6 -> **59.6** | 26.6 -> 60.8 -> 71.5 |
      | real (tuning set) | 68.7 -> 68.7 -> 68.7 | 72.0 -> 72.0 -> 72.0 (the same records) |
      | known-cause and synthetic, both seeds | unchanged | unchanged (a week of data: the table is never ready) |

      Held out, the storms found go from 4 of 19 to 14, the holidays from 0 of 15 to 10, the busy
      weekends from 0 of 11 to 7. On the same base with no incident (36 series, seed 99, from the
      third week) it stays calibrated: MEDIUM or above on 3.3e-4 of records, HIGH on 2.1e-5, 0.016
      incidents per metric per day (before: none at all).
    - **The shape statistic** (a third row in the shift channel's excursions): the seasonal
      residual's size, `(min(|z|, 4) - 0.798) / 0.603` (a unit normal's mean and sd of that size),
      averaged over ~50 records (weight 0.02) and judged upward only. The references' rows average
      the signed residual, and a holiday is quieter than last week at the rush hours and busier at
      noon: the average cancels, the size does not. Variants (weekly tuning 2028 / held out 13 at
      MEDIUM (best); known-cause 2027 / 11 and synthetic 2026 / 7 at MEDIUM; real best (MEDIUM)):

      | variant | weekly | known-cause | synthetic | real |
      |---|---|---|---|---|
      | none (the week's table alone) | 47.8 (68.2) / 45.6 (60.8) | 57.1 / 72.5 | 67.4 / 66.3 | 72.0 (68.7) |
      | on every seasonal reference, weight 0.05, factor 2 | 69.2 (77.4) / - | 61.4 / 71.7 | 69.4 / 66.9 | 71.5 (67.8) |
      | the same, factor 3 | 66.2 (71.3) / - | 57.8 / - | 70.7 / - | 70.7 (68.5) |
      | on every seasonal reference, weight 0.02 (`shape="always"`) | 67.6 (74.4) / 58.4 (66.8) | 57.6 / 71.4 | 70.6 / 67.1 | 72.0 (68.9, 0.17 alerts) |
      | **where the week's table is the reference (default)** | 63.2 (72.0) / 59.6 (71.5) | 57.1 / 72.5 | 67.4 / 66.3 | 72.0 (68.7) |
      | the same, learning only from the week's takeover | 63.3 (72.3) / 68.4 (72.2) | = | = | 71.7 (68.1) |

      On every seasonal reference it gains 3.2 / 0.8 on the synthetic suite (variance bursts,
      seasonal breaks) and holds the real set, but the known-cause suite loses 1.1 held out: three
      false alarms the day after a machine failure, whose hours the day's table had half learned
      (at a tenth of its rate). So it is the default only where the week's table is the reference,
      which changes no other suite, and `make_detector("likelihood", shape="always")` is the
      variant for the outside run to score beside it. Learning only from the week's takeover saves
      ~4 us a record but judges a young statistic boldly: the real set lost 0.6.
    - **The margin:** at 0.6-0.8 the weekly suite gains up to 2.6 more at MEDIUM (one busy
      weekend), but the real set loses 1-2 false-positive records at MEDIUM (68.5-68.6): its two-week
      series let the week's table fit a few flat metrics about as well as the day's. At 0.5 the
      real set is record for record the same.
    - **The week's slot rate:** a slot is met once a week, so at the day's rate (0.5) one noisy week
      is half the reference. 0.3 scored 47.8 / 68.2 (tuning, MEDIUM / best) against 42.6 / 64.7 at
      0.5 and 44.8 / 65.1 at 0.2; held out, 45.6 / 60.8 against 41.1 / 57.0 at 0.5.
    - **Not kept: separate excursion statistics for the week's table** (a third row in the shift
      channel, judged only where the week is chosen): 35.0 / 56.8 on the tuning seed, against
      42.6 / 64.7 sharing the time-of-day row, with four times the false alarms (16 against 4).
      The week's own row is young when it is first chosen, and the young rule is bold.
    - **Not kept: a relative residual for the week's table** (the residual over the slot's own level,
      floored at 10-30% of the table's mean, so a night that doubles counts as much as a rush hour
      that doubles): 48.4 / 66.3 on the tuning seed against 47.8 / 68.2. It found more busy weekends
      (7 of 12 against 4) and fewer holidays (3 of 14 against 7).
    - **Budgets:** p50 209.6 -> 234.1 us and p99 385 -> 394 us for 7 metrics (median of five runs;
      budget 500). That run lasts 3.5 days, so a new row times a detector's second week (5-minute
      records, four metrics halved at weekends): p50 263.5 us, p99 423 us, where the same stream
      without the week's table and the shape statistic takes ~240 / ~400 us. The week's table
      learns on every record for every metric, so its cost is paid by all; three changes keep it
      small: the slot tables' common record uses scalar rates, the week's residual is computed
      only where its fit could win, and the excursions fit their tail only where a p is asked.
      State: 6.9 -> 12.9 kB per added metric (the week's 336 x 2 + 3 values, the shape row),
      100.7 kB for 7 metrics, still one DynamoDB item. Older states load: the week's table and the
      shape row start fresh, the day's fit starts from its recent scale.
    - **Not kept: hysteresis for the choice** (the week's table, once chosen, kept until its fit is
      worse than 0.7 of the day's): 50.5 / 49.9 on the weekly suite at MEDIUM, but the real set lost a
      record (68.6 at MEDIUM). Measured before the shape statistic.
    - **What is still missed:** event nights (2 of 11 held out): a night whose late hours double is
      a small residual beside the busy hours' spread, which sets the scale.
  - **A young average judged by its measured spread** (now the default; `shift_young`, 1.5). On a
    metric with a daily cycle, the time-of-day row closes only a few excursions a day once its table
    fills, so for a day or more it is judged by the young rule, which assumes an average that may
    wander 2.5 times as far as white noise's. A rogue client's first plateaus (3-5 sigmas for 30-75
    minutes, known-cause tuning seed) reached LOW only: on `k01`, the time-of-day average climbed to
    9 noise units, a p of 3e-4 against the 2.5 rule, while that row's average had wandered like
    white noise (root mean square height 1.1). Each row now keeps the mean square of its average's
    height over the records where its reference had a say, and once it has 100 of them the young
    rule takes 1.5 times its root, at least 1.5 and never more than 2.5. The slow level's row on
    the same metric wanders with the cycle (4.6) and keeps 2.5. State: 2 values per row and metric;
    older states load and measure afresh. Measured (known-cause 2027 / 11, synthetic 2026 / 7 at
    MEDIUM (best); real best (MEDIUM, alerts); weekly 2028 / 13 at MEDIUM (best)):

    | young rule | known-cause | synthetic | real | weekly |
    |---|---|---|---|---|
    | 2.5 always (before) | 57.1 (59.7) / 72.5 (72.6) | 67.4 / 66.3 | 72.0 (68.7, 0.18) | 63.2 (72.0) / 59.6 (71.5) |
    | **measured: 1.5 x rms, floor 1.5 (default)** | **59.9 (62.5) / 72.5 (72.7)** | 67.3 / 66.3 | 72.0 (68.7, 0.18) | 63.2 (72.0) / 59.6 (71.5) |
    | measured: 1.3 x rms, floor 1.2 | 62.6 (65.2) / 73.3 (73.3) | 67.3 / 66.3 | 71.8 (68.3, 0.19) | - |
    | measured: 1.3 x rms, floor 1.3 (`shift_young=1.3`) | 62.6 (65.2) / 73.3 (73.3) | 67.3 / 66.3 | 71.8 (68.3, 0.19) | 63.2 (72.0) / 59.6 (71.5) |

    The bolder setting gains more on both known-cause seeds but costs the real set 0.2 (0.4 at
    MEDIUM), the set closest to NAB, so the default is the setting that holds every suite, and
    `make_detector("likelihood", shift_young=1.3)` is a variant for the outside run to score.
    1.3 on the time-of-day rows only (1.5 on the slow level's) scored the same on the known-cause
    and synthetic suites (both seeds) and the real set: the real set's loss is on that row too.
    Budgets: p50 234.1 -> 243.9 us and p99 394 -> 398 us for 7 metrics; in the second week
    263.5 / 423 -> 270.3 / 436 us; state 100.7 -> 101.6 kB for 7 metrics.
  - **Not kept: a de-seasonalised point predictor chosen by fit.** Where the time-of-day table has
    a say, the point channel's residual against the slot plus a fast offset (an EWMA of `x - slot`
    at the level's rate), used per metric where its recent mean absolute residual is below a margin
    times the fast level's (the fast level lags a strong cycle by ~0.2 of its amplitude, which widens
    the scale a spike is judged on). Margin 0.6: known-cause 59.2 / 70.8 (-1.7 held out), synthetic
    67.2 / 65.9, real 72.0 (69.1), weekly 62.6 / 59.7. Margin 0.8: 56.5 / -, 68.3 / -, 72.0 (68.9),
    62.9 / -. Margin 1.0: 56.8, 67.1, 72.2 (68.9). It loses held out what it gains tuning. The
    synthetic suite's missed spikes (5 of 15) are mostly 3-5 local sigmas once heavy tails and the
    Bonferroni factor of a 7-metric row are counted, not a lagging level.
  - **Not kept: a robust scale for the seasonal tables.** Traced on a storm (weekly tuning seed,
    `w00`): demand halves, the week's table calls it -10 sigmas, and its scale (a mean absolute
    residual at rate 0.02) grows from 113 to 420 in 15 records, so the residual is -1 sigma while
    demand is still down; the average peaked at p 1.7e-3, LOW. Tries (weekly 2028 / 13 at MEDIUM
    (best); before: 63.2 (72.0) / 59.6 (71.5), known-cause 59.9 (62.5) / 72.5 (72.7), synthetic
    67.3 / 66.3, real 72.0 (68.7, 0.18)):

    | scale rule | weekly | other suites |
    |---|---|---|
    | each residual clipped at 3 x the scale (a Huber-type update), both tables | 68.8 (72.1) / 65.8 (70.6) | known-cause 60.7 (61.7) / 73.0 (75.3), synthetic 67.9 / 63.1, real 68.2 (66.1, 0.26) |
    | clipped at 4 / 2.5 / 2 | 65.6 (70.2) / 63.4 (69.1); 63.4 (69.4) / 64.3 (68.6); 56.9 (62.2) / 60.1 (66.2) | - |
    | clipped at 3, the week's table only | 66.2 (71.1) / 62.7 (71.3) | known-cause 2027 the same, real 70.7 (66.3, 0.25) |
    | the same, the shape statistic on the unclipped scale | 63.7 (70.9) / 59.8 (71.4) | real 71.6 (67.6, 0.21) |
    | clipped at 3 only while the time-of-day average is in an open excursion | 64.0 (69.0) / 64.1 (70.6) | real 70.6 (68.0, 0.20) |
    | a tenth of the rate while a departure is reported (LOW / MEDIUM) | 56.5 (63.9) / 58.1 (64.6); 60.6 (68.5) / 59.0 (65.0) | - |
    | the slot too, as a hot record's (LOW / MEDIUM) | 62.9 (68.3) / 52.4 (59.9); 61.0 (70.4) / 59.2 (70.9) | - |
    | the week's scale at a quarter of the rate (0.005) | 63.9 (69.4) / 58.0 (61.3) | real 71.6 (67.8, 0.21) |
    | clipped at 3, both tables, and the shape statistic centred on its own running mean and sd (rate 0.002) | 64.9 (71.3) / 62.0 (69.9) | real 68.2 (66.3, 0.26); the centring alone: real 71.6 (67.8, 0.21) |
    | clipped at 3, the week's table only, on top of the scale floor (below) | 66.2 (71.1) / 62.7 (71.3) | real 71.0 (68.1, 0.19) against 72.0 (69.9, 0.13) |
    | the same, and the shape statistic centred on its own running mean and sd | 65.0 (72.2) / 60.3 (70.4) | real 70.9 (68.2, 0.18) |

    The clip finds storms and event nights (+5.6 / +6.2 at MEDIUM), but on heavy-tailed real metrics
    a clipped scale is too narrow: false-positive records 13 -> 47. With the shape statistic off,
    the week-only clip costs the real set nothing (71.6 with or without it), and judged on the
    unclipped scale the weekly gain goes too: both the gain and the loss pass through the shape
    statistic, which assumes a unit normal's mean size. Damping instead of clipping keeps the slot
    learning an incident the scale does not, and the next week's normal day is then a false alarm.
  - **A floor under the point channel's scale** (now the default; `scale_floor`, 0.3). Traced on a
    stuck sensor's recovery (known-cause tuning seed, `k13`): after 100 records stuck at one value
    the point channel's scale (a mean absolute residual with ~50 records of memory) had shrunk to
    almost nothing, and the first value back inside the metric's usual noise scored p = 5e-14
    (0.963). Bursty real metrics do the same, less visibly: an idle hour on an EC2 disk's write bytes
    shrinks the scale, and its next ordinary burst is news. The scale a value is judged on is now
    never below `scale_floor` times a long-run scale: the same mean absolute residual over the same
    records (held ones excluded) at rate 0.002, ~500 records of memory. When a disorder is forgotten
    it is capped at the scale before the disorder. One value per metric; older states load with the
    recent scale standing in. Measured (known-cause 2027 / 11, synthetic 2026 / 7 at MEDIUM (best);
    real best (MEDIUM, alerts per metric per day); weekly 2028 / 13 at MEDIUM (best)):

    | floor | known-cause | synthetic | real | weekly |
    |---|---|---|---|---|
    | none (before) | 59.9 (62.5) / 72.5 (72.7) | 67.3 / 66.3 | 72.0 (68.7, 0.18) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.2 | 59.7 (62.5) / 72.5 (72.7) | 67.3 / 66.3 | 71.6 (69.5, 0.15) | 63.2 (72.0) / 59.6 (71.5) |
    | **0.3 (default)** | **60.2 (63.4) / 72.4 (72.7)** | 67.3 / 66.3 | **72.0 (69.9, 0.13)** | 63.2 (72.0) / 59.6 (71.5) |
    | 0.4 | 60.3 (63.2) / 72.4 (72.7) | 67.3 / 66.3 | 72.0 (70.1, 0.12) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.5 | 60.0 (63.1) / 72.4 (72.5) | 67.3 / 66.3 | 69.9 (67.2, 0.11) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.3, long scale at rate 0.001 | 60.2 (62.9) / 72.4 (72.7) | 67.3 / 66.3 | 69.7 (66.9, 0.12) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.3, long scale at rate 0.005 | 59.7 (62.6) / 72.5 (72.7) | 67.3 / 66.3 | 71.8 (69.5, 0.15) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.3, long scale averaging the short one instead of the residuals | 60.0 (63.1) / 72.4 (72.7) | 67.3 / 66.3 | 71.4 (69.6, 0.14) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.3, and the same floor on the slow level's scale (shift channel) | 59.7 (62.6) / 72.4 (72.7) | 67.3 / 66.3 | 68.7 (66.6, 0.13) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.3, and a floor of 0.2 on the time-of-day and week tables' scales | 60.2 (63.4) / 72.4 (72.7) | 67.3 / 66.3 | 72.0 (69.7, 0.14) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.3, and 0.3 on the tables | 60.6 (63.8) / 72.4 (72.7) | 67.3 / 66.3 | 72.0 (70.1, 0.12) | 63.2 (72.0) / 59.6 (71.5) |
    | 0.3, and 0.4 on the tables | 60.2 (63.4) / 72.4 (72.7) | 67.3 / 66.3 | 72.0 (69.7, 0.13) | 62.9 (71.5) / 59.7 (71.5) |
    | 0.3, and 0.5 on the tables | 61.0 (64.2) / 72.4 (72.7) | 67.3 / 66.3 | 69.3 (66.6, 0.14) | 63.0 (70.4) / 59.0 (72.4) |

    - Where the real set gains: false-positive records at MEDIUM fall on the bursty metrics, from 11 to 7
      (disk write bytes `c0d644`), 3 to 2 (disk write bytes `1ef3de`) and 7 to 3 (network in
      `5abac7`, whose first window also rises from 0.659 to 0.884). It keeps all 24 windows.
    - The habits table's counter with bursts goes from 0.56 to 0.22 incidents per day. A planted
      burst five times the usual one is still found, in 12 of 12 seeds in the unit test, where the
      floor cuts the alarms on the usual bursts from 28 to 6.
    - The known-cause held-out seed has one more false alarm: a record at 0.612 after a thermal
      failure (-0.1). On the tuning seed, two of the 19 alarms after a stuck sensor's recovery go. The
      others stay: the sensor comes back at another point of its daily cycle, which is a real move.
    - Why 0.3 and not 0.4: 0.4 scores 0.2 more on the real set at MEDIUM, but at 0.5 a window
      is lost (disk write bytes `c0d644`'s second, which falls to 0.600). 0.3 keeps a margin from
      that edge. A long scale at rate 0.001, and the floor on the slow level's scale, each lose a real window.
    - Keeping a stuck value out of the scales too (a record that repeats the last value exactly, on a
      metric that repeats less than 5% of the time): 59.9 (62.6) / 72.4 (72.7), 67.3 / 66.7, real 71.8
      (69.9, 0.13), weekly the same. The alarms after a stuck sensor's recovery stay: they come from
      the level, which followed the stuck value while the daily cycle moved on, not from the scale.
    - A floor on the seasonal tables' scales too moves a record or two either way (0.3 is the best of
      four, and its neighbours are not), and 0.5 loses a real window: not kept, since it would take two
      more values per metric.
    - The variants for the outside run, measured again on top of the floor:

      | variant | known-cause | synthetic | real | weekly |
      |---|---|---|---|---|
      | `shift_bold_from=4` | 60.7 (63.1) / 74.8 (75.1) | 68.8 / 66.2 | 72.0 (69.5, 0.14) | 65.6 (73.3) / 59.3 (70.8) |
      | `shift_young=1.3` | 62.9 (66.1) / 73.2 (73.2) | 67.3 / 66.3 | 71.6 (69.5, 0.14) | 63.2 (72.0) / 59.6 (71.5) |
      | both | 63.4 (65.9) / 74.6 (74.6) | 68.7 / 66.2 | 71.4 (69.2, 0.15) | 65.6 (73.3) / 59.3 (70.8) |

      With the floor, `shift_bold_from=4` no longer costs the real set at its best threshold (before it,
      71.8 against 72.0). It still scores 0.4 less at MEDIUM, and the held-out synthetic and weekly seeds
      lose 0.1 and 0.3 (a false alarm each). So it stays a variant. It is the one to score outside first:
      +2.4 on the held-out known-cause seed.
      On the two fresh seeds it gains on known-cause again (64.4 -> 65.7, 68.9 -> 70.0), the synthetic
      suite is the same at MEDIUM (57.1, 68.2), and the weekly suite holds on one seed (55.2) and loses
      2.0 on the other (66.3 -> 64.3, four more false alarms).
    - On two seeds nobody had looked at (99 and 123, run once, after the choice): known-cause 63.7 ->
      64.4 (four false alarms fewer) and 68.9 -> 68.9 at MEDIUM; the synthetic (57.1, 68.2) and weekly
      (55.2, 66.3) suites score the same with and without the floor.
    - Severity on the real set is better calibrated: MEDIUM pooled 6.2e-4 -> 4.5e-4 of records, and one
      metric passes 1 in 1,000 instead of two (table above).
    - Budgets: one value per metric of state (101.6 -> 101.9 kB for 7 metrics). Latency, alternated with
      the commit before in the same (slow) hour: p50 / p99 for 7 metrics 242-244 / 410-434 us before,
      247-248 / 430-432 us with the floor; in the second week 270 / 442-454 before, 273-290 / 446-534
      with it (this VM's p99 moves by 100 us from run to run). The recorded run is in the table.
  - **A young metric's range judged on a wider scale** (now the default; `range_young`, 288 records).
    Traced on the known-cause tuning seed: 20 of its 68 false alarms fell before any window, most in
    a metric's first day, and most from the range channel. A count that had read only 12 and 13 for
    57 records read 14 (p 1.6e-6, score 0.906); a heavy-tailed latency's first big value came at record
    81 (5e-8). The range channel calls the excess past [lo, hi] exponential on `range_tau` times the
    range's span, and a range drawn from a few dozen records is narrower than the metric's, by how much
    its tail does not say yet. While `neff` (the decayed record count) is below `range_young`, the
    first span of excess is now judged on `range_tau * range_young / neff`, 5 times wider at the
    warmup's 50 records and the usual scale from a day of 5-minute records, and the rest of the
    excess on the usual scale. No state; a saved state's metrics keep their `neff`. Measured
    (columns as in the floor's table below):

    | range rule while young | known-cause | synthetic | real | weekly |
    |---|---|---|---|---|
    | as always (before) | 60.2 (63.4) / 72.4 (72.7) | 67.3 / 66.3 | 72.0 (69.9, 0.13) | 63.2 (72.0) / 59.6 (71.5) |
    | silent for 144 records | 63.0 (66.2) / 73.6 (73.9) | 68.4 / 67.0 (67.1) | 72.0 (69.9, 0.13) | the same |
    | silent for 288 records | 64.6 (67.4) / 74.4 (75.2) | 68.5 / 67.1 (67.7) | 71.8 (69.9, 0.13) | the same |
    | scale x 144 / n | 61.9 (65.7) / 73.3 (73.9) | 67.9 / 67.0 | 72.0 (69.9, 0.13) | the same |
    | scale x 288 / n, the whole excess | 63.7 (66.6) / 74.2 (74.7) | 68.2 (68.4) / 67.1 (67.5) | 71.8 (69.9, 0.13) | the same |
    | **scale x 288 / n, the first span (default)** | **63.6 (66.5) / 74.2 (74.7)** | **68.2 (68.4) / 67.1 (67.5)** | 71.8 (69.9, 0.13) | the same |
    | scale x 576 / n | 64.2 (67.5) / 74.7 (75.2) | 68.4 / 64.1 (68.6) | 71.8 (69.9, 0.13) | 63.0 (71.8) / 60.0 (71.5) |
    | scale x sqrt(576 / n) | 63.6 (67.2) / 74.4 (74.8) | 67.3 (68.4) / 64.0 (67.8) | 71.8 (69.9, 0.13) | 63.2 (72.0) / 60.0 (71.5) |

    - False alarms at MEDIUM: known-cause 68 -> 54 and 41 -> 35, synthetic 20 -> 15 and 21 -> 14; every
      window found before is found. The weekly suite does not move.
    - Why the first span only: judged on the wide scale throughout, a CPU saturation on a service
      two hours old (three metrics, 18 sigmas) scored 0.870 where it had scored 0.951. That is HIGH,
      not CRITICAL, and the detect use-case acts on one record only when it is CRITICAL (the hold
      keeps the rest at LOW): tests/unit/test_verification.py lost its incident. A range drawn from
      few records can be about twice too narrow, not ten times; past the first span the excess is
      judged as always, and the saturation scores 0.932. The generated suites barely tell the two
      apart (one false alarm).
    - Why not silence the range channel while young, which scores a little more on the generated
      suites: then the point channel judges a young metric alone, and its young tail is cautious. A CPU
      at 95 % (18 sigmas) on a service two hours old scored 0.347 (tests/unit/test_detect_usecase.py
      fails). Past 288 (576, or a square root's
      slower approach) the held-out synthetic seed loses two windows: their anomalies start at record
      504, where those rules still widen the scale.
    - The real set: MEDIUM the same (69.9, 0.129 alerts per metric per day, the same counts and
      bands); at its best threshold 72.0 -> 71.8, the threshold moving from 0.640 to 0.637 with one
      more false-positive record. Only two files' scores move after probation, by at most 0.003
      (`ec2_cpu_utilization_53ea38`, `elb_request_count_8c0756`: what the shift channel learned in
      their first day). Its files' first 15% is probation, as in NAB, so a first day's change
      reaches the score only through what the channels learn from it. That is why the generated suites,
      scored from their first record, gain and the real set and NAB should not move: this is for a
      metric that was just onboarded, which pages its on-call in its first hours.
    - On seeds nobody had looked at (99 and 123, run once, after the choice): known-cause 64.4 -> 65.7 and
      68.9 -> 69.4, synthetic 57.1 -> 57.3 and 68.2 -> 69.4, weekly the same (55.2, 66.3). (The whole
      excess on the wide scale: 65.9 and 69.4, the rest the same.)
    - The habits table and `bench/garbage.py` are unchanged. The unit test (12 seeds of a young count
      and a young t(2) latency): 16 alarms in the first day before, 4 with it, the same after the
      first day; a spike 50 sigmas up on the count at record 150 is found in 12 of 12, and 400 on the
      latency in 11 of 12 (the twelfth had already read 290); the three-metric saturation is CRITICAL
      on six seeds (on the wide scale throughout, seed 0 was not).
    - Budgets: no new state. The range channel now returns at once when every metric is inside its
      range, the common record: 4.6 us for 7 metrics instead of 7.4-8.0, and 12 us when one is outside.
      Latency is not recorded again this pass: the VM ran 1.5-2 times slower than at the recording
      (adaptive's p99 211-281 us against 141 recorded). Alternated with the commit before in the same
      hour, p50 / p99 for 7 metrics: 303-379 / 676-679 us before, 293-346 / 672-755 after; in the
      second week 479-524 / 870-942 before, 359-418 / 672-785 after. The quietest run after: 247.0 /
      609 us, second week 305 / 754. The table keeps the recorded run (commit 0db07e4), whose code
      differs from this one only in this channel.
    - Found on the way, in the detect use case: an incident needed two MEDIUM rows or one CRITICAL,
      and the hold keeps a lasting departure at LOW after its first record. So a CPU 8 sigmas up for
      half an hour on a service five hours old, HIGH at its first record (0.848), opened no incident,
      while +20 (0.702), which the shift channel escalated a band, did; a saturation scoring 0.870
      would have been lost the same way. A MEDIUM row that stays at least LOW for
      `min_incident_rows` rows after it is now sustained too (`detection/incidents.py`); a HIGH
      one-record spike is still not an incident. `skyloop demo` tells the same story. Counted as the
      use case counts incidents (merge gap 3, two rows, MEDIUM): labelled windows opened as an
      incident, real set (after probation) 10 -> 15 of 30, with false incidents 1 -> 11 over 200
      metric-days (0.055 a metric a day); known-cause tuning seed 28 -> 32 of 53 (false 14 -> 15);
      synthetic tuning seed 35 -> 40 of 72 (false 1 -> 1).
  - **Not kept (same pass), each against the row "as always" above:**
    - The band rule of the shift channel (a reported excursion is judged again only when its rarity
      grows tenfold) keeps drifts at 0.53-0.58: reported at LOW, the next band needs ten times more.
      Escalating every half band: known-cause 58.3 / 71.3, synthetic 66.6 / 65.9, weekly 64.5 (69.0) /
      62.6 (64.5), real 69.6 (66.5, 0.20), false alarms up on every suite. Escalating when the row's
      final score crosses a severity band (the band rule in the score's units, offset by the
      Bonferroni factors): known-cause 63.5 / 72.4, synthetic 66.8 / 65.6, weekly 61.1 (66.1) / 63.5
      (69.3), real 70.2 (69.1, 0.16). Neither moved the synthetic suite's drift recall (0.35 / 0.53).
    - Why the drifts stay quiet, traced (synthetic `s19`, drift at 1404): the time-of-day table's scale
      grows from 9.9 to 17.6 within 60 records as the drift grows, and a level shift 1.9 days earlier
      is still a quarter in the table. Two tries at the second: the time-of-day table relative to the
      slow level (x - slow) lost 8-14 points on the known-cause and synthetic suites (the slow level
      absorbs the drifts and shifts the reference is there to see); shifting both tables by the level
      change when a hold runs out (a level change confirmed): known-cause 61.7 (64.8) / 72.1, synthetic
      67.4 / 64.9 (a window lost), weekly the same, real 72.0 (69.7, 0.14).
    - A stuck sensor's recovery (17 of the known-cause tuning seed's false alarms come after a
      flatline; `k13`'s first value back scored 3.6e-4 against the level that followed the stuck
      value): seating the level at the first value back, after 6 or more identical records on a metric
      that repeats less than 5% of the time, cut the false alarms 54 -> 49 but lost a flatline that
      was found only at its recovery: 63.6 -> 62.6; with stuck values kept out of the scale too, the
      same; the scale alone, 60.7.
    - The de-seasonalised point predictor (above) once more, with its fit over ~500 records: margin
      0.8: known-cause 59.4 / 70.7, synthetic 68.3 / 65.3, weekly 62.9 (69.7) / 59.7, real 71.8 (69.9);
      0.5: 59.9 / 71.6, 67.2 / 66.2, 63.2 (71.8) / 59.6, real 71.8 (70.1). Not kept again.
  - **The week's residual pulls the shift average further** (now the default; `week_clip`, 6 sigmas).
    Traced on the weekly suite's held-out seed, where 18% of event nights were found at MEDIUM: at
    `w33`'s event night (1.5-2.5 times the demand for two to four hours, late in the evening) the
    residual against last week's same hours read z 7.1, 6.0, 6.5 and 3.4, and the shift channel said
    nothing. The average clips each record at `shift_clip` (4 sigmas), so four records lifted it from
    -0.59 to 0.23: 1.4 noise units, under the excursion threshold (2). The point channel saw 0.07: at
    that hour the fast level is still falling from the evening peak. Where the week's table is the
    reference it fits the metric at least twice better than the day's (1.7 times since the margin
    below), so a few hours far off it are
    news: there the residual is now clipped at `week_clip` instead. 6 is the widest clip at which one
    record alone cannot lift a resting average into an excursion (0.05 x 6 = 0.30, under 2 x the
    average's noise 0.16). Measured at `week_margin` 0.5, as it then was (columns as above;
    known-cause and synthetic do not move, their
    series are a week long and the week's table never takes over):

    | the week's residual clipped at | weekly 2028 / 13 at MEDIUM (best) | real (at MEDIUM, alerts) |
    |---|---|---|
    | 4 (before) | 63.2 (72.0) / 59.6 (71.5) | 71.8 (69.9, 0.129) |
    | **6 (default)** | **66.2 (73.6) / 63.5 (74.9)** | 71.8 (69.9, 0.129), the same records |
    | 7 | 66.3 (74.7) / 66.4 (75.3) | 71.8 (69.7, 0.135) |
    | 8 | 66.3 (75.0) / 67.6 (76.7) | 71.8 (69.7, 0.135) |
    | 12 | 66.3 (75.0) / 66.4 (76.5) | 71.2 (69.2, 0.152) |
    | 8, upward only | 64.7 (74.9) / 66.5 (76.1) | 71.8 (69.7, 0.135) |

    - Event nights found at MEDIUM: 50% -> 56% (tuning seed) and 18% -> 36% (held out); storms 77% ->
      85% on the tuning seed, holidays 67% -> 73% held out. False alarms at MEDIUM: 5 -> 4 (tuning) and
      4 -> 5 (held out).
    - Why 6 and not 8, which scores more on both seeds: from 7 up the real set takes one more
      false-positive record at MEDIUM (`ec2_cpu_utilization_77c1ca`, record 2985: a CPU that ran at
      84 at this hour a week before idles at 0.1, and the week's average falls fast), and one record
      could then open an excursion by itself.
    - On seeds nobody had looked at (99 and 123, run once, after the choice): 55.2 -> 56.5 and 66.3 ->
      66.7 at MEDIUM; at the best threshold 63.4 -> 64.5 and 69.2 -> 67.8. Most of their event nights
      are judged against the day's table (the week's does not fit them twice better), where nothing
      changed; at 8: 58.9 and 65.3 at MEDIUM.
    - The unit test (`test_an_event_night_far_off_last_weeks_hours_is_found`, 8 seeds of the test
      suite's city demand at 6% noise, two hours at 1.8 times): found 8 of 8 at MEDIUM, 5 of 8 at a
      clip of 4. Alarms on the same series without the event, weeks 2-5: 3 in 224 days (1 at 4).
    - Budgets: no new state (`week_clip` is a parameter, saved with the others; an older state loads
      with 6). Two array operations a record: 1.9 us by timeit; alternated with the commit before, the second
      week ran 298-447 us a record after and 299-395 before, within this VM's noise.
  - **The week's table takes over where it fits 1.7 times better** (`week_margin` 0.5 -> 0.6, now
    the default). Measured before, at 0.6-0.8 the weekly suite gained up to 2.6 and the real set lost
    1-2 records at MEDIUM (above). With the scale floor and `week_clip` in, the real set no longer
    moves at 0.6, and the week's residual is worth more where it is the reference. With `week_clip` 6:

    | week_margin | weekly 2028 / 13 at MEDIUM (best) | fresh seeds 99 / 123 at MEDIUM (best) | real (at MEDIUM, alerts) |
    |---|---|---|---|
    | 0.5 (before) | 66.2 (73.6) / 63.5 (74.9) | 56.5 (64.5) / 66.7 (67.8) | 71.8 (69.9, 0.129) |
    | 0.55 | 71.5 (75.0) / 66.4 (74.0) | 60.5 (67.2) / 67.9 (69.8) | 71.8 (69.9, 0.129) |
    | **0.6 (default)** | **75.6 (77.7) / 68.7 (73.4)** | **61.8 (69.9) / 68.0 (70.3)** | 71.8 (69.9, 0.129), the same records at MEDIUM and above |
    | 0.65 | 75.6 (76.5) / 68.8 (73.5) | - | 71.8 (69.7, 0.135) |
    | 0.7 | 75.6 (76.2) / 68.8 (73.5) | - | 71.2 (69.3, 0.146) |
    | 0.6, `week_clip` 4 | 73.8 (75.9) / 61.9 (70.3) | - | 71.8 (69.9, 0.129) |

    - Busy weekends found at MEDIUM on the tuning seed: 67% -> 100%; event nights held out 36% -> 45%,
      holidays 73% -> 80%. The held-out seed's best threshold gives back 1.5 (74.9 -> 73.4); every
      other column gains, at MEDIUM and at the best threshold.
    - The real set: the same records at MEDIUM and above; one more record at LOW (6.287e-2 -> 6.289e-2
      of records outside the windows). Known-cause, synthetic and the habits table are identical (their series never give the week's
      table a week behind it). An older state keeps the margin it was saved with.
    - No unit test pins it: the city demand of `tests/unit/test_likelihood.py` scores the same at 0.5
      and 0.6 (its week's table fits far better than the day's); the weekly suite is its test.
  - **Not kept (same pass):**
    - The wider clip on every seasonal residual (the day's table too): 6 gives known-cause 64.1
      (64.1) / 74.2 (75.3), synthetic 69.5 / 67.7, weekly 66.2 / 63.5, real 71.6 (69.5, 0.14); 8 gives
      63.8 (64.1) / 74.4 (75.5), 70.3 / 66.8, 66.0 / 67.6, real 71.2 (69.7). The same clip on every
      reference (`shift_clip` 8): real 65.9 (63.2). Only where the day's table fits the metric twice
      (or three times) better than the slow level: synthetic 69.5 / 67.6 (68.2 / 67.8), real 72.0
      (69.9), but the known-cause tuning seed at its best threshold 66.5 -> 63.8 (a key hold, `k10`,
      0.683 -> 0.576: the day's average now reaches taller peaks in ordinary hours, so the key hold's
      excursion is less rare against them).
    - The shape statistic's average unclipped too (its row clipped at 6, above the statistic's own
      bound of 5.3; with `week_clip` 6 and `week_margin` 0.6): weekly 75.6 (77.7) -> 75.8 (77.7) and
      68.7 (73.4) -> 72.4 (74.4), the real set the same; on the fresh seeds 61.8 (69.9) -> 63.3 (72.8)
      but 68.0 (70.3) -> 67.9 (68.4). Mixed on the seed nobody had tuned on, so not kept this pass;
      worth measuring again with more weekly seeds.
    - Fewer band escalations. 17 of the known-cause tuning seed's 54 false alarms at MEDIUM (7 of 35
      held out) come within 36 records after an alarm on the same series: the shift channel reporting
      the same excursion a band rarer, which NAB counts once per record. Escalating only when the
      rarity grows a hundredfold: known-cause 56.3 / 67.5, synthetic 62.9 / 62.0, weekly 54.4 / 53.2,
      real 68.5 (61.2). The escalation from LOW to MEDIUM is how most drifts and plateaus are found.
  - **One record far above last week's same hours is judged on its own** (now the default;
    `week_point`, in the shift channel, `likelihood._week_point`). Traced on a weekly seed nobody had
    tuned on (200, `w16`, record 1627): an event night's first half-hour read z 11.7 against the
    week's table and scored 0.543. The shift channel's average had run at -0.9 below last week's hours
    before it, so the night lifted it to 0.4 only; the point channel saw p 0.04 against a fast level
    still falling from the evening peak; the range channel 1.9e-3. Now, where the week's table is the
    reference, an upward residual against it is also judged on the decayed tail of that residual's
    size (`season_hist`, one more histogram per metric, the tail fit of the point channel), within
    the shift channel's Bonferroni factor (3 there, 2 elsewhere). The residual is judged on a scale
    never below `scale_floor` (0.3) times the table's long-run one, as the point channel's is; the
    test is asked from the table's third week (`WEEK_POINT_FROM`, 2 weeks of history), and where the
    record is more than 3 of those sigmas above last week's (`WEEK_POINT_Z`). Weekly
    suite at MEDIUM (best) on ten seeds: the tuning seed 2028, the held-out 13, and 99, 123, 200, 301,
    402, 503, 604 and 705 (the last six first run this pass, before the change and after). Known-cause
    and synthetic are identical in every row (their series are a week long):

    | try | weekly, mean of ten seeds at MEDIUM (best) | weekly 2028 / 13 | real (at MEDIUM, alerts) |
    |---|---|---|---|
    | before | 68.2 (72.9) | 75.6 (77.7) / 68.7 (73.4) | 71.8 (69.9, 0.129) |
    | both directions, as soon as the week's table is the reference | 73.8 (75.0) | 78.9 / 73.0 | 71.8 (69.5, 0.140) |
    | upward only | 74.3 (75.6) | 80.1 / 72.3 | 71.8 (69.7, 0.135) |
    | upward, the scale floored (0.3, 0.5 or 1.0 of the table's long-run scale) | 74.3 (75.6) | 80.1 / 72.3 | 71.8 (69.7, 0.135) |
    | upward (not floored), the tail learning only where the week's table is the reference | - | 77.7 / 72.7 (five seeds: -0.4) | 71.4 (69.6, 0.146) |
    | the same, on the day's table too | - | 79.8 / 69.2 | 70.2 (68.4, 0.168); known-cause 61.6 (64.3) / 72.4, synthetic 68.8 / 70.0 |
    | the same, plus the shape row unclipped (above) | 73.9 | 80.2 / 73.4 | - |
    | asked from a slot's third record (30-minute data: its third week) | 75.0 (76.3) | 80.2 / 73.1 | 71.8 (69.7, 0.135) |
    | asked from the table's fourth week | 75.5 (77.0) | 82.3 / 73.1 | - |
    | asked from the table's third week | 75.4 (76.7) | 82.1 (82.5) / 73.1 (75.9) | 71.8 (69.9, 0.129), the same records |
    | **the same, where the record is 3 sigmas above last week's (default)** | **75.2 (76.6)** | **82.1 (82.1) / 71.9 (75.8)** | **71.8 (69.9, 0.129), the same records** |

    - Per seed at MEDIUM (best), before -> after: 2028 75.6 (77.7) -> 82.1 (82.1); 13 68.7 (73.4) ->
      71.9 (75.8); 99 61.8 (69.9) -> 67.6 (71.1); 123 68.0 (70.3) -> 73.2 (73.2); 200 63.6 (68.0) ->
      70.8 (73.1); 301 66.4 (66.8) -> 72.2 (72.2); 402 67.4 (72.7) -> 79.5 (79.5); 503 71.8 (78.9) ->
      80.6 (81.4); 604 78.4 (78.4) -> 84.8 (84.8); 705 60.2 (72.7) -> 69.4 (72.8). Every seed gains,
      at MEDIUM and at its best threshold.
    - Recall at MEDIUM over the ten seeds: event nights 48% -> 77%; holidays, busy weekends and
      storms the same (74%, 74%, 78%); windows found 374 -> 412, false-positive records 105 -> 109.
    - Why from 3 sigmas: below that the tail's p is no news, and each metric asked costs a tail
      (30-60 us by timeit on this VM; asked on ~1% of a weekly metric's records); it scores 0.2 less
      at MEDIUM than asking everywhere, within seed noise.
    - Why upward only: a quiet hour where last week's was busy is what the shift channel's average is
      for; both ways, the real set took `ec2_cpu_utilization_77c1ca` record 2905 (an idle CPU at 0.1,
      0.299 -> 0.696). Why the floor: a bursty disk (`ec2_disk_write_bytes_c0d644`, record 3240) had
      a quiet spell shrink the week's scale, and an ordinary burst read z 156 (floored: 17). Why from
      the third week: asked against slots seen in one week only, it added 41 of its 51
      false-positive records on the weekly suite in that week.
    - The real set cannot judge it much: its series last 14-16 days, so the test is asked only on
      three series' last days. Asked from the first week (where the weekly suite found it noisiest),
      it added one record at MEDIUM over the 17 series' second weeks: `ec2_disk_write_bytes_c0d644`
      record 3242, a burst to 6.6e8 bytes (0.599 -> 0.666; floored at 1.0 instead, the record was
      `ec2_cpu_utilization_77c1ca` 3240, a CPU going from 0.1 to 97 at the same timestamp), a
      moment NAB does not label. NAB's long series with a weekly cycle (`nyc_taxi`, the Twitter
      volumes) are where it will be judged: `week_point: false` is an outside variant.
    - Unit test `test_half_an_hour_at_twice_last_weeks_demand_is_found_by_the_weeks_point_test` (8 seeds of the
      test suite's city demand, one half-hour at twice the demand at 22:00): found at MEDIUM 8 of 8,
      2 of 8 with the test off; a half-hour at half the demand scores within 0.001 of the test off.
      Ordinary weeks of the same demand (20 series, weeks 2-5): 2 alarms at MEDIUM in 560 days, 0
      with it off; one is day 18 of `test_a_day_whose_shape_breaks_without_a_net_shift_is_found_by_its_size`
      (a morning ramp 20% above the same half-hour, seen twice before), whose quiet weeks now allow one.
    - Budgets: state 101.9 -> 105.8 kB for 7 metrics (one more 64-bin histogram a metric, 512 bytes;
      an older state loads with it empty, and the test is not asked until it holds `shift_warmup`
      (200) records: an empty tail would call 8 sigmas MEDIUM. No suite moves: a fresh detector's
      tail holds ~500 records by its table's third week). Latency: by timeit, the shift channel 58 -> 67 us on a
      third-week record; alternated on the same state (the flag on and off, 600 third-week
      records, best of 7), 286-295 -> 300-319 us a record. The recorded runs stop before a third
      week, so they time only the learning (the tail is asked from the third week). This VM ran
      too noisy this pass to record again (`robust_z`, unchanged, at 27 us p50 against 15.5 recorded),
      so `bench/results/latency.json` keeps commit 0db07e4's run; the outside run should record it
      again on a quiet machine, and the second-week row gives the nearest budget: 478.5 us p99.
  - **The same scores in a fifth less time a record** (no parameter changes; `tail.tail_p`,
    `tail._gpd_survival`, `likelihood._keep_ledger`). The week's point test is asked from the
    third week, which the recorded runs never reached, so `bench/latency` now streams three weeks and
    times the second and the third (row "third week" above). Timed on this VM, the third week
    was over the budget: per-record minimum over 5 runs, p99 450 us. The slowest 1% were
    records where the excursions' tail, the point channel's fit and an incident's ledger all ran.
    Each step leaves every suite's scores equal to 1e-13 (real set, weekly 13, known-cause 2027,
    synthetic 7: no record changes band):
    - the generalised Pareto fit one row at a time, on floats, over the bins from its threshold
      up, its plotting positions from the tail counts `tail_p` already has: 27 -> 8 us (timeit);
    - `tail_p` finds the rows that need more than the count (fewer than `U_SHARE` of the mass past
      the value's bin, which holds every row past the threshold and every row not yet fitted) by
      one comparison, and works those one at a time: 7 metrics with none past, 28 -> 19 us; with
      one past, 60 -> 30 us;
    - the incident ledger row by row, over the metrics with a ledger or an incident (one, seldom
      more): its two dozen array steps cost ~45 us a record for the 36 records after each incident;
    - a value's bin by one search on the upper edges; the shift channel's rows filled in place.

    Commit 31d1cdc against this one, run in alternating processes, per-record minimum over 5 runs:
    third week p50 281 -> 230 us, p99 456 -> 360 us; the first 3.5 days p50 259 -> 208 us, p99
    398 -> 309 us. A new unit test holds the row-by-row tail to the same p whatever rows share the call.
    Not recorded: this pass the VM's jitter held every full run's p99 far above what the code costs
    (`robust_z`, unchanged, at p99 28-37 us against 19.3 recorded, its p50 the same 15.5). The eight
    full runs after the speed-up gave the default p99 472-555 us and the third week 390-579 us, p50
    214-239 us (247 recorded before). `bench/results/latency.json` keeps commit 0db07e4's run; the
    outside run should record it again on a quiet machine (`python -m bench.latency`), which adds
    the third week's row to the table above.
  - **Not kept: escalating a hundredfold once a metric is reported at MEDIUM** (tenfold below
    it, so LOW -> MEDIUM, how drifts and plateaus are found, stays). Aimed at the band escalations
    (17 of the known-cause tuning seed's 54 false alarms). Known-cause 63.6 (66.5) -> 60.3 (60.6) /
    74.2 (74.7) -> 72.5 (74.8), synthetic 68.2 -> 67.0 / 67.1 -> 64.0, weekly 82.1 -> 80.9 / 71.9
    -> 70.6, real 71.8 (69.9) -> 69.2 (67.3). False alarms fall (54 -> 39) but found incidents
    fall too (38 -> 34): `report` is shared by the channels, so a spike the point channel called
    MEDIUM made the shift channel's plateau that followed wait for CRITICAL.
  - **Not kept: a LOW report does not hold back the shift channel's MEDIUM.** A key hold's first
    record is LOW on the range channel, after which its plateau's excursion must be tenfold rarer
    than that LOW to be said, past MEDIUM. Tried: below a rarity `to` (the excursion's own
    -log10 p), the escalation needs the smaller of tenfold and `to`. At `to` 3.3: weekly 82.1 ->
    82.2 / 71.9 -> 78.1, known-cause 63.6 -> 65.4 (best 66.5 -> 65.4) / 74.2 -> 71.8, synthetic
    68.2 -> 67.6 / 67.1 -> 66.5, but real 71.8 (69.9, 0.129) -> 69.1 (67.8, 0.197): 35 false
    positives at MEDIUM against 23. At 3.0: real 68.5 (66.8); 3.6: real 69.0 (66.6); 4.0: real 70.7
    (63.4, 0.219). The real set's metrics say LOW often, and their excursions then reach MEDIUM
    without an incident.
    Only where the week's table is the reference (its row and the shape row, at 3.3): the real set
    holds (71.8, 69.7 at MEDIUM, 0.135) and the weekly held-out seed gains 71.9 (75.8) -> 78.1 (78.1),
    but over 14 weekly seeds (the ten above and four new: 806, 907, 1008, 1109) the mean moves
    75.4 -> 76.3 at MEDIUM and 76.6 -> 76.3 at the best threshold, the four new seeds 75.8 -> 75.8
    and 76.5 -> 75.8; false alarms rise on 13 of 14 seeds. Found incidents trade for false alarms.
  - **The references' excursions remember a week of time, not 2,000 records** (now the default;
    `memory_interval`, 300 s; `likelihood._shift_decay`). Traced on the weekly suite's storms
    (held out, seed 13): the second storm in a series (`w06` at record 1386, `w19` at 1616, `w35` at
    1667) peaked at 0.54-0.56, the first at 0.89-0.90. The shift channel's excursions decay per
    record (`shift_decay` 0.9995, ~2,000 records), which on the 5-minute metrics it was set on is a
    week; at 30 minutes it is six weeks, so the first storm's excursion, twelve days old, still said
    a storm was common. Now the detector measures its record interval (the median of its first 20
    gaps, saved with the state), and for a sparser metric the references' rows (slow level, time of
    day or week) decay faster per record, so their memory spans the same week. At 5 minutes or
    closer nothing changes: the real set, the known-cause and the synthetic suites score record for
    record the same. Measured:
    - weekly suite over 14 seeds (the ten above and four never run before this pass: 806, 907,
      1008, 1109): mean 75.4 (76.6) -> 78.4 (79.8) at MEDIUM (best threshold); 13 of 14 seeds gain
      at MEDIUM, 12 of 14 at the best threshold; the four new seeds 75.8 (76.5) -> 78.8 (80.0).
      Found 581 -> 611 windows, false alarms 158 -> 143. Recall by kind (mean of the 14): storm
      79% -> 84%, holiday 77% -> 80%, busy weekend 72% -> 78%, event night 77% -> 78%. The tuning
      seed 2028 loses: 82.1 (82.1) -> 79.2 (80.4);
    - the real set resampled to sparser records (the mean of 3, 6 or 12 five-minute records, the
      windows mapped): 15 minutes 55.4 (50.7 at MEDIUM, 0.067 alerts) -> 56.3 (50.7, 0.056), 30
      minutes 53.4 (39.3) -> 54.1 (39.3), hourly 46.3 -> 46.3. Real metrics at a sparser cadence hold;
    - recorded (held-out seed 13, tables above): 71.9 (75.8) -> 77.6 (81.1); the habits' irregular
      metric (gaps of 1 to 9 minutes, so its first gaps' median is a little over 5 minutes) 0.22 ->
      0.11 incidents a day, its event found; every other table the same;
    - unit test `test_a_second_storm_is_judged_on_a_weeks_memory_not_on_two_thousand_records`
      (8 seeds of the test suite's demand, two 18-hour storms 12 days apart): the second found at
      MEDIUM 7 of 8, 1 of 8 with the memory counted in records; ordinary weeks 1 alarm in 40 (2).
    - Variants: every row in time, the shape statistic's too: weekly mean 79.0 (80.0), but 3 of 14
      seeds lose at MEDIUM, and a day whose shape breaks without a net shift (8 series of the unit
      test's demand) is found in 5 of 8, not 8: the shape row's slower average closes a few
      excursions a week, too few to calibrate on. A memory of two weeks (`memory_interval` 600):
      the second storm 0 of 8 (it is twelve days after the first). The point channel's tail
      counted in time too (its ~1,000 records a week at 30 minutes: `decay` 0.999 -> 0.994) lost on
      every one of the 14 seeds: mean 79.0 (80.0) -> 70.1 (71.2); a tail of ~170 records is too
      thin to say what is rare one record at a time, while an excursion is judged by how often
      excursions come, a matter of time. The range (~7,000 records) and the scales keep their
      memories in records.
    - Tests changed: the `week_clip` test measures the clip's share as when it was written (the
      week's point test off, the memory in records) and asserts the default finds all 8; the week's
      point test's downward check now scores one record from one state with the test on and off
      (equal downward, > 0.1 apart upward), as the history before it now differs by more than 0.02.
    `{"memory_interval": 0}` brings the memory in records back (an outside variant for NAB's hourly
    and half-hourly series).
  - **Where the next try should look:** the key holds still found late or not at all (the
    shift channel's once-per-band rule keeps a plateau quiet after the range channel's LOW at its
    first record), and sensor drifts that are ~2 sigmas when their window closes. ARTime's windows, built
    this pass as prototypes over noisy metrics, gave nothing; ARTime itself reads NAB's
    look-ahead range, which Skyloop may not. On the real set, a missed window is worth about 3
    points and a false-positive record about 0.15. Of the 24 windows found at 0.612, 6 peak
    below 0.70 inside the window and 12 below 0.75, so a slightly higher corpus threshold
    loses windows fast: stronger evidence on the windows found matters as much as new windows. The NAB numbers (70.5
    overall and 67 on the held-out series) can only be measured outside the project:
    `python -m bench.nab` makes that one command."""


if __name__ == "__main__":
    main()
