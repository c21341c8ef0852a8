"""The likelihood detector on real metrics' habits: each habit is a generated case here and in
bench/quality.py's habits table. Thresholds are MEDIUM (0.6, what Skyloop acts on)."""

import math

import numpy as np
import pytest

from skyloop.detection import load_detector, make_detector
from skyloop.detection.base import state_is_sound
from skyloop.detection.likelihood import LikelihoodDetector, rarity_of, score_of
from skyloop.detection.tail import EDGES, bin_of, tail_p
from skyloop.events import Severity

T0 = 1_767_225_600.0
STEP = 300.0
DAY = 288
MEDIUM = 0.6
LOW = 0.5


def stream(x, ts=None, det=None):
    det = det or LikelihoodDetector()
    ts = T0 + STEP * np.arange(len(x)) if ts is None else ts
    return np.array([det.score_one(float(t), {"m": float(v)}) for t, v in zip(ts, x)]), det


def incidents(flags):
    flags = np.asarray(flags, bool)
    return int((flags & ~np.r_[False, flags[:-1]]).sum())


def _hist(z):
    h = np.zeros((1, len(EDGES)))
    np.add.at(h[0], bin_of(np.abs(z)), 1.0)
    return h


def test_default_is_likelihood():
    """Chosen by the real-data score (bench/README.md), with the generated suite as the guard."""
    assert isinstance(make_detector("default"), LikelihoodDetector)


def test_the_tail_keeps_counts_where_the_data_reach_and_extrapolates_past_them():
    """Peaks over threshold: inside the data the probability is never below the count; past it a
    fitted tail keeps falling smoothly (no plateau, no cliff at the largest z seen), near the truth."""
    rng = np.random.default_rng(3)
    gauss = _hist(rng.standard_normal(1000))
    r = np.linspace(0.0, 40.0, 401)
    p = np.array([tail_p(gauss, np.array([v]), 2.0)[0] for v in r])
    assert np.all(np.diff(p) <= 1e-15) and p[-1] < p[r.searchsorted(10)] < p[r.searchsorted(6)]
    for v in (0.5, 1.0, 2.0):  # inside the data: about the share of the 1,000 records above v
        assert tail_p(gauss, np.array([v]), 2.0)[0] == pytest.approx(math.erfc(v / math.sqrt(2)), rel=0.25)
    # |z| >= 5 of a normal is 5.7e-7: the fit from 1,000 records is within two orders of magnitude
    assert 1e-9 < tail_p(gauss, np.array([5.0]), 2.0)[0] < 1e-4
    heavy = _hist(rng.standard_t(2, 1000))  # a heavy tail is fitted heavy: 20 is far less rare
    assert tail_p(heavy, np.array([20.0]), 2.0)[0] > 1e3 * tail_p(gauss, np.array([20.0]), 2.0)[0]
    young = _hist(rng.standard_normal(8))  # fewer than 10 records to fit: e^-(r - largest seen), counted
    assert 1e-4 < tail_p(young, np.array([6.0]), 2.0)[0] < 0.05


def test_a_tail_heavier_than_moments_can_fit_is_not_called_rarer_than_it_is():
    """Bursty metrics (bytes written, bytes in) have tails past what a moments fit can reach (its
    shape stops at 0.5): at the true 1-in-10,000 point of a shape-0.7 Pareto, moments said 9e-6,
    ten times too rare, and the real set's bursts alarmed. Probability-weighted moments say 5e-5."""
    x = np.random.default_rng(21).pareto(1 / 0.7, 20000)
    r = np.array([np.quantile(x, 0.9999)])
    assert 2.5e-5 < tail_p(_hist(x), r, 2.0)[0] < 4e-4
    light = np.random.default_rng(22).exponential(1.0, 20000)  # and a light tail keeps its own scale
    assert tail_p(_hist(light), np.array([np.quantile(light, 0.9999)]), 2.0)[0] == pytest.approx(1e-4, rel=1.5)



def test_the_tail_judges_each_metric_on_its_own_row():
    """tail_p works the rare rows (past the fit's threshold, or before any fit) one at a time: a
    metric's p must not depend on which other metrics share the call, nor on its place among them,
    with the early tail's scale given per row."""
    rng = np.random.default_rng(5)
    rows = [_hist(rng.standard_normal(1000)), _hist(rng.standard_t(2, 1000)), _hist(rng.standard_normal(6)),
            _hist(rng.exponential(1.0, 50)), np.zeros((1, len(EDGES)))]
    hist = np.vstack(rows)
    r = np.array([7.0, 0.4, 9.0, 3.0, 1.0])  # past the fit, inside the counts, early, past a small fit, empty
    scale = np.array([1.0, 1.0, 2.5, 1.0, 3.0])
    together = tail_p(hist, r, 2.0, scale)
    alone = [tail_p(h, r[[j]], 2.0, scale[j])[0] for j, h in enumerate(rows)]
    assert together == pytest.approx(alone, rel=1e-12)
    order = [3, 0, 4, 2, 1]
    assert tail_p(hist[order], r[order], 2.0, scale[order]) == pytest.approx(together[order], rel=1e-12)
    assert 0.0 < together.min() and together.max() <= 1.0


def test_a_value_falls_in_its_bin_and_the_ends_hold_the_rest():
    r = np.array([-1.0, 0.0, EDGES[1], 0.5 * (EDGES[5] + EDGES[6]), EDGES[-1], 1e9, np.nan])
    assert bin_of(r).tolist() == [0, 0, 1, 5, len(EDGES) - 1, len(EDGES) - 1, len(EDGES) - 1]

