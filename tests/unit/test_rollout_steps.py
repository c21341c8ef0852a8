"""The rollout as steps: each one short, resumable after a poll, and never repeating an effect."""

from __future__ import annotations

import pytest

from skyloop.errors import DeploymentFailed, InvalidRequest, StaleState
from skyloop.ports.registry import Status, approve
from skyloop.serving.history import deployment_history
from skyloop.ports.rollout import ABORTABLE, ENTRIES, STEP_NAMES, SUCCESSORS
from skyloop.serving.rollout import (
    STEPS,
    RolloutContext,
    execution_name,
    run_inline,
    run_step,
    start_state,
)

from .test_deployment import approve_and_deploy, train_version


class SlowEndpoint:
    """The local deployer behind an endpoint that needs ``polls`` looks after each change before it
    serves, like a cloud endpoint updating for minutes; it counts the changes it was asked for."""

    def __init__(self, inner, polls: int = 2) -> None:
        self.inner, self.polls, self.pending, self.changes = inner, polls, 0, []

    def _change(self, what, *args):
        assert self.pending == 0, f"{what} started while the endpoint was still updating"
        self.changes.append((what, *args[:2]))
        self.pending = self.polls
        return getattr(self.inner, what)(*args)

    def deploy(self, group, slot, version):
        return self._change("deploy", group, slot, version)

    def undeploy(self, group, slot):
        return self._change("undeploy", group, slot)

    def set_traffic(self, group, weights):
        return self._change("set_traffic", group, dict(weights))

    def settled(self, group):
        if self.pending:
            self.pending -= 1
            return False
        return True

    def predict(self, group, rows, slot=None):
        assert self.pending == 0, "predicted on an endpoint still updating"
        return self.inner.predict(group, rows, slot)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _approved(rt, data, name):
    v = train_version(rt, data, name)
    approve(rt.registry, rt.adapters.events, "churn", v, actor="test")
    return rt.registry.get("churn", v)


def test_the_step_table_is_closed() -> None:
    """The graph the runners read (ports/rollout.py) names exactly the steps serving/rollout.py runs."""
    assert set(STEP_NAMES) == set(SUCCESSORS) == set(STEPS) and set(ENTRIES) <= set(STEPS) and ABORTABLE <= set(STEPS)
    assert all(t in STEPS for ts in SUCCESSORS.values() for t in ts)


def test_a_slow_endpoint_is_polled_never_waited_on_and_no_change_is_repeated(runtime, two_datasets):
    v1 = approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))["version"]
    mv2 = _approved(runtime, two_datasets[1], "b")
    slow = SlowEndpoint(runtime.deployer, polls=2)
    ctx = RolloutContext.of(runtime.adapters)
    ctx.deployer = slow
    slept: list[float] = []
    st = run_inline(start_state(mv2, "req-1"), ctx, sleep=slept.append)
    assert st["status"] == "promoted", st
    assert runtime.registry.alias("churn", "production").version == mv2.version != v1
    assert runtime.deployer.slots("churn") == {"production": mv2.version}
    # staging, canary, the split, production, 100% on production, -canary, -staging: each once
    assert len(slow.changes) == len({repr(c) for c in slow.changes}) == 7, slow.changes
    assert set(slept) == {runtime.settings.deployment.poll_seconds}
    assert len(slept) == 2 * (len(slow.changes) - 1)  # each change but the last polled out before the next
    assert [e["kind"] for e in deployment_history(runtime.adapters.kv, "churn")][-1] == "promoted"


