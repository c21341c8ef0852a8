"""Detect use-case: a metric batch in; anomalies, root causes and remediation requests out.

Per service, the detector's state lives in the key-value store between
invocations, so a stream of small batches (a metric stream, an alarm's
window) is scored by a model that keeps learning what normal looks like. An
incident that spans batches keeps one anomaly id and so yields one request
per action, however many batches it spans or however often one is redelivered.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..serving.history import last_promotion
from ..errors import AccessDenied, InvalidMetrics, NotFound
from ..outbox import Staged, commit, recover
from ..events import AnomalyFound, MetricBatch, MetricRecord, RemediationRequested, Severity
from ..incidents import Incidents
from .rca import RcaContext, rank_causes
from ..remediation.verification import Verdict, check_recoveries, ended_at_normal, restored_normal, save_baseline
from . import load_detector, make_detector
from .base import drop_out_of_range, lower_bound, state_is_sound
from .incidents import Run, find_runs, is_incident
from .series import append_series, load_series

if TYPE_CHECKING:  # type-only: the ports module is not needed to run, only to check
    from ..config import Settings
    from ..ports import ActionExecutor, AuditLog, EventPublisher, KeyValueStore, ModelRegistry, Queue

log = logging.getLogger("skyloop.detection")


@dataclass
class DetectOutcome:
    service: str
    rows: int
    scored_rows: int
    anomalies: list[AnomalyFound] = field(default_factory=list)
    requests: list[RemediationRequested] = field(default_factory=list)
    canary: dict[str, Any] | None = None
    out_of_range: int = 0  # values beyond ±1e150, treated as missing
    verifications: list[Any] = field(default_factory=list)  # remediation.verification.Verdict
    ignored_metrics: dict[str, str] = field(default_factory=dict)  # metric -> why

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """``full``: the requests whole, so ``from_dict`` can rebuild the outcome (the outbox keeps it)."""
        out = {
            "service": self.service,
            "rows": self.rows,
            "scored_rows": self.scored_rows,
            "anomalies": [json.loads(a.model_dump_json()) for a in self.anomalies],
            "requests": [json.loads(r.model_dump_json()) if full else r.request_id for r in self.requests],
        }
        if self.canary is not None:
            out["canary"] = self.canary
        if self.out_of_range:
            out["out_of_range_values"] = self.out_of_range
        if self.verifications:
            out["verifications"] = [v.to_dict() for v in self.verifications]
        if self.ignored_metrics:
            out["ignored_metrics"] = dict(self.ignored_metrics)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DetectOutcome":
        return cls(d["service"], int(d["rows"]), int(d["scored_rows"]),
                   [AnomalyFound.model_validate(a) for a in d["anomalies"]],
                   [RemediationRequested.model_validate(r) for r in d["requests"]],
                   out_of_range=int(d.get("out_of_range_values", 0)),
                   verifications=[Verdict(**v) for v in d.get("verifications", [])],
                   ignored_metrics=dict(d.get("ignored_metrics", {})))


def _detector_key(service: str) -> str:
    return f"detector:{service}"


def install_detector(kv: KeyValueStore, service: str, det: Any, *, queue: Queue, audit: AuditLog | None) -> None:
    """A detector fitted offline (``skyloop fit-detector``) becomes the service's state through the
    detect path's own commit point: a committed batch's outbox is carried out first (it belongs to
    the state being replaced), then the new state is written over the version read, so a batch
    committing meanwhile makes this ``StaleState`` (try again) instead of being overwritten."""
    key = _detector_key(service)
    saved = kv.get_versioned(key)
    recover(kv, key, saved, queue, audit)
    saved = kv.get_versioned(key)
    commit(kv, key, key, bytes(det.to_bytes()), saved[1] if saved else None, Staged(kv), queue, audit)


def _load_state(service: str, saved: bytes | None, settings: "Settings") -> Any:
    """The service's detector as saved, or a fresh one: a state that does not load or does not
    validate (NaN or inf where numbers belong) would score nothing from now on, so it is reset
    with a warning rather than used."""
    if saved:
        try:
            det = load_detector(saved)
        except Exception as exc:  # noqa: BLE001 - any unreadable state is replaced, never trusted
            log.warning("detector state unreadable: reset", extra={"service": service, "error": type(exc).__name__})
        else:
            if state_is_sound(saved, det.tags.nan_ok):
                return det
            log.warning("detector state failed validation (non-finite values): reset", extra={"service": service})
    return make_detector(settings.detection.detector, contamination=settings.detection.contamination)


def detect(
    batch: MetricBatch,
    *,
    settings: "Settings",
    kv: KeyValueStore,
    queue: Queue,
    registry: ModelRegistry,
    topology: ActionExecutor,
    events: EventPublisher | None = None,
    audit: AuditLog | None = None,
) -> DetectOutcome:
    """Production records (no variant, or "production") are scored and learned; a baking
    canary's records are judged against production's records of the same minutes
    (detection/canary.py), not against what was learned."""
    ordered = sorted(batch.records, key=lambda r: r.timestamp)
    records = [r for r in ordered if r.variant in (None, "production")]
    candidates = [r for r in ordered if r.variant not in (None, "production")]
    key = _detector_key(batch.service)
    saved = kv.get_versioned(key)
    # a batch that committed and then failed (or died) before its effects were all carried out
    replayed = recover(kv, key, saved, queue, audit, owner=batch.content_key())
    out = None
    if replayed is not None and replayed.get("batch") == batch.content_key():
        out = DetectOutcome.from_dict(replayed["outcome"])  # this very batch: answered, not scored twice
        log.info("redelivered batch: its committed outcome carried out", extra={"service": batch.service})
    if out is None:
        out = DetectOutcome(batch.service, len(ordered), 0)
        det = _load_state(batch.service, saved[0] if saved else None, settings)
        if records:
            staged = Staged(kv)
            _detect_production(batch, records, det, out, settings=settings, kv=staged.kv, series=kv,
                               queue=staged.queue, registry=registry, topology=topology, audit=staged.audit)
            commit(kv, key, key, _state_bytes(det, batch.service), saved[1] if saved else None, staged, queue, audit,
                   meta={"batch": batch.content_key(), "outcome": out.to_dict(full=True)})
    if candidates:
        from .canary import judge_canary

        verdict = judge_canary(batch.service, candidates, records, settings=settings, kv=kv,
                               topology=topology, remediation=queue, events=events)
        out.canary = verdict.to_dict()
        if verdict.anomaly is not None and verdict.request is not None:
            out.anomalies.append(verdict.anomaly)
            out.requests.append(verdict.request)
    return out


def _detect_production(batch: MetricBatch, records: list[MetricRecord], det: Any, out: DetectOutcome, *,
                       settings: "Settings", kv: KeyValueStore, series: KeyValueStore, queue: Queue,
                       registry: ModelRegistry, topology: ActionExecutor, audit: AuditLog | None = None) -> np.ndarray:
    """Score, then track the service's incidents (analysing each new one). ``kv``, ``queue`` and
    ``audit`` are the unit of work's staged views (outbox.py): nothing here reaches a backend before
    the caller commits the detector's state, except the series tail (``series``: the store itself),
    whose append is idempotent."""
    columns, X, ts = _matrix(batch, records, det, out)
    # Verification first: it judges raw values against the pre-incident baseline, and a
    # detector that re-levelled onto a long incident must take the recovered normal back
    # before it scores the recovery (or the recovery itself looks like an anomaly).
    out.verifications = check_recoveries(kv, batch.service, ts, X, columns, settings=settings.verification,
                                         queue=queue, audit=audit)
    scores, z = _score(det, X, ts, out, kv=kv, settings=settings, n_records=len(records))
    seen, still_open = _track(batch, records, X, ts, scores, z, columns, out, settings=settings, kv=kv, queue=queue,
                              registry=registry, topology=topology)
    if det.tags.restores_normal:
        for closed in dict.fromkeys(a for a in seen if still_open is None or a != still_open["anomaly_id"]):
            normal = ended_at_normal(kv, closed, X, columns, settings.verification)
            if normal:  # over, and back where it was: its repeat is news, not something learned
                det.restore_normal(normal)
                log.info("incident ended at its normal: the detector forgets it",
                         extra={"service": batch.service, "anomaly_id": closed, "metrics": sorted(normal)})
    append_series(series, batch.service, columns, ts, X, np.asarray(scores, float))
    return np.asarray(scores, float)


def _matrix(batch: MetricBatch, records: list[MetricRecord], det: Any,
            out: DetectOutcome) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The batch as the detector's columns x time, values beyond ±1e150 as missing."""
    arrived = sorted({k for r in records for k in r.values})
    if not det.columns_:
        det.columns_ = arrived
    elif set(arrived) - set(det.columns_):
        _take_new_metrics(det, arrived, out, batch.service)
    columns = list(det.columns_)
    X = np.array([[r.values.get(c, np.nan) for c in columns] for r in records], dtype=float)
    ts = np.array([r.timestamp.timestamp() for r in records])
    absurd = drop_out_of_range(X)
    if absurd.any():
        out.out_of_range = int(absurd.sum())
        log.warning("metric values beyond ±1e150 treated as missing",
                    extra={"service": batch.service, "values": out.out_of_range,
                           "metrics": sorted({columns[j] for j in np.nonzero(absurd)[1]})})
    if not np.isfinite(X).any():
        raise InvalidMetrics(f"batch for {batch.service} has no usable values for the known metrics ({', '.join(columns)})"
                             + (f"; {out.out_of_range} beyond ±1e150" if out.out_of_range else ""))
    return columns, X, ts


