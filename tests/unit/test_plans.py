"""Remediation plans are the core's (remediation/plans.py): one replica bound, one error type,
absolute end states, and model actions that need a model; executors only carry them out."""

import pytest

from skyloop.config import GuardrailSettings
from skyloop.errors import GuardrailViolation, UnknownAction
from skyloop.local.db import Database
from skyloop.local.kv import SqliteKeyValueStore
from skyloop.remediation import applied
from skyloop.remediation.plans import plan

POLICY = GuardrailSettings(max_replicas=6, scale_step=2)
WEB = {"kind": "web", "replicas": 2, "model_group": None, "actions": ["scale_out", "restart_service", "clear_cache"]}


def test_scale_out_is_an_absolute_target_within_the_bound():
    p = plan("scale_out", "api", WEB, {}, POLICY)
    assert (p.primitive, p.args, p.detail) == ("set_replicas", {"replicas": 4}, "replicas 2 -> 4")
    assert plan("scale_out", "api", {**WEB, "replicas": 5}, {"step": 3}, POLICY).args == {"replicas": 6}  # capped
    with pytest.raises(GuardrailViolation, match="at max replicas"):
        plan("scale_out", "api", {**WEB, "replicas": 6}, {}, POLICY)


def test_a_target_that_supports_no_infrastructure_action_is_refused_by_name():
    endpoint = {"kind": "sagemaker-endpoint", "model_group": "g", "model_version": 3, "actions": []}
    with pytest.raises(UnknownAction, match="supports no infrastructure action"):
        plan("restart_service", "ep", endpoint, {}, POLICY)
    assert plan("rollback_deployment", "ep", endpoint, {}, POLICY).args == {"group": "g", "from": 3}


def test_model_actions_need_a_model_and_notify_acts_on_nothing():
    with pytest.raises(GuardrailViolation, match="serves no model"):
        plan("abort_canary", "api", WEB, {}, POLICY)
    assert plan("notify", "api", WEB, {}, POLICY).primitive is None


def test_a_claimed_plan_wins_over_a_later_one(tmp_path):
    kv = SqliteKeyValueStore(Database(tmp_path / "kv.db"))
    first = plan("scale_out", "api", WEB, {}, POLICY)
    assert applied.claim(kv, "r1", first) == first
    later = plan("scale_out", "api", {**WEB, "replicas": 4}, {}, POLICY)  # the state moved: the crashed attempt had acted
    assert applied.claim(kv, "r1", later) == first  # so the redelivery re-applies "set 4", not "set 6"
    assert applied.prior(kv, "r1") is None