def test_a_step_handed_back_for_a_poll_resumes_where_it_stopped(runtime, two_datasets):
    approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))
    mv2 = _approved(runtime, two_datasets[1], "b")
    slow = SlowEndpoint(runtime.deployer, polls=1)
    ctx = RolloutContext.of(runtime.adapters)
    ctx.deployer = slow
    st = run_step("begin", start_state(mv2, "req-2"), ctx)
    st = run_step("staging", st, ctx)
    st = run_step("smoke", st, ctx)  # staging still updating: come back
    assert st["next"] == "smoke" and st["wait"] > 0
    st = run_step("smoke", st, ctx)
    st = run_step("canary", st, ctx)  # deploys the canary, then must wait before the split
    assert (st["next"], st["done"][-1]) == ("canary", "deploy canary")
    again = run_step("canary", st, ctx)  # the engine comes back: the canary is not deployed twice
    assert [c for c in slow.changes if c[0] == "deploy" and c[2] == "canary"] == [("deploy", "churn", "canary")]
    assert again["next"] == "probe" and "traffic canary" in again["done"]


def test_a_failing_check_hands_over_to_abort_which_rolls_back(runtime, two_datasets, monkeypatch):
    v1 = approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))["version"]
    mv2 = _approved(runtime, two_datasets[1], "b")
    ctx = RolloutContext.of(runtime.adapters)
    st = run_step("staging", run_step("begin", start_state(mv2, "req-3"), ctx), ctx)
    monkeypatch.setattr(runtime.deployer, "predict", lambda *a, **k: ["maybe"] * 8)
    st = run_step("smoke", st, ctx)
    assert (st["next"], st["failed_step"]) == ("abort", "smoke") and "unknown class" in st["failed_reason"]
    st = run_step("abort", st, ctx)
    assert st["status"] == "rolled_back" and st["next"] == "done"
    assert runtime.registry.get("churn", mv2.version).status == Status.REJECTED  # its own smoke tests: its fault
    assert runtime.deployer.slots("churn") == {"production": v1} and runtime.deployer.traffic("churn") == {"production": 1.0}
    assert deployment_history(runtime.adapters.kv, "churn")[-1]["step"] == "smoke"
    assert deployment_history(runtime.adapters.kv, "churn")[-1]["blames"] == "model"


def test_abort_reads_what_the_workflow_engine_caught(runtime, two_datasets):
    approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))
    mv2 = _approved(runtime, two_datasets[1], "b")
    ctx = RolloutContext.of(runtime.adapters)
    st = run_step("begin", start_state(mv2, "req-4"), ctx)
    st = {**st, "next": "staging", "caught": {"Error": "ThrottlingException", "Cause": "Rate exceeded"}}
    out = run_step("abort", st, ctx)
    assert out["status"] == "rolled_back" and out["failed_step"] == "staging"
    assert out["reason"] == "ThrottlingException: Rate exceeded"
    # a throttled platform is not the model's fault: rolled back, still APPROVED, deployable again
    assert runtime.registry.get("churn", mv2.version).status == Status.APPROVED
    assert deployment_history(runtime.adapters.kv, "churn")[-1]["blames"] == "platform"


def test_transient_failures_are_raised_for_a_retry_not_aborted(runtime, two_datasets, monkeypatch):
    mv = _approved(runtime, two_datasets[0], "a")
    ctx = RolloutContext.of(runtime.adapters)
    st = run_step("begin", start_state(mv, "req-5"), ctx)

    def busy(*a, **k):
        raise StaleState("someone else wrote the registry")

    monkeypatch.setattr(runtime.registry, "set_alias", busy)
    with pytest.raises(StaleState):
        run_step("staging", st, ctx)
    assert runtime.registry.get("churn", mv.version).status == Status.APPROVED


def test_refusals_outside_the_abortable_steps_fail_the_request(runtime, two_datasets):
    v = train_version(runtime, two_datasets[0], "a")
    ctx = RolloutContext.of(runtime.adapters)
    with pytest.raises(DeploymentFailed, match="not APPROVED"):
        run_step("begin", start_state(runtime.registry.get("churn", v), "req-6"), ctx)
    with pytest.raises(InvalidRequest, match="unknown rollout step"):
        run_step("shift", {"group": "churn", "version": v, "next": "shift"}, ctx)