def _score(det: Any, X: np.ndarray, ts: np.ndarray, out: DetectOutcome, *, kv: KeyValueStore, settings: "Settings",
           n_records: int) -> tuple[Any, np.ndarray]:
    """Per row, the anomaly score and the per-metric deviations; the detector learns as it goes."""
    since, normal = restored_normal(kv, out.verifications)
    if det.tags.streaming:  # detectors that learn record by record, with time of day
        still_warming = max(0, det.warmup - det.n_)
        restore = bool(normal) and det.tags.restores_normal
        cut = int(np.searchsorted(ts, since, side="left")) if restore and since is not None else len(ts)
        scores, z = det.process(X[:cut], ts[:cut])
        if cut < len(ts):  # the rows after the recovery, scored against the normal it brought back
            det.restore_normal(normal)
            s2, z2 = det.process(X[cut:], ts[cut:])
            scores, z = np.concatenate([scores, s2]), np.vstack([z, z2])
        scored = max(0, n_records - still_warming)
    else:
        scores, z, scored = _score_streaming(det, X, lower_bound(settings.detection.min_severity))
    out.scored_rows = scored
    return scores, z


def _track(batch: MetricBatch, records: list[MetricRecord], X: np.ndarray, ts: np.ndarray, scores: Any, z: np.ndarray,
           columns: list[str], out: DetectOutcome, *, settings: "Settings", kv: KeyValueStore, queue: Queue,
           registry: ModelRegistry, topology: ActionExecutor) -> tuple[list[str], dict[str, Any] | None]:
    """Go on with the service's open incident or open new ones, through the incident repository.
    Returns the incidents this batch went on with or opened, and the one still open at its end."""
    cfg = settings.detection
    incidents = Incidents(kv)
    interval = float(np.median(np.diff(ts))) if len(ts) > 1 else 60.0
    open_inc = incidents.open_on(batch.service)
    still_open = None
    seen = [open_inc["anomaly_id"]] if open_inc else []  # incidents this batch went on with or opened
    for run in find_runs(scores, cfg.merge_gap_rows):
        start_ts = float(ts[run.start])
        continues = open_inc is not None and start_ts - open_inc["last_ts"] <= (cfg.merge_gap_rows + 1) * interval + 1e-6
        # an open incident goes on while its rows stay at least LOW (a detector holding a lasting
        # departure says LOW: nothing new to act on); a new one must be big enough to act on
        if not continues and not is_incident(run, cfg.min_incident_rows, cfg.min_severity):
            continue
        prior = incidents.get(open_inc["anomaly_id"]) if continues and open_inc else None
        if prior is not None and open_inc is not None:
            # The incident started in an earlier batch: its root causes and request were
            # decided at onset; this batch only extends it.
            anomaly_id = open_inc["anomaly_id"]
            peak = max(prior.peak_score, round(min(max(run.peak, 0.0), 1.0), 6))
            anomaly = prior.model_copy(update={
                "end": records[run.end].timestamp, "rows": prior.rows + run.end - run.start + 1,
                "peak_score": peak, "severity": max(prior.severity, run.severity),
            })
        else:
            anomaly_id = f"{batch.service}-{records[run.start].timestamp.strftime('%Y%m%dT%H%M%SZ')}"
            anomaly, request = _analyse(batch, records, run, z, columns, anomaly_id, settings, kv, registry, topology)
            save_baseline(kv, anomaly_id, columns, _history_before(kv, batch.service, columns, X, ts, scores, run.start))
            if request is not None:  # staged: sent once the detector's state is committed
                queue.send(request.model_dump_json(), message_id=request.request_id)
                out.requests.append(request)
        out.anomalies.append(anomaly)
        seen.append(anomaly_id)
        incidents.save(anomaly)
        log.info("anomaly", extra={"service": batch.service, "anomaly_id": anomaly_id, "severity": anomaly.severity.value})
        open_inc = {"anomaly_id": anomaly_id, "last_ts": float(ts[run.end])}
        if len(records) - 1 - run.end <= cfg.merge_gap_rows:
            still_open = open_inc
    incidents.set_open(batch.service, still_open)
    return seen, still_open


