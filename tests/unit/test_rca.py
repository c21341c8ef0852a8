import numpy as np

from skyloop.detection.rca import RcaContext, rank_causes

COLS = ["cpu_usage", "memory_usage", "error_rate", "latency_ms"]


def incident(rows=20, **series):
    z = np.zeros((rows, len(COLS)))
    for name, values in series.items():
        z[:, COLS.index(name)] = values
    return z


def test_first_mover_outranks_follower():
    cpu = np.full(20, 12.0)
    lat = np.r_[np.zeros(5), np.full(15, 14.0)]  # latency follows CPU by 5 rows
    causes = rank_causes(incident(cpu_usage=cpu, latency_ms=lat), COLS)
    assert causes[0].metric == "cpu_usage" and causes[0].action == "scale_out"
    assert causes[1].metric == "latency_ms" and causes[1].action == "scale_out"  # CPU pressure: capacity, not cache
    assert abs(sum(c.confidence for c in causes) - 1.0) < 1e-3


def test_noise_before_onset_does_not_make_a_first_mover():
    lat = np.r_[2.5, np.zeros(4), np.full(15, 5.0)]  # a stray 2.5 sigma blip, then a real rise later
    cpu = np.r_[np.zeros(2), np.full(18, 15.0)]
    assert rank_causes(incident(cpu_usage=cpu, latency_ms=lat), COLS)[0].metric == "cpu_usage"


def test_errors_after_recent_deploy_recommend_rollback():
    z = incident(error_rate=np.full(10, 20.0), latency_ms=np.full(10, 3.0), rows=10)
    ctx = RcaContext(deployed_version=2, previous_version=1, minutes_since_deploy=5, recent_deploy_minutes=30)
    top = rank_causes(z, COLS, context=ctx)[0]
    assert top.metric == "error_rate" and top.action == "rollback_deployment"
    assert "v1" in top.recommendation and top.confidence > 0.8


def test_errors_without_recent_deploy_recommend_restart():
    z = incident(error_rate=np.full(10, 20.0), rows=10)
    old = RcaContext(deployed_version=2, previous_version=1, minutes_since_deploy=300, recent_deploy_minutes=30)
    assert rank_causes(z, COLS, context=old)[0].action == "restart_service"
    first = RcaContext(deployed_version=1, previous_version=None, minutes_since_deploy=5)
    assert rank_causes(z, COLS, context=first)[0].action == "restart_service"  # nothing to roll back to


def test_latency_alone_recommends_cache_and_memory_recommends_restart():
    assert rank_causes(incident(latency_ms=np.full(20, 9.0)), COLS)[0].action == "clear_cache"
    assert rank_causes(incident(memory_usage=np.linspace(2.1, 15, 20)), COLS)[0].action == "restart_service"


def test_unknown_metric_falls_back_to_notify():
    z = np.full((5, 1), 9.0)
    assert rank_causes(z, ["queue_depth"])[0].action == "notify"


def test_multivariate_anomaly_without_single_deviation_is_still_ranked():
    z = incident(cpu_usage=np.full(5, 1.8), latency_ms=np.full(5, 1.5), rows=5)
    causes = rank_causes(z, COLS)
    assert causes and causes[0].metric == "cpu_usage"
