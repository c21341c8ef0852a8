"""A/B decisions: the planned sample size, no decision before it, and each verdict after it."""

from __future__ import annotations

import pytest

from skyloop.serving.abtest import decide, sample_size


def test_sample_size_matches_the_textbook_formula() -> None:
    # p 0.10 -> 0.12, alpha 0.05 two-sided, power 0.8: 3,841 per arm (Fleiss, pooled H0 variance)
    assert sample_size(0.10, 0.02) == 3841
    assert sample_size(0.10, 0.04) < sample_size(0.10, 0.02) < sample_size(0.10, 0.01)
    with pytest.raises(ValueError):
        sample_size(0.99, 0.05)


def test_no_decision_before_the_horizon_even_with_a_big_gap() -> None:
    d = decide(100, 1000, 200, 1000, p_base=0.10, mde=0.02)
    assert d.verdict == "continue" and d.n_required == 3841 and d.p_value is None


def test_verdicts_after_the_horizon() -> None:
    n = 4000
    assert decide(400, n, 520, n, p_base=0.10, mde=0.02).verdict == "b_wins"
    assert decide(520, n, 400, n, p_base=0.10, mde=0.02).verdict == "a_wins"
    flat = decide(400, n, 410, n, p_base=0.10, mde=0.02)
    assert flat.verdict == "inconclusive" and flat.p_value > 0.05


def _live(runtime):
    from skyloop.app.demo_data import churn_csv
    from skyloop.ports.registry import approve

    from .test_deployment import approve_and_deploy, train_version

    approve_and_deploy(runtime, train_version(runtime, churn_csv(300, label_noise=0.1, seed=1), "a"))
    v2 = train_version(runtime, churn_csv(300, label_noise=0.1, seed=2), "b")
    approve(runtime.registry, runtime.adapters.events, "churn", v2, actor="test")
    runtime.event_queue.receive(10)  # the approval event is not this test's concern
    return v2


@pytest.mark.parametrize("b_successes, verdict, production, b_status", [
    (520, "b_wins", 2, "APPROVED"), (400, "inconclusive", 1, "APPROVED"), (300, "a_wins", 1, "REJECTED")])
def test_ab_test_through_the_cli(runtime, b_successes, verdict, production, b_status) -> None:
    import json

    from typer.testing import CliRunner

    from skyloop.app.cli import app

    v2 = _live(runtime)
    home = ["--home", str(runtime.settings.home)]
    r = CliRunner()
    res = r.invoke(app, ["ab", "start", "churn", str(v2), "--p-base", "0.1", "--mde", "0.02", *home])
    assert res.exit_code == 0, res.output
    assert runtime.deployer.traffic("churn") == {"production": 0.5, "canary": 0.5}
    served = {runtime.deployer.route("churn") for _ in range(200)}
    assert served == {"production", "canary"}  # both arms really get traffic
    r.invoke(app, ["ab", "record", "churn", "a", "--successes", "400", "--trials", "4000", *home])
    res = r.invoke(app, ["ab", "decide", "churn", "--json", *home])
    assert json.loads(res.stdout)["verdict"] == "continue"  # B has no outcomes yet: no peeking
    r.invoke(app, ["ab", "record", "churn", "b", "--successes", str(b_successes), "--trials", "4000", *home])
    res = r.invoke(app, ["ab", "decide", "churn", "--apply", "--json", *home])
    out = json.loads(res.stdout)
    assert out["verdict"] == verdict and out["applied"] and out["n_required"] == 3841
    assert runtime.registry.alias("churn", "production").version == production
    assert runtime.deployer.traffic("churn") == {"production": 1.0}
    assert runtime.registry.get("churn", v2).status.value == b_status


def test_ab_start_refuses_unapproved_or_production(runtime) -> None:
    from skyloop.serving.abtest import start
    from skyloop.errors import StateConflict

    v2 = _live(runtime)
    with pytest.raises(StateConflict):
        start("churn", 1, split=0.5, p_base=0.1, mde=0.02, deployer=runtime.deployer, registry=runtime.registry,
              kv=runtime.adapters.kv)
    from skyloop.ports.registry import Status

    runtime.registry.set_status("churn", v2, Status.ARCHIVED, actor="test")
    with pytest.raises(StateConflict):
        start("churn", v2, split=0.5, p_base=0.1, mde=0.02, deployer=runtime.deployer, registry=runtime.registry,
              kv=runtime.adapters.kv)