def test_score_is_monotone_in_rarity_with_no_plateau():
    L = np.linspace(0, 60, 601)
    s = np.array([score_of(v) for v in L])
    assert np.all(np.diff(s) > 0) and s[-1] < 1.0
    assert s[L.searchsorted(30)] < s[L.searchsorted(40)] < s[L.searchsorted(50)]  # still separating
    for sev, p in ((Severity.LOW, 1e-2), (Severity.MEDIUM, 1e-3), (Severity.HIGH, 1e-4), (Severity.CRITICAL, 1e-5)):
        assert LikelihoodDetector().severity(score_of(-math.log10(p))) == sev
        assert rarity_of(score_of(-math.log10(p))) == pytest.approx(p)


def test_worse_evidence_scores_higher_never_capped():
    base = np.random.default_rng(0).normal(100, 2, 600)
    peaks = []
    for jump in (15, 30, 60, 120, 240):
        x = base.copy()
        x[500] += jump
        peaks.append(stream(x)[0][500])
    assert all(a < b for a, b in zip(peaks, peaks[1:])), peaks
    assert peaks[0] >= MEDIUM and peaks[-1] < 1.0


def test_learns_from_the_first_record_and_scores_after_warmup():
    s, det = stream(np.random.default_rng(1).normal(10, 1, 80))
    assert np.all(s[: det.warmup] == 0.0) and det.n_ == 80 and det.fitted_


def test_irregular_intervals_and_gaps():
    rng = np.random.default_rng(2)
    steps = rng.uniform(60, 600, 3000)
    steps[1500] = 6 * 3600  # a six-hour gap
    ts = T0 + np.cumsum(steps)
    x = rng.normal(50, 3, 3000)
    x[2500] = 80  # ten sigma
    s, _ = stream(x, ts)
    assert incidents(s[200:2500] >= MEDIUM) <= 2
    assert s[2500] >= MEDIUM


def test_flat_metric_any_move_is_news_but_flat_is_quiet():
    x = np.zeros(2000)
    x[1500] = 1.0
    s, _ = stream(x)
    assert np.all(s[:1500] < MEDIUM) and s[1500] >= 0.9


def test_quantised_counts_are_not_anomalous_steps():
    rng = np.random.default_rng(3)
    x = rng.poisson(3, 4000).astype(float)
    x[3500] = 30
    s, _ = stream(x)
    assert incidents(s[500:3500] >= MEDIUM) / (3000 / DAY) <= 0.5
    assert s[3500] >= MEDIUM


def test_zero_noise_periodic_signal_is_quiet():
    t = np.arange(14 * DAY)
    x = 50 + 20 * np.sin(2 * np.pi * t / DAY)  # the case: 43% MEDIUM before
    s, _ = stream(x)
    assert np.mean(s >= MEDIUM) < 0.005


def test_counter_with_bursts_learns_its_bursts():
    rng = np.random.default_rng(4)
    x = np.abs(rng.normal(0, 50, 10 * DAY))
    for start in rng.choice(np.arange(100, 10 * DAY - 20), 20, replace=False):
        x[start : start + rng.integers(2, 8)] = rng.uniform(4e6, 6e6)
    s, _ = stream(x)
    rate = incidents(s[3 * DAY :] >= MEDIUM) / 7
    assert rate <= 0.5, rate


def test_a_bursty_counter_is_judged_on_its_long_run_scale_not_on_its_last_quiet_spell():
    """Between bursts a counter's scale shrinks to its quiet noise within ~50 records, so the next
    burst of the size it always has was called rare. The scale it is judged on is never below 0.3 of
    its long-run scale: its usual bursts stop being news, a burst five times their size still is."""
    alarms, found = {0.0: 0, 0.3: 0}, {0.0: 0, 0.3: 0}
    for seed in range(12):
        rng = np.random.default_rng(seed)
        x = np.abs(rng.normal(0, 50, 10 * DAY))
        for start in rng.choice(np.arange(100, 9 * DAY - 20), 20, replace=False):
            x[start : start + rng.integers(2, 8)] = rng.uniform(4e6, 6e6)
        x[9 * DAY + 100 : 9 * DAY + 103] = 2.5e7
        for floor in alarms:
            s, _ = stream(x, det=LikelihoodDetector(scale_floor=floor))
            alarms[floor] += incidents(s[3 * DAY : 9 * DAY] >= MEDIUM)
            found[floor] += int(s[9 * DAY + 100 : 9 * DAY + 103].max() >= MEDIUM)
    assert 3 * alarms[0.3] <= alarms[0.0] and found == {0.0: 12, 0.3: 12}, (alarms, found)
    floored = make_detector("likelihood", scale_floor=0.4)
    floored.score_one(T0, {"m": 1.0})
    assert load_detector(floored.to_bytes()).scale_floor == 0.4
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="scale_floor"):
            LikelihoodDetector(scale_floor=bad)


