"""Bounded hyperparameter search: successive halving picks parameters within the time
asked, the winner is cross-validated as usual, and a bad spec is a typed error."""

from __future__ import annotations

import pytest

from skyloop.errors import InvalidDataset
from skyloop.events import TrainingDataArrived
from skyloop.handlers import on_training_data
from skyloop.training.search import SPACES

from ..conftest import put_dataset


@pytest.mark.parametrize("max_seconds", [2, 4])
def test_search_keeps_its_time_budget(max_seconds) -> None:
    """A budget of 4 s once took 15.9 s: the search now stops before a fit that would overrun."""
    import time

    from skyloop.app.demo_data import churn_csv
    from skyloop.training.dataset import DatasetLimits, load_dataset
    from skyloop.training.search import search

    ds = load_dataset(churn_csv(20_000, label_noise=0.1, seed=3), target="churned", limits=DatasetLimits())
    t0 = time.perf_counter()
    params, report = search(ds, {"random_state": 42}, folds=5, candidates=27, max_seconds=max_seconds, scoring="accuracy")
    took = time.perf_counter() - t0
    assert took <= max_seconds * 1.1 + 0.25, (took, report)
    assert report["fits"] >= 1 and report["best_params"] and report["stopped_by_budget"]
    assert all(params[k] == v for k, v in report["best_params"].items())


def test_search_chooses_from_the_space_and_records_itself(runtime, churn_bytes) -> None:
    uri = put_dataset(runtime, "churn", churn_bytes, {"target": "churned", "params": {
        "n_estimators": 20, "search": {"candidates": 6, "max_seconds": 20}}})
    out = on_training_data(TrainingDataArrived(uri=uri), runtime.adapters)
    v = runtime.registry.get(out["model_group"], out["version"])
    report = v.lineage["search"]
    assert report["candidates"] == 6 and report["rungs"] >= 1 and report["seconds"] < 60
    for name, value in report["best_params"].items():
        assert value in SPACES[v.params["model"]][f"model__{name}"]
        assert v.params[name] == value  # the registered params are the ones the model was trained with
    assert "search" not in v.params and v.lineage["requested_params"]["search"]["candidates"] == 6
    assert v.metrics["cv_accuracy_mean"] > 0.5  # the winner went through the usual 5-fold CV


@pytest.mark.parametrize("spec", [{"candidates": 1}, {"max_seconds": 0}, {"trials": 3}, "yes"])
def test_bad_search_spec_is_typed(spec) -> None:
    from skyloop.training.model import resolve_params

    with pytest.raises(InvalidDataset, match="search"):
        resolve_params({"search": spec})


def test_search_covers_gradient_boosting(runtime, churn_bytes) -> None:
    uri = put_dataset(runtime, "churn", churn_bytes, {"target": "churned", "model": "hist_gradient_boosting",
                                                      "params": {"search": {"candidates": 6, "max_seconds": 10}}})
    out = on_training_data(TrainingDataArrived(uri=uri), runtime.adapters)
    v = runtime.registry.get(out["model_group"], out["version"])
    assert v.lineage["model_family"] == "hist_gradient_boosting" and v.lineage["search"]["fits"] >= 1
    for name, value in v.lineage["search"]["best_params"].items():
        assert value in SPACES["hist_gradient_boosting"][f"model__{name}"] and v.params[name] == value
