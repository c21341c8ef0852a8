"""The performance gate on real training runs: a held-back slice scored for the candidate
and for production, per-segment regressions, and every decision recorded."""

from skyloop.app.demo_data import churn_csv
from skyloop.events import TrainingDataArrived
from skyloop.handlers import on_training_data
from skyloop.serving.history import gate_decisions
from skyloop.config import ApprovalGate
from skyloop.ports.registry import Status

from ..conftest import put_dataset

GATE = ApprovalGate(enabled=True, min_score=0.55, margin=0.0, holdout_margin=0.005, max_segment_drop=0.05)


def _train(rt, name, data, params=None):
    uri = put_dataset(rt, name, data, {"target": "churned", "model_group": "churn", **({"params": params} if params else {})})
    return on_training_data(TrainingDataArrived(uri=uri), rt.adapters)


def test_candidate_is_judged_against_production_on_the_same_held_back_rows(make_runtime):
    rt = make_runtime(gate=GATE)
    v1 = _train(rt, "v1", churn_csv(1500, label_noise=0.15, seed=1), {"n_estimators": 30, "max_depth": 2})
    assert v1["auto_approved"], v1["gate"]
    rt.pump()
    assert rt.registry.alias("churn", "production").version == 1

    # cleaner labels and a deeper forest: better on its own CV and on the slice, for every segment
    v2 = _train(rt, "v2", churn_csv(2000, label_noise=0.05, seed=2))
    mv2 = rt.registry.get("churn", 2)
    held = mv2.lineage["holdout"]
    assert held["rows"] == 400 and held["baseline"]["version"] == 1
    assert held["candidate"]["accuracy"] > held["baseline"]["metrics"]["accuracy"] + 0.005
    assert set(held["segments"]["contract"]) == {"month-to-month", "one-year", "two-year"}
    assert mv2.metrics["holdout_accuracy"] == held["candidate"]["accuracy"]
    assert v2["auto_approved"] and "held-back accuracy on 400 rows" in v2["gate"], v2["gate"]
    rt.pump()
    assert rt.registry.alias("churn", "production").version == 2

    # a stump on the same kind of data: refused, stays PENDING for a human, and the refusal is on record
    v3 = _train(rt, "v3", churn_csv(2000, label_noise=0.05, seed=3), {"n_estimators": 3, "max_depth": 1})
    assert not v3["auto_approved"] and v3["gate"].startswith("refused"), v3["gate"]
    assert rt.registry.get("churn", 3).status == Status.PENDING
    decisions = gate_decisions(rt.adapters.kv, "churn")
    assert [(d["version"], d["approve"], d["against"]) for d in decisions] == [(1, True, None), (2, True, 1), (3, False, 2)]
    assert any("held-back" in c and "<" in c for c in decisions[-1]["checks"])


def test_segment_regression_blocks_an_otherwise_better_candidate(make_runtime):
    rt = make_runtime(gate=ApprovalGate(enabled=True, min_score=0.6, max_segment_drop=0.0, holdout_margin=-1.0,
                                        margin=-1.0))
    _train(rt, "v1", churn_csv(1500, label_noise=0.05, seed=4))
    rt.pump()
    # same data size, a much weaker model: every margin is waived, only the segment check can refuse it
    out = _train(rt, "v2", churn_csv(1500, label_noise=0.05, seed=5), {"n_estimators": 2, "max_depth": 1})
    assert not out["auto_approved"] and "segment contract=" in out["gate"], out["gate"]


def test_without_a_comparable_slice_the_gate_asks_a_human(make_runtime):
    rt = make_runtime(gate=GATE)
    _train(rt, "v1", churn_csv(1500, label_noise=0.1, seed=6))
    rt.pump()
    # production cannot score data that lacks one of its features: no like-for-like evidence
    data = churn_csv(1500, label_noise=0.02, seed=7).decode().splitlines()
    header = data[0].split(",")
    drop = header.index("usage_gb")
    cut = "\n".join(",".join(v for i, v in enumerate(line.split(",")) if i != drop) for line in data) + "\n"
    out = _train(rt, "v2", cut.encode())
    assert not out["auto_approved"]
    assert "held-back comparison unavailable (production v1 cannot score this data: missing usage_gb)" in out["gate"]


def test_the_gate_compares_across_model_families(make_runtime):
    """A boosting candidate is judged against a forest in production on the same held-back rows."""
    rt = make_runtime(gate=GATE)
    assert _train(rt, "v1", churn_csv(1500, label_noise=0.15, seed=1), {"model": "random_forest", "n_estimators": 30,
                                                                        "max_depth": 2})["auto_approved"]
    rt.pump()
    v2 = _train(rt, "v2", churn_csv(2000, label_noise=0.05, seed=2), {"model": "hist_gradient_boosting"})
    mv1, mv2 = rt.registry.get("churn", 1), rt.registry.get("churn", 2)
    assert (mv1.lineage["model_family"], mv2.lineage["model_family"]) == ("random_forest", "hist_gradient_boosting")
    held = mv2.lineage["holdout"]
    assert held["baseline"]["version"] == 1 and held["rows"] == 400
    assert v2["auto_approved"] and "held-back accuracy on 400 rows" in v2["gate"], v2["gate"]
