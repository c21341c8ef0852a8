"""Train use-case: CSV bytes in, a PENDING model version (or a typed error) out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from .. import __version__
from ..config import Settings
from ..errors import InvalidDataset
from ..ports import BlobStore, EventPublisher, KeyValueStore, ModelRegistry
from ..ports.registry import ModelVersion, approve
from ..ports.artifacts import dump_model, write_artifact
from .dataset import DatasetLimits, load_dataset
from .gate import decide as decide_gate
from .model import concrete_family, resolve_params, train

log = logging.getLogger("skyloop.training")

def group_from_uri(uri: str) -> str:
    """'s3://b/data/churn-2026-01.csv' (or '.csv.gz') -> 'churn-2026-01'; '2026-churn.csv' ->
    'm-2026-churn' (modelgroup.from_stem: valid on every cloud). A URL's name is percent-decoded
    first (a Blob Storage URL's 'churn%202026.csv' is 'churn 2026.csv')."""
    from urllib.parse import unquote

    from ..modelgroup import from_stem

    stem = unquote(uri.rstrip("/").rsplit("/", 1)[-1]) if "://" in uri and not uri.startswith(("s3://", "gs://")) \
        else uri.rstrip("/").rsplit("/", 1)[-1]
    low = stem.lower()
    return from_stem(stem[:-7] if low.endswith(".csv.gz") else stem[:-4] if low.endswith(".csv") else stem)


class TooLargeForFunction(InvalidDataset):
    """Above the in-function size rule: a managed training backend takes it, or it is refused."""

    code = "too_large_for_function"


@dataclass(frozen=True)
class TrainOutcome:
    model: ModelVersion
    auto_approved: bool
    gate_reason: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_group": self.model.group,
            "version": self.model.version,
            "status": self.model.status.value,
            "metrics": self.model.metrics,
            "auto_approved": self.auto_approved,
            "gate": self.gate_reason,
            "seconds": round(self.seconds, 3),
        }


def in_function_rule(n_bytes: int, n_rows: int | None, settings: Settings, n_cols: int | None = None,
                     family: str | None = None) -> bool:
    """The size rule: small enough to train inside the function (see TrainingSettings)? The
    forest's cell limit is its own: it is 20-60 times slower than boosting on large data."""
    t = settings.training
    if n_bytes > t.max_inline_bytes:
        return False
    if n_rows is not None and n_rows > t.max_inline_rows:
        return False
    cells = t.max_inline_forest_cells if family == "random_forest" else t.max_inline_cells
    return n_rows is None or n_cols is None or n_rows * n_cols <= cells


@dataclass(frozen=True)
class Fitted:
    """A trained model and everything the registry records about it: what a managed
    training job writes to its output, and what the in-function path registers at once."""

    model_bytes: bytes
    metrics: dict[str, float]
    params: dict[str, Any]
    lineage: dict[str, Any]
    seconds: float

    def card(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "params": self.params, "lineage": self.lineage, "seconds": self.seconds}


def fit(
    data: bytes,
    *,
    source_uri: str,
    settings: Settings,
    target: str | None = None,
    params: Mapping[str, Any] | None = None,
    enforce_size_rule: bool = True,
    previous: Mapping[str, Any] | None = None,
    baseline: "Baseline | None" = None,
) -> Fitted:
    """Validate and train. ``enforce_size_rule=False`` is for managed jobs, which exist
    precisely for the datasets the rule keeps out of a function."""
    if enforce_size_rule and not in_function_rule(len(data), None, settings):
        raise TooLargeForFunction(
            f"{source_uri} is {len(data)} bytes, above the in-function limit of {settings.training.max_inline_bytes}"
        )
    limits = DatasetLimits(folds=settings.training.folds, min_rows=settings.training.min_rows)
    if not enforce_size_rule:  # a managed job has the disk and memory the function lacks
        limits = replace(limits, max_bytes=max(limits.max_bytes, len(data)))
    resolved = resolve_params(params)  # a bad family or knob is refused before the data is parsed
    ds = load_dataset(data, target, limits)
    family = concrete_family(resolved, len(ds.frame))["model"]
    if enforce_size_rule and not in_function_rule(len(data), len(ds.frame), settings, ds.frame.shape[1], family):
        t = settings.training
        cells = t.max_inline_forest_cells if family == "random_forest" else t.max_inline_cells
        raise TooLargeForFunction(
            f"{source_uri} has {len(ds.frame)} rows x {ds.frame.shape[1]} columns, above the in-function limit "
            f"for {family} ({t.max_inline_rows} rows, {cells} cells)"
        )
    trained = train(ds, resolved, folds=settings.training.folds, holdout=settings.training.holdout_fraction)
    model_bytes = dump_model({
        "pipeline": trained.pipeline,
        "features": ds.features,
        "target": ds.target,
        "task": ds.task,
        "classes": ds.classes,
    })
    reference = _drift_reference(ds, trained.pipeline)
    lineage = {
        "drift_reference": reference,
        # how this data differs from the data of the group's previous version (PSI / KS per feature)
        "data_vs_previous": _compare_data(previous, ds) if previous else None,
        "data_sha256": ds.sha256,
        "data_uri": source_uri,
        "rows": int(len(ds.frame)),
        "columns": int(ds.frame.shape[1]),
        "features": ds.features,
        "target": ds.target,
        "task": ds.task,
        "classes": [str(c) for c in ds.classes],
        "primary_metric": trained.primary_metric,
        "schema": ds.profile(),
        "code_version": __version__,
        # a pickled pipeline loads reliably only under the same scikit-learn: serving images must match it
        "sklearn_version": _sklearn_version(),
        "artifact_bytes": len(model_bytes),
        "train_seconds": round(trained.seconds, 3),
        "requested_params": resolved,
        "model_family": trained.params["model"],  # "auto" made concrete for this data
        "search": trained.search,  # the bounded hyperparameter search, when one was asked for
        # the held-back slice: the candidate and the production model scored on the same unseen rows
        "holdout": _holdout_report(ds, trained, baseline),
    }
    return Fitted(model_bytes, dict(trained.metrics), dict(trained.params), lineage, trained.seconds)