def test_an_endpoint_that_never_settles_fails_the_inline_run(runtime, two_datasets):
    mv = _approved(runtime, two_datasets[0], "a")
    ctx = RolloutContext.of(runtime.adapters)
    ctx.deployer = SlowEndpoint(runtime.deployer, polls=10**6)
    with pytest.raises(DeploymentFailed, match="still waiting for the endpoint"):
        run_inline(start_state(mv, "req-7"), ctx, sleep=lambda s: None, max_polls=5)


def test_execution_names_are_stable_and_fit_the_engine() -> None:
    st = {"group": "churn" * 20, "version": 3, "next": "begin", "request": "e/1 2"}
    name = execution_name(st)
    assert name == execution_name(dict(st)) and len(name) <= 80 and all(c.isalnum() or c in "-_" for c in name)
    assert name != execution_name({**st, "request": "e/1 3"})


def test_one_rollout_per_group_at_a_time(runtime, two_datasets):
    """Two approvals of one group would interleave endpoint changes: the second waits for the lease."""
    approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))
    from skyloop.app.demo_data import churn_csv

    mv2, mv3 = _approved(runtime, two_datasets[1], "b"), _approved(runtime, churn_csv(300, label_noise=0.1, seed=3), "c")
    ctx = RolloutContext.of(runtime.adapters)
    first = run_step("staging", run_step("begin", start_state(mv2, "req-a"), ctx), ctx)
    second = run_step("begin", start_state(mv3, "req-b"), ctx)
    assert second["next"] == "begin" and second["wait"] > 0 and "to finish" in second["waiting_for"]
    assert runtime.deployer.slots("churn").get("staging") == mv2.version  # untouched by the second
    first = run_inline(first, ctx)
    assert first["status"] == "promoted"
    second = run_inline(second, ctx, sleep=lambda s: None)
    assert second["status"] == "promoted" and runtime.registry.alias("churn", "production").version == mv3.version


def test_an_unexpected_error_fails_the_step_for_good_and_gives_back_the_lease(runtime, two_datasets, monkeypatch):
    """An error no adapter named (an IndexError from an SDK's answer) crashed the step and held the
    group's lease for an hour: every later rollout of the group waited. It is now a permanent
    failure of the step: an abortable step hands over to abort, any other gives the lease back."""
    approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))
    mv2 = _approved(runtime, two_datasets[1], "b")
    ctx = RolloutContext.of(runtime.adapters)
    st = run_step("begin", start_state(mv2, "req-x"), ctx)
    monkeypatch.setattr(runtime.deployer, "deploy", lambda *a, **k: [][0])  # what a truncated name once did
    st = run_step("staging", st, ctx)
    assert (st["next"], st["failed_step"]) == ("abort", "staging") and "IndexError" in st["failed_reason"]
    monkeypatch.undo()
    assert run_inline(st, ctx)["status"] == "rolled_back"
    assert runtime.registry.get("churn", mv2.version).status == Status.APPROVED  # the platform's fault, not v2's
    # outside the abortable steps: the request fails, and the lease is free for the next rollout
    from skyloop.app.demo_data import churn_csv

    mv3 = _approved(runtime, churn_csv(300, label_noise=0.1, seed=3), "c")
    import skyloop.serving.rollout as rollout

    original = rollout.STEPS["begin"]

    def lock_then_crash(st, ctx):
        original(st, ctx)
        raise KeyError("EndpointConfigName")

    monkeypatch.setitem(rollout.STEPS, "begin", lock_then_crash)
    with pytest.raises(DeploymentFailed, match="KeyError at step begin"):
        run_step("begin", start_state(mv3, "req-y"), ctx)
    monkeypatch.undo()
    assert run_inline(start_state(mv3, "req-z"), ctx)["status"] == "promoted"  # no lease held