def test_a_young_metric_stepping_past_its_first_hours_range_is_not_news_but_a_spike_is():
    """A range drawn from a few dozen records is narrower than the metric's: a count that never left
    39-41 steps to 42, a heavy-tailed latency has its first big one. While a metric is young its
    range channel judges the first span of excess on a wider scale (``range_young``), so its first
    day alarms a quarter as often; a spike 50 sigmas up in its first day is still found, and so is
    one 60 scales up on the latency, unless the latency had already been almost as high. A CPU
    saturation two hours in is still CRITICAL at its first record: one record is enough to act on."""
    alarms, later, found = {0.0: 0, 288.0: 0}, {0.0: 0, 288.0: 0}, {0.0: 0, 288.0: 0}
    for seed in range(12):
        rng = np.random.default_rng(seed)
        for kind in ("count", "latency"):
            x = np.round(40 + rng.normal(0, 0.4, 2 * DAY)) if kind == "count" else 100 + 5 * rng.standard_t(2, 2 * DAY)
            spiked = x.copy()
            spiked[150:153] = 60 if kind == "count" else 400
            for young in alarms:
                s, _ = stream(x, det=LikelihoodDetector(range_young=young))
                alarms[young] += incidents(s[:DAY] >= MEDIUM)
                later[young] += incidents(s[DAY:] >= MEDIUM)
                s, _ = stream(spiked, det=LikelihoodDetector(range_young=young))
                found[young] += int(s[150:153].max() >= MEDIUM)
    assert 3 * alarms[288.0] <= alarms[0.0] and later[288.0] <= later[0.0], (alarms, later)
    assert found[0.0] == 24 and found[288.0] >= 23, found
    for seed in range(6):  # the first span only: judged on the wide scale throughout, seed 0 scored 0.870
        rng, det = np.random.default_rng(seed), LikelihoodDetector()
        for i in range(121):
            row = {"cpu": 40 + rng.normal(0, 3) if i < 120 else 95.0, "latency": 120 + rng.normal(0, 8),
                   "errors": 0.5 + abs(rng.normal(0, 0.1))}
            score = det.score_one(T0 + 60.0 * i, row)
        assert score >= 0.9, (seed, score)
    young = make_detector("likelihood", range_young=100)
    young.score_one(T0, {"m": 1.0})
    assert load_detector(young.to_bytes()).range_young == 100
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="range_young"):
            LikelihoodDetector(range_young=bad)


def test_heavy_tails_rarely_alarm():
    x = 100 + 5 * np.random.default_rng(5).standard_t(2, 10 * DAY)
    s, _ = stream(x)
    assert incidents(s[DAY:] >= MEDIUM) / 9 <= 0.5


def test_unit_change_is_reported_once_then_learned():
    x = np.random.default_rng(6).normal(2.0, 0.1, 4 * DAY)
    x[2 * DAY :] *= 1000  # GB -> MB
    s, _ = stream(x)
    assert s[2 * DAY] >= 0.9
    assert incidents(s[2 * DAY :] >= MEDIUM) <= 2 and np.all(s[2 * DAY + 100 :] < MEDIUM)


def test_level_change_becomes_the_new_normal():
    x = np.random.default_rng(7).normal(30, 1, 6 * DAY)
    x[3 * DAY :] += 12
    s, _ = stream(x)
    assert s[3 * DAY : 3 * DAY + 3].max() >= MEDIUM
    assert np.mean(s[3 * DAY + 50 :] >= MEDIUM) < 0.005


def test_missing_values_and_multi_metric_attribution():
    det = LikelihoodDetector()
    det.columns_ = ["cpu", "lat", "mem"]
    rng = np.random.default_rng(8)
    X = np.column_stack([rng.normal(40, 2, 600), rng.normal(120, 5, 600), rng.normal(60, 1, 600)])
    X[rng.random(X.shape) < 0.05] = np.nan
    X[550, 1] = 400
    scores, z = det.process(X)
    assert scores[550] >= MEDIUM and np.argmax(np.abs(z[550])) == 1 and z[550, 1] > 3
    assert np.all(np.isfinite(scores)) and np.all(np.isfinite(z))


def test_state_round_trips_continues_identically_and_validates(tmp_path):
    x = np.random.default_rng(9).normal(5, 1, 700)
    a = make_detector("likelihood")
    stream(x[:400], det=a)
    a.save(tmp_path / "d.npz")
    b = load_detector(tmp_path / "d.npz")
    ts = T0 + STEP * np.arange(400, 700)
    assert np.array_equal(stream(x[400:], ts, a)[0], stream(x[400:], ts, b)[0])
    assert state_is_sound(a.to_bytes(), a.tags.nan_ok)


def test_batch_process_equals_record_by_record():
    x = np.random.default_rng(10).normal(5, 1, (300, 1))
    a, b = LikelihoodDetector(), LikelihoodDetector()
    a.columns_ = ["m"]
    scores, _ = a.process(x)
    assert np.allclose(scores, stream(x[:, 0], det=b)[0])


def test_a_plateau_the_fast_level_absorbs_is_found_by_the_shift_channel():
    """2.5 sigma for 40 records (real CloudWatch windows look like this): no single value is rare
    enough, but the excursion of the average is. Without the shift channel it stays unreported."""
    x = np.random.default_rng(11).normal(50, 1, 2400)
    x[2000:2040] += 2.5
    with_shift, _ = stream(x)
    without, _ = stream(x, det=LikelihoodDetector(shift_u0=1e9))
    assert with_shift[2000:2040].max() >= MEDIUM > without[2000:2040].max()
    assert incidents(with_shift[300:2000] >= MEDIUM) == 0


def test_a_drift_is_one_alarm_per_severity_band_not_one_per_record():
    x = np.random.default_rng(12).normal(50, 1, 3000)
    x[2000:2300] += np.linspace(0, 6, 300)
    x[2300:] += 6
    s, _ = stream(x)
    flagged = np.flatnonzero(s[2000:] >= MEDIUM)
    assert flagged.size and flagged[0] < 100  # within the first third of the ramp
    assert incidents(s[2000:] >= MEDIUM) <= 4  # LOW -> MEDIUM -> HIGH -> CRITICAL at most


def test_excursions_are_calibrated_on_noise():
    """On white noise, an excursion judged rarer than p comes no more often than p per record."""
    from skyloop.detection.excursions import Excursions

    e = Excursions(1, 1, beta=0.05, u0=2.0, decay=0.9995, clip=4.0)
    ps = []
    for v in np.random.default_rng(13).standard_normal(50_000):
        p = e.judge(np.array([[v]]), np.array([True]))[0, 0]
        e.learn(np.array([True]), np.array([-math.log10(max(p, 1e-300))]))
        ps.append(p)
    ps = np.array(ps)
    for q in (1e-2, 1e-3):
        assert (ps <= q).sum() <= 1.5 * q * len(ps)
    assert (ps <= 1e-2).sum() >= 0.2 * 1e-2 * len(ps)  # and it does speak


