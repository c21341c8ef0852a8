"""Experiment tracking over the registry: every version is a run with its params, CV
metrics, data hash, code version and duration (all in the lineage at registration), so
listing and comparing runs needs no second store to keep in step. An MLflow store, if
configured, gets a mirror of them (``mlflow_mirror``, built by ``skyloop.bootstrap``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ports.registry import ModelVersion


def run_rows(versions: list["ModelVersion"]) -> list[dict[str, Any]]:
    out = []
    for v in versions:
        lin = v.lineage
        shift = lin.get("data_vs_previous") or {}
        out.append({
            "version": v.version, "status": v.status.value, "primary_metric": v.primary_metric, "score": v.score,
            "params": v.params, "metrics": v.metrics, "data_sha256": lin.get("data_sha256", ""),
            "data_uri": lin.get("data_uri"), "rows": lin.get("rows"), "code_version": lin.get("code_version"),
            "sklearn_version": lin.get("sklearn_version"), "train_seconds": lin.get("train_seconds"),
            "shifted_vs_previous": shift.get("shifted_features", []), "created_at": v.created_at.isoformat(),
        })
    return out


def compare_runs(a: "ModelVersion", b: "ModelVersion") -> dict[str, Any]:
    """What changed from run a to run b: params, metrics (with deltas), data."""
    ra, rb = run_rows([a, b])
    params = {k: {"a": a.params.get(k), "b": b.params.get(k)}
              for k in sorted(set(a.params) | set(b.params)) if a.params.get(k) != b.params.get(k)}
    metrics = {k: {"a": a.metrics.get(k), "b": b.metrics.get(k),
                   "delta": round(b.metrics[k] - a.metrics[k], 6) if k in a.metrics and k in b.metrics else None}
               for k in sorted(set(a.metrics) | set(b.metrics))}
    return {"a": a.version, "b": b.version, "params_changed": params, "metrics": metrics,
            "same_data": ra["data_sha256"] == rb["data_sha256"],
            "data": {"a": ra["data_sha256"][:12], "b": rb["data_sha256"][:12], "rows": {"a": ra["rows"], "b": rb["rows"]}},
            "code": {"a": ra["code_version"], "b": rb["code_version"]}}