def test_long_group_names_stay_distinct_on_sagemaker() -> None:
    """Cut at 63 characters, two groups of 55 or more shared an endpoint, v1 and v2 one model, and an
    endpoint config lost its unique tail."""
    from skyloop.clouds.aws.sagemaker import fit_name

    a, b = "skyloop-" + "x" * 52 + "-eu", "skyloop-" + "x" * 52 + "-us"
    assert fit_name(a) != fit_name(b) and max(len(fit_name(a)), len(fit_name(b))) <= 63
    models = {fit_name(fit_name(a), f"-v{v}") for v in (1, 2, 10)}
    assert len(models) == 3 and all(len(m) <= 63 and m.endswith(("-v1", "-v2", "-v10")) for m in models)
    config = fit_name(fit_name(a), "-0a1b2c3d")
    assert config.endswith("-0a1b2c3d") and len(config) <= 63 and config != fit_name(a)
    assert fit_name("skyloop-churn", "-v3") == "skyloop-churn-v3"  # short names are unchanged


def test_a_step_that_waits_past_its_bound_aborts_the_rollout(make_runtime, two_datasets):
    """A workflow engine polled an endpoint that never settled for ever: after max_polls the step
    fails, and an abortable one hands over to abort."""
    rt = make_runtime(deployment={"max_polls": 3})
    approve_and_deploy(rt, train_version(rt, two_datasets[0], "a"))
    mv2 = _approved(rt, two_datasets[1], "b")
    ctx = RolloutContext.of(rt.adapters)
    ctx.deployer = SlowEndpoint(rt.deployer, polls=10**6)
    st = start_state(mv2, "req-poll")
    for _ in range(20):
        st = run_step(st["next"], st, ctx)
        if st["next"] == "abort":
            break
    assert st["next"] == "abort" and "after 3 polls" in st["failed_reason"], st


def test_a_step_whose_response_was_lost_does_not_replay_its_effects(runtime, two_datasets):
    """A workflow engine that loses a step's response (a Lambda timeout after the work, a service
    error) retries the step with the state it had, which does not list what the lost attempt did.
    Every step here runs twice on the same input, the first answer thrown away: each endpoint change
    still happens once, and "promoted" is recorded once (before: 7 changes became 9+, promoted twice)."""
    approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))
    mv2 = _approved(runtime, two_datasets[1], "b")
    counted = SlowEndpoint(runtime.deployer, polls=0)
    ctx = RolloutContext.of(runtime.adapters)
    ctx.deployer = counted
    st = start_state(mv2, "req-lost")
    while st["next"] != "done":
        run_step(st["next"], st, ctx)  # the answer never reaches the engine
        st = run_step(st["next"], st, ctx)
    assert st["status"] == "promoted", st
    assert len(counted.changes) == len({repr(c) for c in counted.changes}) == 7, counted.changes
    kinds = [e["kind"] for e in deployment_history(runtime.adapters.kv, "churn")]
    assert kinds.count("promoted") == 2  # v1's first rollout and v2's, each once
    assert runtime.registry.alias("churn", "production").version == mv2.version


def test_the_same_request_run_again_after_it_finished_starts_afresh(runtime, two_datasets):
    """The journal is per run (the lease's epoch): promoting the same version by the same name
    once more, after it ended, is carried out again, not taken for a replay."""
    from skyloop.serving.rollout import promotion_state

    approve_and_deploy(runtime, train_version(runtime, two_datasets[0], "a"))
    mv2 = _approved(runtime, two_datasets[1], "b")
    counted = SlowEndpoint(runtime.deployer, polls=0)
    ctx = RolloutContext.of(runtime.adapters)
    ctx.deployer = counted
    first = run_inline(promotion_state("churn", mv2.version, "ab-winner", after_bake=False), ctx)
    runtime.deployer.deploy("churn", "production", runtime.registry.get("churn", 1))  # rolled back by hand
    before = len(counted.changes)
    again = run_inline(promotion_state("churn", mv2.version, "ab-winner", after_bake=False), ctx)
    assert first["status"] == again["status"] == "promoted"
    assert len(counted.changes) > before and runtime.deployer.slots("churn") == {"production": mv2.version}