def test_a_state_saved_before_the_shift_channel_still_loads_and_keeps_its_tails():
    """A service's saved state from the previous release: its point and range channels carry on,
    the shift channel and its seasonal baseline start fresh, and the score never comes from NaN."""
    import io
    import json

    x = np.random.default_rng(14).normal(5, 1, 700)
    a = make_detector("likelihood")
    stream(x[:400], det=a)
    with np.load(io.BytesIO(a.to_bytes()), allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        old = {k: z[k] for k in ("level", "dev", "hi", "lo", "seen", "neff", "hist")}
    meta.pop("seasonal")
    for k in ("shift_alpha", "shift_beta", "shift_u0", "shift_decay", "shift_clip", "shift_warmup"):
        meta["params"].pop(k)
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **old)
    b = load_detector(buf.getvalue())
    assert np.array_equal(b.hist, a.hist) and np.array_equal(b.hi, a.hi)
    s, _ = stream(x[400:], T0 + STEP * np.arange(400, 700), b)
    assert np.all(np.isfinite(s)) and state_is_sound(b.to_bytes(), b.tags.nan_ok)


def test_a_verified_normal_reaches_every_level_of_the_detector():
    """Verification restores the pre-incident normal: the fast level, the slow level and the open
    excursions all adopt it, or the recovery itself would read as a shift."""
    x = np.random.default_rng(15).normal(5, 1, 600)
    x[400:] += 20  # an incident the detector has half learned
    _, det = stream(x)
    det.restore_normal({"m": (5.0, 1.0)})
    assert det.level[0] == det.slow[0] == 5.0
    assert det.dev[0] == pytest.approx(1.0 / 1.2533)
    assert not det.shift.mean[:, 0].any() and not det.shift.peak[:, 0].any()


def test_the_time_of_day_baseline_barely_learns_an_incident():
    """A rare record moves its slot a tenth as much: after a two-hour incident, the slots it covered
    still hold yesterday's normal, so the shift channel still sees the departure."""
    x = np.random.default_rng(16).normal(5, 1, 3 * DAY)
    x[2 * DAY + 100:2 * DAY + 124] += 30
    _, det = stream(x)
    slots = det.seasonal.slot[0]
    covered = [int(((T0 + STEP * i) % 86400) / 300) for i in range(2 * DAY + 100, 2 * DAY + 124)]
    assert np.all(np.abs(slots[covered] - 5.0) < 5.0)  # a full-rate update would have moved them ~15