def _take_new_metrics(det: Any, arrived: list[str], out: DetectOutcome, service: str) -> None:
    """Metrics a service starts reporting after its first batch join its detector and warm up
    on their own; a detector that cannot grow (a fitted forest's features are fixed) ignores
    them, and the outcome says which and why."""
    new = [c for c in arrived if c not in det.columns_]
    if hasattr(det, "add_columns"):
        det.add_columns(new)
        log.info("new metrics join the detector and warm up", extra={"service": service, "metrics": new})
        return
    why = f"the {det.name} detector was fitted on {', '.join(det.columns_)}; refit it (skyloop fit-detector) to add these"
    out.ignored_metrics.update({c: why for c in new})
    log.warning("metrics ignored", extra={"service": service, "metrics": new, "why": why})


def _state_bytes(det: Any, service: str) -> bytes:
    """What this batch learned. It is written only over the state it started from (the commit
    point, outbox.commit): a concurrent batch that committed first makes this one ``StaleState``
    (transient), redelivered and scored again on top of the other's learning instead of erasing it."""
    state = det.to_bytes()
    if not state_is_sound(state, det.tags.nan_ok):  # never persist a state that would blind the next batch
        log.warning("detector state went non-finite: not saved, the next batch starts fresh", extra={"service": service})
        state = b""
    return bytes(state)


