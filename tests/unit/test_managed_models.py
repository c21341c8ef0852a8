"""A version a cloud service trained and serves itself (Vertex AI AutoML) in the core: registered
PENDING with a descriptor for its artifact and gated on its own test split; every loader refuses
it by name; a Skyloop-trained candidate against it skips the held-back comparison and says why.
The local registry stands in for Vertex's (the registration flow is the port's, the same on every
cloud); the Vertex side is tests/integration/gcp/test_automl.py."""

from __future__ import annotations

from typing import Any

import pytest

from skyloop.errors import NotSupported
from skyloop.ports import ManagedTraining
from skyloop.ports.registry import Status
from skyloop.training.managed import register_managed, sample_profile

from ..conftest import put_dataset


def _run(churn_bytes: bytes, **fields: Any) -> ManagedTraining:
    profile = sample_profile(churn_bytes[:4096], "churned")
    base = dict(backend="vertex-automl", job_id="k1", group="churn", status="succeeded", service="Vertex AI AutoML",
                model="projects/p/locations/r/models/churn@1", metrics={"test_accuracy": 0.84, "test_roc_auc": 0.9},
                params={"model": "automl"}, lineage={**profile, "primary_metric": "accuracy", "data_uri": "gs://b/churn.csv"})
    return ManagedTraining(**{**base, **fields})


def test_a_managed_run_is_registered_once_and_gated_on_its_test_split(make_runtime: Any, churn_bytes: bytes) -> None:
    rt = make_runtime(gate={"enabled": True, "min_score": 0.9})
    a = rt.adapters
    first = register_managed(_run(churn_bytes), settings=a.settings, store=a.store, registry=a.registry,
                             events=a.events, kv=a.kv)
    again = register_managed(_run(churn_bytes), settings=a.settings, store=a.store, registry=a.registry,
                             events=a.events, kv=a.kv)
    assert first.model.version == again.model.version == 1 and len(a.registry.versions("churn")) == 1
    assert first.model.status is Status.PENDING and first.gate_reason == "refused: test split accuracy=0.8400 < min_score 0.9000"
    v = first.model
    assert v.managed is not None and v.managed["model"] == "projects/p/locations/r/models/churn@1"
    with pytest.raises(NotSupported, match="Vertex AI AutoML trained and serves itself"):
        from skyloop.ports.artifacts import load_verified

        load_verified(a.store, v.artifact_uri, v.artifact_sha256)


def test_a_skyloop_candidate_against_a_managed_production_skips_the_slice_and_says_why(
        make_runtime: Any, churn_bytes: bytes) -> None:
    from skyloop.events import BatchPredictionRequested, TrainingDataArrived
    from skyloop.handlers import on_training_data
    from skyloop.handlers.score import on_batch

    rt = make_runtime(gate={"enabled": True, "min_score": 0.5, "margin": 0.0})
    a = rt.adapters
    register_managed(_run(churn_bytes), settings=a.settings, store=a.store, registry=a.registry, events=a.events, kv=a.kv)
    a.registry.set_status("churn", 1, Status.APPROVED, actor="reviewer")
    a.registry.set_alias("churn", "production", 1)
    uri = put_dataset(rt, "churn", churn_bytes, {"target": "churned"})
    out = on_training_data(TrainingDataArrived(uri=uri), a)
    v2 = a.registry.get("churn", out["version"])
    assert v2.lineage["holdout"]["baseline_skipped"] == ("production v1 is a model Vertex AI AutoML serves itself: it "
                                                         "cannot score the held-back slice here")
    assert "production v1 (test split) 0.8400" in out["gate"]  # the two scores' sources, said
    with pytest.raises(NotSupported, match="churn v1 is a model Vertex AI AutoML serves itself"):
        on_batch(BatchPredictionRequested(uri=uri, model_group="churn"), a)