def test_a_state_saved_with_the_adaptive_seasonal_reference_hands_over_its_slot_table():
    """The previous release ran the adaptive detector as the seasonal reference and saved it as
    ``baseline_*``: its slot table (the same arrays) carries on, not a day of blindness."""
    import io
    import json

    x = np.random.default_rng(17).normal(5, 1, 2 * DAY)
    a = make_detector("likelihood")
    stream(x, det=a)
    with np.load(io.BytesIO(a.to_bytes()), allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        arrays = {k.replace("seasonal_", "baseline_"): z[k] for k in z.files if k != "meta"}
    meta["baseline"] = {"n": 2 * DAY, "t0": meta.pop("seasonal")["t0"], "last_t": None, "step_s": STEP}
    meta["params"].pop("season_warmup")
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    b = load_detector(buf.getvalue())
    assert np.array_equal(b.seasonal.slot, a.seasonal.slot) and b.seasonal.t0 == a.seasonal.t0 == T0
    y = np.random.default_rng(18).normal(5, 1, 100)
    assert np.allclose(stream(y, T0 + STEP * np.arange(2 * DAY, 2 * DAY + 100), b)[0],
                       stream(y, T0 + STEP * np.arange(2 * DAY, 2 * DAY + 100), a)[0])


def test_an_incident_stays_flagged_while_it_lasts_and_the_normal_comes_back_with_it():
    """The tail learns a 30-record plateau within records; the hold keeps it at LOW or above all
    along (one MEDIUM alarm, then LOW: the use-case carries the open incident on it). When it
    ends, the level is the one before it and the scale was never widened by it."""
    x = np.random.default_rng(19).normal(5, 1, 600)
    x[400:430] += 20
    s, det = stream(x[:430])
    assert s[400] >= MEDIUM and np.all(s[400:430] >= LOW)
    dev_during = det.dev[0]
    s2, det = stream(x[430:], T0 + STEP * np.arange(430, 600), det)
    assert incidents(s2 >= MEDIUM) == 0  # the recovery is not a second incident
    assert abs(det.level[0] - 5.0) < 0.5 and det.dev[0] < 1.2 and dev_during < 1.2


def test_a_new_level_that_stays_is_held_at_most_hold_max_records():
    x = np.random.default_rng(20).normal(5, 1, 700)
    x[400:] += 20
    s, det = stream(x, det=LikelihoodDetector(hold_max=36))
    flagged = np.flatnonzero(s[400:] >= LOW)
    assert flagged[0] == 0 and 30 <= flagged.size <= 37
    assert incidents(s[400:] >= MEDIUM) == 1 and not (s[450:] >= LOW).any()


def test_a_young_metric_s_slow_climb_is_found_before_its_excursions_are_calibrated():
    """``skyloop demo``'s memory leak: 0.6 sigma a minute from minute 300. The fast level absorbs
    the climb and the shift channel has seen no excursion yet to calibrate on; judged against
    white noise with 2.5 times the average's noise, it is found within 20 minutes. Without that,
    never."""
    import skyloop.detection.excursions as excursions

    x = np.random.default_rng(21).normal(48, 1.5, 420)
    x[300:] += 0.9 * np.arange(120)
    ts = T0 + 60.0 * np.arange(420)
    s, det = stream(x, ts)
    assert det.shift.peaks.max() < excursions.MIN_PEAKS
    found = np.flatnonzero(s[300:] >= MEDIUM)
    assert found.size and found[0] <= 20 and incidents(s[:300] >= MEDIUM) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(excursions, "YOUNG_SPREAD", 1e9)
        s, _ = stream(x, ts)
    assert not (s[300:] >= MEDIUM).any()


@pytest.mark.parametrize("phi", [0.5, 0.9, 0.97])
def test_a_young_autocorrelated_metric_is_not_taken_for_a_climb(phi):
    """The uncalibrated judgement is wide enough for an AR(1) metric's wandering average."""
    rng = np.random.default_rng(22)
    e, a = rng.standard_normal(1500), np.zeros(1500)
    for i in range(1, 1500):
        a[i] = phi * a[i - 1] + e[i]
    s, _ = stream(50 + a, T0 + 60.0 * np.arange(1500))
    assert incidents(s >= MEDIUM) == 0


def test_an_incident_remediation_resolved_is_forgotten_so_the_next_one_is_news():
    """The tail learns an incident's records (on the real set a departure that happened is likely
    to happen again). When verification says remediation brought the metric back, that incident
    was not the metric's behaviour: the tail and the range forget it, and the next incident of the
    same size hours later is MEDIUM again. Unverified, it stays learned."""
    x = np.random.default_rng(23).normal(5, 1, 900)
    x[300:330] += 20
    x[600:640] += 22
    second = {}
    for verified in (True, False):
        s, det = stream(x[:340])
        assert s[300] >= MEDIUM
        if verified:
            det.restore_normal({"m": (5.0, 1.0)})
            assert det.inc_age[0] == 0 and det.hi[0] < 10.0
        s, det = stream(x[340:], T0 + STEP * np.arange(340, 900), det)
        second[verified] = s[600 - 340]
    assert second[True] >= MEDIUM > second[False]


@pytest.mark.parametrize("amplitude", [1e3, 1e9])
def test_a_burst_of_garbage_is_forgotten_once_it_ends(amplitude):
    """110 records of a broken exporter flipping between 0 and a huge value taught the range
    [0, 1e3], a scale 3 times too wide and a heavy tail: a CPU saturation 4 hours later scored
    0.24, where a clean state calls it critical. The disorder is forgotten once the metric has been
    back inside its old range a few records, so the saturation is critical again."""
    rng = np.random.default_rng(0)
    x = rng.normal(40, 3, 200 + 110 + 48 + 3)
    x[200:310] = np.where(np.arange(110) % 2, amplitude, 0.0)
    x[-3:] = 95.0
    _, det = stream(x[:-3])
    assert det.inc_age[0] == 0 and det.hi[0] < 60 and det.lo[0] > 20  # the range it had before
    s, _ = stream(x[-3:], T0 + STEP * np.arange(len(x) - 3, len(x)), det)
    assert s[0] >= 0.9, s[0]
    clean, _ = stream(np.r_[x[:200], x[310:]])
    assert clean[-3] >= 0.9


def test_a_one_sided_episode_that_comes_back_stays_learned():
    """Only a disorder (far above and far below the old range) is forgotten: a plateau that came
    back is kept, as on the real set, so its repeat is not news again."""
    x = np.random.default_rng(1).normal(40, 3, 700)
    x[200:300] = 90.0
    x[500:530] = 90.0
    s, det = stream(x)
    assert s[500] < MEDIUM  # learned: the repeat is expected
    assert det.hi[0] > 80


def test_shift_bold_from_judges_a_young_excursion_by_the_bolder_rule_and_is_kept_in_the_state() -> None:
    """Issue 36's best-measured trade, off by default: between ``bold_from`` and MIN_PEAKS closed
    excursions, a young excursion gets the smaller of the young rule's p and the early fit's."""
    from skyloop.detection.excursions import MIN_PEAKS, Excursions

    def primed(bold_from: float) -> Excursions:
        ex = Excursions(1, 1, 0.05, 2.0, 0.9995, 4.0, bold_from)
        ex.peaks[:] = MIN_PEAKS - 0.5  # young: 4.5 closed excursions, all low (2.5 noise units)
        ex.records[:] = 600.0
        ex.hist[0, 0, bin_of(np.array([2.5]))] = MIN_PEAKS - 0.5
        return ex

    z = np.array([[4.0]])  # a clipped residual of 4 sigmas, held: the average climbs past the peaks seen
    ok = np.array([[True]])
    young, bold = primed(MIN_PEAKS), primed(4.0)
    for _ in range(12):
        p_young, p_bold = young.judge(z, ok[0]), bold.judge(z, ok[0])
        young.learn(ok[0], np.zeros((1, 1))), bold.learn(ok[0], np.zeros((1, 1)))
    height = float(young._height[0, 0])
    assert p_young[0, 0] == pytest.approx(math.erfc(height / (2.5 * math.sqrt(2.0))))
    assert p_bold[0, 0] < p_young[0, 0] / 10  # the early fit, past every peak seen, is far bolder here
    det = make_detector("likelihood", shift_bold_from=4.0)
    assert make_detector("likelihood").shift_bold_from == 5.0  # the default leaves the young rule alone
    for i in range(60):
        det.score_one(f"2026-01-01T00:{i % 60:02d}:00Z", {"cpu": 50.0 + (i % 7)})
    again = load_detector(det.to_bytes())
    assert again.shift_bold_from == 4.0 and again.shift.bold_from == 4.0


def _demand(weeks: int, seed: int, holiday_day: int | None = None, cv: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """30-minute city demand from a Thursday: a morning and an evening peak on weekdays, a
    midday one at weekends, ``cv`` noise. ``holiday_day``: that weekday follows the weekend's shape."""
    rng = np.random.default_rng(seed)
    h = np.arange(48) / 2.0
    weekday = 0.3 + np.exp(-0.5 * ((h - 8) / 1.5) ** 2) + np.exp(-0.5 * ((h - 18.5) / 2.5) ** 2)
    weekend = 0.3 + 0.8 * np.exp(-0.5 * ((h - 13.5) / 3.5) ** 2)
    i = np.arange(weeks * 7 * 48)
    day = i // 48
    is_weekend = (3 + day) % 7 >= 5  # 2026-01-01 was a Thursday
    if holiday_day is not None:
        is_weekend |= day == holiday_day
    x = 1000.0 * np.where(is_weekend, weekend[i % 48], weekday[i % 48]) * (1 + cv * rng.standard_normal(len(i)))
    return x, T0 + 1800.0 * i


def test_a_weekday_that_behaves_like_a_sunday_is_found_against_last_week():
    """City demand (NAB's nyc_taxi): every Saturday is unlike its Friday, so against yesterday a
    holiday that follows the weekend's shape is one more common excursion. Against the same hours
    last week it is rare: the time-of-week table stands in where it fits the metric better."""
    holiday = 4 * 7 - 1 + 6  # the fourth Wednesday (day 0 is a Thursday)
    x, ts = _demand(5, 31, holiday)
    day = slice(holiday * 48, (holiday + 1) * 48)
    weekly, det = stream(x, ts)
    daily, _ = stream(x, ts, LikelihoodDetector(week_margin=0.0))
    assert weekly[day].max() >= MEDIUM > daily[day].max()
    assert det.weekly.ready[0] and det.weekly.slot_fit[0] < 0.5 * det.seasonal.slot_fit[0]
    normal, _ = stream(*_demand(5, 32))
    assert incidents(normal[14 * 48:] >= MEDIUM) == 0  # three ordinary weeks with the weekly table: quiet


def test_an_event_night_far_off_last_weeks_hours_is_found():
    """A marathon night: two hours at 1.8 times the demand (z 6-7 against last week's same hours).
    Clipped at 4 sigmas as a day's residual is, four records lifted the average too little: the
    week's residual may pull it to ``week_clip`` (6), where the week's table is the reference. The
    clip's share is measured as when it was written: with the week's point test off and the
    excursions' memory counted in records. The default finds all 8 (the week's point test does; with
    it off, the memory of a week finds 6 at clip 6, 5 at clip 4)."""
    night = (4 * 7 - 1 + 5) * 48 + 44  # the fourth week's Tuesday, 22:00
    found = {6.0: 0, 4.0: 0}
    alarms = default = 0
    for seed in range(40, 48):
        x, ts = _demand(5, seed, cv=0.06)
        y = x.copy()
        y[night:night + 4] *= 1.8
        for clip in found:
            s, _ = stream(y, ts, LikelihoodDetector(week_clip=clip, week_point=False, memory_interval=0.0))
            found[clip] += bool(s[night:night + 6].max() >= MEDIUM)
        default += bool(stream(y, ts)[0][night:night + 6].max() >= MEDIUM)
        normal, _ = stream(x, ts)
        alarms += incidents(normal[7 * 48:] >= MEDIUM)
    assert found[6.0] == 8 and found[4.0] <= 5, found  # 8 and 5 when written
    assert default == 8
    assert alarms <= 4  # 8 series x 4 ordinary weeks: under one a fortnight (1 when written; 3 with
    # the week's point test off, 1 with it off at week_clip 4)
    kept = make_detector("likelihood", week_clip=5.0)
    kept.score_one(T0, {"m": 1.0})
    assert load_detector(kept.to_bytes()).week_clip == 5.0
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="week_clip"):
            LikelihoodDetector(week_clip=bad)


def test_half_an_hour_at_twice_last_weeks_demand_is_found_by_the_weeks_point_test():
    """One record at twice the demand, late in the evening: the shift channel's average barely
    moves, and the point channel judges it against a fast level still falling from the evening
    peak. Against last week's same half-hour it is far out, and rare on that residual's own tail.
    Upward only: the same half-hour at half the demand is left to the shift channel."""
    night = (4 * 7 - 1 + 5) * 48 + 44  # the fourth week's Tuesday, 22:00
    found = {True: 0, False: 0}
    for seed in range(40, 48):
        x, ts = _demand(5, seed, cv=0.06)
        y = x.copy()
        y[night] *= 2.0
        for on in found:
            s, _ = stream(y, ts, LikelihoodDetector(week_point=on))
            found[on] += bool(s[night:night + 6].max() >= MEDIUM)
        # from one state, the test on and off: a downward record is not asked, an upward one is
        _, det = stream(x[:night], ts[:night])
        assert det.season_hist.any()
        for value, asked in ((x[night] * 0.5, False), (x[night] * 2.0, True)):
            on, off = load_detector(det.to_bytes()), load_detector(det.to_bytes())
            off.week_point = False
            apart = on.score_one(float(ts[night]), {"m": value}) - off.score_one(float(ts[night]), {"m": value})
            assert (apart > 0.1) if asked else (apart == 0.0), (seed, value, apart)
    assert found[True] == 8 and found[False] <= 3, found  # 8 and 2 when written
    kept = make_detector("likelihood", week_point=False)
    kept.score_one(T0, {"m": 1.0})
    assert load_detector(kept.to_bytes()).week_point is False


def test_a_second_storm_is_judged_on_a_weeks_memory_not_on_two_thousand_records():
    """The excursions' memory was set on 5-minute metrics, where 2,000 records are a week. Counted
    in records, half-hourly demand kept a storm's excursion six weeks, and a second storm twelve
    days later was judged common against it. Counted in time, it is a week at any interval."""
    first = (2 * 7 + 6) * 48 + 16  # the third week's Wednesday, 08:00
    second = first + 12 * 48
    found = {300.0: 0, 0.0: 0}
    alarms = 0
    for seed in range(40, 48):
        x, ts = _demand(6, seed, cv=0.06)
        y = x.copy()
        for a in (first, second):
            y[a:a + 36] *= 0.35  # 18 hours at a third of the demand
        for interval in found:
            s, det = stream(y, ts, LikelihoodDetector(memory_interval=interval))
            assert s[first:first + 40].max() >= MEDIUM
            found[interval] += bool(s[second:second + 40].max() >= MEDIUM)
        normal, _ = stream(x, ts)
        alarms += incidents(normal[7 * 48:] >= MEDIUM)
    assert found[300.0] >= 6 and found[0.0] <= 3, found  # 7 and 1 when written
    assert alarms <= 3  # 8 series x 5 ordinary weeks (1 when written, 2 counted in records)
    assert det.interval_ == 1800.0 and np.all(det.shift.decay == 0.9995)  # memory_interval 0: per record
    # the references' rows remember a week; the shape statistic's keeps its 2,000 records
    half_hourly = load_detector(stream(x[:100], ts[:100])[1].to_bytes())
    assert half_hourly.interval_ == 1800.0
    assert half_hourly.shift.decay.ravel() == pytest.approx([0.9995 ** 6, 0.9995 ** 6, 0.9995])
    five_minutes = stream(x[:100], T0 + 300.0 * np.arange(100))[1]
    assert five_minutes.interval_ == 300.0 and np.all(five_minutes.shift.decay == 0.9995)  # as set
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="memory_interval"):
            LikelihoodDetector(memory_interval=bad)