CHUNK_ROWS = 32


def _score_streaming(det: Any, X: np.ndarray, learn_below: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Score in time order, learning as it goes, chunk by chunk.

    A cold detector warms up on the first rows of the batch and scores the rest,
    so one directly invoked batch is analysed too; rows at or above
    ``learn_below`` are not learned, so an incident never becomes "normal".
    """
    scores = np.zeros(X.shape[0])
    z = np.zeros_like(X)
    scored = 0
    for a in range(0, X.shape[0], CHUNK_ROWS):
        chunk = X[a : a + CHUNK_ROWS]
        if det.fitted_:
            scores[a : a + len(chunk)] = det.score(chunk)
            z[a : a + len(chunk)] = det.zscores(chunk)
            scored += len(chunk)
        learn = (scores[a : a + len(chunk)] < learn_below) & np.isfinite(chunk).any(axis=1)
        if learn.any():
            det.partial_fit(chunk[learn])
    return scores, z, scored


def _analyse(
    batch: MetricBatch,
    records: list[MetricRecord],
    run: Run,
    z: np.ndarray,
    columns: list[str],
    anomaly_id: str,
    settings: "Settings",
    kv: KeyValueStore,
    registry: ModelRegistry,
    topology: ActionExecutor,
) -> tuple[AnomalyFound, RemediationRequested | None]:
    cfg = settings.detection
    seg = z[run.start : run.end + 1]
    context = _context(batch.service, float(records[run.start].timestamp.timestamp()), settings, kv, registry, topology)
    causes = rank_causes(seg, columns, threshold=cfg.z_threshold, context=context)
    absmax = np.nanmax(np.abs(seg), axis=0)
    deviating = [columns[j] for j in np.argsort(-absmax) if absmax[j] > cfg.z_threshold]
    anomaly = AnomalyFound(
        event_id=f"anomaly:{anomaly_id}:{run.end}",
        anomaly_id=anomaly_id,
        service=batch.service,
        start=records[run.start].timestamp,
        end=records[run.end].timestamp,
        peak_score=round(min(max(run.peak, 0.0), 1.0), 6),
        severity=run.severity,
        deviating_metrics=deviating,
        causes=causes[:5],
        rows=run.end - run.start + 1,
    )
    if not causes:
        return anomaly, None
    top = causes[0]
    request = RemediationRequested(
        event_id=f"request:{anomaly_id}:{top.action}",
        request_id=f"{anomaly_id}:{top.action}",
        action=top.action,
        target=batch.service,
        severity=run.severity,
        reason=f"{top.metric}: {top.recommendation}",
        anomaly_id=anomaly_id,
    )
    return anomaly, request


def _history_before(kv: KeyValueStore, service: str, columns: list[str], X: np.ndarray, ts: np.ndarray,
                    scores: np.ndarray, start: int) -> np.ndarray:
    """The rows before an incident (the stored tail before this batch, then this batch's) that the
    detector did not call an incident (MEDIUM or above): its pre-incident normal. A restart that
    fixed memory was once judged unresolved against a "normal" of 97 taken during a leak. Rows held
    at LOW stay in: leaving them out too moved the demo's connection-pool baseline enough to change
    which cause ranked first. A redelivered batch may already be in the tail: it is not counted
    twice."""
    calm = lower_bound(Severity.MEDIUM)
    parts = []
    old = load_series(kv, service, columns)
    if old is not None:
        before = old["t"] < ts[0]
        parts.append(old["x"][before & (old["score"] < calm)])
    parts.append(X[:start][np.asarray(scores[:start]) < calm])
    return np.vstack(parts) if parts else X[:0]


def _context(service: str, start_ts: float, settings: "Settings", kv: KeyValueStore, registry: ModelRegistry,
             topology: ActionExecutor) -> RcaContext:
    """Deployment context for RCA: the production change just before the incident, if any. A target
    this function may not read (a missing grant) costs the context, never the incident."""
    try:
        group = topology.describe(service).get("model_group")
    except NotFound:
        group = None
    except AccessDenied as exc:
        log.warning("root-cause analysis without deployment context", extra={"service": service, "why": exc.reason})
        group = None
    if not group:
        return RcaContext(recent_deploy_minutes=settings.detection.recent_deploy_minutes)
    promo = last_promotion(kv, group, before=start_ts + 60.0)
    prod = registry.alias(group, "production")
    if promo is None or prod is None or prod.version != promo["version"]:
        return RcaContext(recent_deploy_minutes=settings.detection.recent_deploy_minutes)
    return RcaContext(
        deployed_version=promo["version"],
        previous_version=promo.get("previous"),
        minutes_since_deploy=(start_ts - promo["at"]) / 60.0,
        recent_deploy_minutes=settings.detection.recent_deploy_minutes,
    )