@dataclass(frozen=True)
class Baseline:
    """The production model to compare against on the held-back slice (loaded only if needed)."""

    version: int
    load: Callable[[], Mapping[str, Any]]
    skip: str | None = None  # why the slice cannot be scored for it (production served by a cloud service)


SEGMENT_MIN_ROWS = 30


def _holdout_report(ds: Any, trained: Any, baseline: Baseline | None) -> dict[str, Any] | None:
    """Candidate vs production on the held-back rows, overall and per level of each
    categorical feature (a segment the candidate serves worse is a regression the gate checks)."""
    from .model import evaluate

    held = trained.holdout
    if held is None:
        return None
    primary = trained.primary_metric
    report: dict[str, Any] = {
        "rows": int(len(held)), "primary_metric": primary,
        "candidate": {k[len("holdout_"):]: v for k, v in trained.metrics.items() if k.startswith("holdout_")},
        "baseline": None, "baseline_skipped": "not compared with production at training time", "segments": {},
    }
    if baseline is None:
        return report
    if baseline.skip:
        report["baseline_skipped"] = baseline.skip
        return report
    bundle = baseline.load()  # sha256-verified by the loader: never an unvouched pickle
    feats = list(bundle["features"])
    missing = [f for f in feats if f not in held.columns]
    if bundle.get("target") != ds.target or bundle.get("task") != ds.task or missing:
        report["baseline_skipped"] = (f"production v{baseline.version} cannot score this data: "
                                      + (f"missing {', '.join(missing)}" if missing else "different target or task"))
        return report
    report["baseline"] = {"version": baseline.version,
                          "metrics": evaluate(bundle["pipeline"], ds.task, ds.classes, held, feats, ds.target)}
    report["baseline_skipped"] = None
    for col in ds.categorical:
        levels = {}
        for level, part in held.groupby(col):
            if len(part) < SEGMENT_MIN_ROWS:
                continue
            cand = evaluate(trained.pipeline, ds.task, ds.classes, part, ds.features, ds.target).get(primary)
            base = evaluate(bundle["pipeline"], ds.task, ds.classes, part, feats, ds.target).get(primary)
            levels[str(level)] = {"rows": int(len(part)), "candidate": cand, "baseline": base}
        if levels:
            report["segments"][col] = levels
    return report


def _drift_reference(ds: Any, pipeline: Any, rows: int = 5000) -> dict[str, Any]:
    """Training-time distributions that drift is measured against (skyloop.drift.stats)."""
    from ..drift.stats import reference_profile

    sample = ds.X if len(ds.frame) <= rows else ds.X.sample(rows, random_state=0)
    return reference_profile({c: sample[c].to_numpy() for c in ds.features}, list(ds.categorical),
                             pipeline.predict(sample), classification=ds.task == "classification")