def test_an_older_state_measures_its_record_interval_again():
    """A state saved before the record interval was kept loads with none and measures it from the
    records that follow: until then the excursions decay per record, as they did."""
    import io
    import json

    x, ts = _demand(1, 35)
    a = stream(x[:60], ts[:60])[1]
    with np.load(io.BytesIO(a.to_bytes()), allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        arrays = {k: z[k] for k in z.files if k != "meta"}
    meta.pop("interval")
    meta["params"].pop("memory_interval")
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    old = load_detector(buf.getvalue())
    assert old.interval_ is None and np.all(old.shift.decay == 0.9995)
    stream(x[60:90], ts[60:90], old)
    assert old.interval_ == 1800.0 and old.shift.decay[0, 0] == pytest.approx(0.9995 ** 6)


def test_an_older_state_is_not_judged_on_the_weeks_empty_tail():
    """A state saved before the week's point test loads with that test's tail empty. Until it holds
    ``shift_warmup`` records the test is not asked, so the detector scores as with it off, and a
    record at twice last week's demand is not judged on a tail that knows nothing."""
    import io
    import json

    x, ts = _demand(4, 34)
    night = (3 * 7 + 5) * 48 + 44  # the fourth week's Tuesday, 22:00
    x[night] *= 2.0
    a = make_detector("likelihood")
    stream(x[:night - 40], ts[:night - 40], a)
    assert a.season_hist.sum() > a.shift_warmup
    with np.load(io.BytesIO(a.to_bytes()), allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        arrays = {k: z[k] for k in z.files if k not in ("meta", "season_hist")}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    old, off = load_detector(buf.getvalue()), load_detector(buf.getvalue())
    off.week_point = False
    rest = slice(night - 40, night + 100)
    s_old, s_off = stream(x[rest], ts[rest], old)[0], stream(x[rest], ts[rest], off)[0]
    assert np.array_equal(s_old, s_off)  # not asked: the same scores, record for record
    assert old.season_hist.sum() > 80  # learning from the load on (88 when written: 140 records, decayed)
    s_new, _ = stream(x[rest], ts[rest], a)
    assert s_new[40] >= MEDIUM > s_old[40]  # the state that kept its tail asks it (0.93 and 0.54 when written)


def test_the_weekly_table_round_trips_and_an_older_state_without_it_loads():
    import io
    import json

    x, ts = _demand(2, 33)
    a = make_detector("likelihood")
    stream(x[:500], ts[:500], a)
    b = load_detector(a.to_bytes())
    assert b.weekly.t0 == a.weekly.t0 == T0 and np.array_equal(b.weekly.slot, a.weekly.slot)
    assert np.array_equal(stream(x[500:], ts[500:], a)[0], stream(x[500:], ts[500:], b)[0])
    with np.load(io.BytesIO(a.to_bytes()), allow_pickle=False) as z:  # the release before: no weekly table, no fit
        meta = json.loads(bytes(z["meta"]).decode())
        arrays = {k: z[k] for k in z.files if k != "meta" and not k.startswith("weekly_")
                  and k not in ("seasonal_slot_fit", "shift_sq", "shift_sqn", "dev_long", "season_hist")}
    arrays.update({k: arrays[k][:2] for k in arrays if k.startswith("shift_")})  # no shape row either
    meta.pop("weekly")
    for k in ("week_margin", "shape", "shape_beta", "shift_young", "scale_floor", "range_young", "week_clip",
              "week_point"):
        meta["params"].pop(k)
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    old = load_detector(buf.getvalue())
    assert old.weekly.t0 is None and not old.weekly.slot_n.any()  # starts fresh
    assert not old.shift.sq.any() and not old.shift.sqn.any()  # the young rule's spread is measured afresh
    assert np.array_equal(old.shift.hist[:2], a.shift.hist[:2]) and not old.shift.hist[2].any()
    assert np.array_equal(old.seasonal.slot_fit, old.seasonal.slot_dev) and np.array_equal(old.seasonal.slot, a.seasonal.slot)
    assert np.array_equal(old.dev_long, a.dev) and old.scale_floor == 0.3  # the recent scale stands in for the long one
    assert old.range_young == 288.0  # a saved state's metrics have their neff: the young rule applies as it says
    assert old.week_clip == 6.0  # nothing saved depends on it: the week's residual is clipped as now
    assert old.week_point and not old.season_hist.any()  # the week's point test: its tail starts fresh
    s, _ = stream(x[500:], ts[500:], old)
    assert np.all(np.isfinite(s)) and state_is_sound(old.to_bytes(), old.tags.nan_ok)
    assert old.shift.sqn.any() and old.season_hist.any()  # and measuring, from the load on


def test_a_young_time_of_day_average_is_judged_by_its_measured_spread():
    """A rogue client's plateau (4 sigmas for an hour) on the second day of a metric with a strong
    daily cycle. The time-of-day row has closed only a few excursions, so it is judged by the young
    rule; its average has been measured to wander like white noise's, so the rule takes 1.5 times
    that, not the 2.5 kept for an average nobody measured. Without it, half the plateaus go unflagged;
    either way the day before the plateau stays quiet."""
    import skyloop.detection.excursions as excursions

    def found(seed: int, young: float) -> tuple[bool, bool]:
        rng = np.random.default_rng(seed)
        t = np.arange(720)
        x = 100 + 15 * np.sin(2 * np.pi * t / DAY) + 2 * rng.standard_normal(len(t))
        x[680:692] += 8.0
        s, _ = stream(x, det=LikelihoodDetector(shift_young=young))
        return bool(s[680:692].max() >= MEDIUM), bool((s[:680] >= MEDIUM).any())

    measured = [found(seed, excursions.YOUNG_K) for seed in range(12)]
    unmeasured = [found(seed, excursions.YOUNG_SPREAD) for seed in range(12)]  # the wide rule, always
    assert sum(f for f, _ in measured) == 12 and sum(f for f, _ in unmeasured) <= 6
    assert not any(quiet for _, quiet in measured)
    bolder = make_detector("likelihood", shift_young=1.3)  # the trade measured for the outside run
    bolder.score_one(T0, {"m": 1.0})
    again = load_detector(bolder.to_bytes())
    assert again.shift_young == 1.3 and again.shift.young == 1.3
    with pytest.raises(ValueError, match="shift_young"):
        make_detector("likelihood", shift_young=0)


def test_a_day_whose_shape_breaks_without_a_net_shift_is_found_by_its_size():
    """A weekday 15% busier and 15% quieter by turns, every two hours (4% noise): the day's total is
    last week's, so the shift channel's signed average cancels out. The residual's size does not."""
    x, ts = _demand(5, 31)
    day = slice((4 * 7 + 5) * 48, (4 * 7 + 6) * 48)
    x[day] *= np.where((np.arange(48) // 4) % 2 == 0, 1.15, 0.85)
    shaped, _ = stream(x, ts)
    unshaped, _ = stream(x, ts, LikelihoodDetector(shape="off"))
    assert shaped[day].max() >= MEDIUM > unshaped[day].max()
    # the weeks before: 0 alarms from the shape statistic; 1 from the week's point test (day 18, a morning
    # ramp 20% above the same half-hour last week, whose slot had been seen twice)
    assert incidents(shaped[14 * 48:day.start] >= MEDIUM) <= 1
    with pytest.raises(ValueError, match="shape must be one of"):
        LikelihoodDetector(shape="sometimes")


def test_excursions_take_one_average_weight_per_reference():
    """The shape statistic's row averages over ~50 records, the references' over ~20: one object
    with two weights is two objects with one each, row for row."""
    from skyloop.detection.excursions import Excursions

    both = Excursions(2, 3, [0.05, 0.02], 2.0, 0.9995, 4.0)
    fast, slow = Excursions(1, 3, 0.05, 2.0, 0.9995, 4.0), Excursions(1, 3, 0.02, 2.0, 0.9995, 4.0)
    ok = np.ones(3, bool)
    for z in np.random.default_rng(36).standard_t(3, (3000, 2, 3)):
        p = both.judge(z, ok)
        assert np.array_equal(p, np.vstack([fast.judge(z[:1], ok), slow.judge(z[1:], ok)]))
        said = -np.log10(np.maximum(p.min(axis=0), 1e-300))
        both.learn(ok, said), fast.learn(ok, said), slow.learn(ok, said)
    assert both.peaks[1].sum() > 0 and np.array_equal(both.hist[1], slow.hist[0])


def test_an_excursion_row_not_asked_still_averages_and_learns_the_same():
    """``ask`` only spares the tail fit where no p is wanted: the state evolves as if it were asked."""
    from skyloop.detection.excursions import Excursions

    asked, spared = (Excursions(2, 2, 0.05, 2.0, 0.9995, 4.0) for _ in range(2))
    ok, ask = np.ones(2, bool), np.array([[True, True], [False, True]])
    for z in np.random.default_rng(37).standard_t(3, (3000, 2, 2)):
        p, q = asked.judge(z, ok), spared.judge(z, ok, ask)
        assert np.array_equal(q[ask], p[ask]) and np.all(q[~ask] == 1.0)
        said = -np.log10(np.maximum(p.min(axis=0), 1e-300))
        asked.learn(ok, said), spared.learn(ok, said)
    for k in Excursions.STATE:
        assert np.array_equal(getattr(asked, k), getattr(spared, k))
    assert asked.peaks[1, 0] > 0  # the spared row did see excursions
