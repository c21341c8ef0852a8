"""Bounded hyperparameter search: successive halving picks parameters within the time
asked, the winner is cross-validated as usual, and a bad spec is a typed error."""

from __future__ import annotations

import pytest

from skyloop.errors import InvalidDataset
from skyloop.events import TrainingDataArrived
from skyloop.handlers import on_training_data
from skyloop.training.search import SPACE, plan_rows

from ..conftest import put_dataset


def test_plan_rows_shrinks_the_budget_to_fit_the_time() -> None:
    full = plan_rows(100_000, 12, 5, seconds_per_row=1e-6, max_seconds=100, min_rows=50)
    tight = plan_rows(100_000, 12, 5, seconds_per_row=1e-4, max_seconds=10, min_rows=50)
    assert full == 100_000 and 50 <= tight < full


def test_search_chooses_from_the_space_and_records_itself(runtime, churn_bytes) -> None:
    uri = put_dataset(runtime, "churn", churn_bytes, {"target": "churned", "params": {
        "n_estimators": 20, "search": {"candidates": 6, "max_seconds": 20}}})
    out = on_training_data(TrainingDataArrived(uri=uri), runtime.adapters)
    v = runtime.registry.get(out["model_group"], out["version"])
    report = v.lineage["search"]
    assert report["candidates"] == 6 and report["rungs"] >= 1 and report["seconds"] < 60
    for name, value in report["best_params"].items():
        assert value in SPACE[f"model__{name}"]
        assert v.params[name] == value  # the registered params are the ones the model was trained with
    assert "search" not in v.params and v.lineage["requested_params"]["search"]["candidates"] == 6
    assert v.metrics["cv_accuracy_mean"] > 0.5  # the winner went through the usual 5-fold CV


@pytest.mark.parametrize("spec", [{"candidates": 1}, {"max_seconds": 0}, {"trials": 3}, "yes"])
def test_bad_search_spec_is_typed(spec) -> None:
    from skyloop.training.model import resolve_params

    with pytest.raises(InvalidDataset, match="search"):
        resolve_params({"search": spec})