def _compare_data(previous: Mapping[str, Any], ds: Any) -> dict[str, Any] | None:
    from ..drift.stats import drift_report

    ref = (previous.get("lineage") or {}).get("drift_reference")
    if not ref:
        return None
    rep = drift_report(ref, {c: ds.frame[c].to_numpy() for c in ds.features})
    return {"version": previous.get("version"), "shifted_features": rep.drifted_features,
            "psi": {f: r["psi"] for f, r in rep.features.items()}}


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def register_fitted(
    fitted: Fitted,
    *,
    group: str,
    settings: Settings,
    store: BlobStore,
    registry: ModelRegistry,
    events: EventPublisher,
    kv: KeyValueStore | None = None,
    manual: bool = False,
) -> TrainOutcome:
    """Store the artifact under its hash, register PENDING, and let the gate decide
    (the decision, either way, goes into the group's gate history in ``kv``). ``manual``:
    the upload asked for a human (or an A/B test) to decide, whatever the gate would say."""
    art = write_artifact(store, group, fitted.model_bytes)
    lineage = fitted.lineage
    # keyed on what was asked for: a search may pick differently on a retry, the request does not change
    requested = lineage.get("requested_params", fitted.params)
    key = f"{group}:{lineage['data_sha256']}:{lineage['target']}:{sorted(requested.items())}"
    version = registry.register(
        group,
        artifact_uri=art.uri,
        artifact_sha256=art.sha256,
        metrics=fitted.metrics,
        params=fitted.params,
        lineage=lineage,
        idempotency_key=key,
    )
    log.info("registered model", extra={"model_group": group, "version": version.version, "metrics": fitted.metrics})
    return gate_registered(version, settings=settings, registry=registry, events=events, kv=kv, manual=manual,
                           seconds=fitted.seconds)


def gate_registered(version: ModelVersion, *, settings: Settings, registry: ModelRegistry, events: EventPublisher,
                    kv: KeyValueStore | None, manual: bool, seconds: float) -> TrainOutcome:
    """Let the gate decide on a version just registered PENDING (the decision, either way, goes into
    the group's gate history in ``kv``): the one step after every registration, whoever trained it."""
    group = version.group
    auto, reason = False, "manual approval required"
    if version.status.value == "PENDING" and manual:
        reason = "manual approval requested by the upload"
    elif version.status.value == "PENDING":
        production = registry.alias(group, "production")
        decision = decide_gate(settings.gate, version, production)
        reason = decision.reason
        if kv is not None and settings.gate.enabled:
            from ..serving.history import record_gate_decision

            record_gate_decision(kv, group, {"version": version.version, "approve": decision.approve,
                                             "against": None if production is None else production.version,
                                             "checks": decision.checks, "reason": decision.reason})
        if decision.approve:
            approve(registry, events, group, version.version, actor="policy-gate", note=reason)
            version = registry.get(group, version.version)
            auto = True
    return TrainOutcome(version, auto, reason, seconds)


def train_and_register(
    data: bytes,
    *,
    source_uri: str,
    settings: Settings,
    store: BlobStore,
    registry: ModelRegistry,
    events: EventPublisher,
    target: str | None = None,
    group: str | None = None,
    params: Mapping[str, Any] | None = None,
    kv: KeyValueStore | None = None,
    manual: bool = False,
) -> TrainOutcome:
    group = group or group_from_uri(source_uri)
    known = registry.versions(group)
    previous = {"version": known[-1].version, "lineage": known[-1].lineage} if known else None
    prod = registry.alias(group, "production")
    baseline = None
    if prod is not None and prod.managed is not None:  # nothing to score the slice with here
        baseline = Baseline(prod.version, dict, skip=f"production v{prod.version} is a model "
                                                     f"{prod.managed['service']} serves itself: it cannot score "
                                                     "the held-back slice here")
    elif prod is not None:
        from ..ports.artifacts import load_verified

        baseline = Baseline(prod.version, lambda: load_verified(store, prod.artifact_uri, prod.artifact_sha256))
    fitted = fit(data, source_uri=source_uri, settings=settings, target=target, params=params, previous=previous,
                 baseline=baseline)
    return register_fitted(fitted, group=group, settings=settings, store=store, registry=registry, events=events, kv=kv,
                          manual=manual)


def read_job_output(archive: bytes, *, max_bytes: int = 2 * 1024**3) -> Fitted:
    """``model.tar.gz`` of a managed job -> Fitted. Reads only the two files the entry
    point writes, in memory, never extracting paths from the archive onto disk."""
    import io
    import json
    import tarfile

    from ..ports.artifacts import CARD_FILE, MODEL_FILE

    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            files = {}
            for member in tar.getmembers():
                name = member.name.lstrip("./")
                if name in (MODEL_FILE, CARD_FILE) and member.isfile() and member.size <= max_bytes:
                    fh = tar.extractfile(member)
                    files[name] = fh.read() if fh else b""
    except (tarfile.TarError, EOFError) as exc:
        raise InvalidDataset(f"training job output is not a readable archive: {exc}") from None
    missing = [n for n in (MODEL_FILE, CARD_FILE) if n not in files]
    if missing:
        raise InvalidDataset(f"training job output lacks {', '.join(missing)}")
    card = json.loads(files[CARD_FILE])
    return Fitted(files[MODEL_FILE], card["metrics"], card["params"], card["lineage"], float(card.get("seconds", 0.0)))
