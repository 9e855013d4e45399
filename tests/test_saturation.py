"""Saturation analysis on synthetic curves with a known answer (no real timing involved)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import nnls

from dlplayground.bench.saturation import (
    SaturationConfig,
    analyse,
    fit_latency_model,
    robust_reference,
    saturation_index,
)
from dlplayground.errors import UserInputError
from dlplayground.results import TimingRecord

BATCHES = [1, 2, 4, 8, 16, 32, 64, 128]
PASSES_ONLY = SaturationConfig(run_sigma=0.0)
"""The intervals from the passes alone, without the run-to-run allowance (for tests of between-pass behaviour)."""


def records(latency_s, noise=0.0, *, passes=5, per_pass=8, pass_noise=0.0, shared=False, shifts=None, seed=0,
            batches=BATCHES):
    """Records of ``passes`` passes of ``per_pass`` samples: latency(b) times a log-normal shift per pass
    (``pass_noise``; the same shifts for every batch with ``shared``, or given per batch in ``shifts``) times
    log-normal noise per sample (``noise``)."""
    rng = np.random.default_rng(seed)
    common = np.exp(rng.normal(0.0, pass_noise, passes))
    out = []
    for b in batches:
        pass_shift = common if shared else np.exp(rng.normal(0.0, pass_noise, passes))
        if shifts and b in shifts:
            pass_shift = np.asarray(shifts[b], dtype=float)
        samples = latency_s(b) * np.repeat(pass_shift, per_pass) * np.exp(rng.normal(0.0, noise, passes * per_pass))
        out.append(TimingRecord(model="m", family="mlp", device="cpu", dtype="float32", batch_size=b,
                                threads=2, warmup_calls=1, times_s=tuple(samples),
                                pass_index=tuple(np.repeat(np.arange(passes), per_pass).tolist())))
    return out


def knee_curve(knee: int, overhead_s: float = 1e-3):
    """Latency flat (overhead-bound) until ``knee`` items, then linear: throughput plateaus at the knee."""
    return lambda b: overhead_s * max(1.0, b / knee)


def test_knee_is_found_exactly_on_a_clean_curve():
    sat = analyse(records(knee_curve(16)), PASSES_ONLY)
    assert sat.saturation_batch == 16
    assert (sat.ci_low, sat.ci_high) == (16, 16)
    assert sat.best_batch >= 16
    assert not sat.at_sweep_edge


def test_flat_throughput_saturates_at_the_smallest_batch():
    sat = analyse(records(lambda b: 1e-3 * b))  # latency proportional to batch: no gain at all
    assert sat.saturation_batch == 1
    assert all(g.gain == pytest.approx(1.0) for g in sat.gain_per_doubling)


def test_monotone_to_the_end_is_flagged_at_the_sweep_edge():
    sat = analyse(records(lambda b: 1e-3))  # constant latency: throughput doubles every step
    assert sat.saturation_batch == 128
    assert sat.at_sweep_edge
    assert all(g.gain == pytest.approx(2.0) for g in sat.gain_per_doubling)


def test_noisy_curve_gives_an_interval_that_contains_the_knee():
    sat = analyse(records(knee_curve(16), noise=0.15, per_pass=6, seed=3), SaturationConfig(resamples=500))
    assert sat.ci_low <= 16 <= sat.ci_high
    assert sat.ci_low < sat.ci_high  # noise must widen the interval
    assert {sat.ci_low, sat.ci_high} <= set(BATCHES)


def test_eps_moves_the_saturation_batch():
    # throughput b / (1 + b/32) still gains 20 % at the last step: within 5 % of the best only at 128, within
    # 30 % already at 64.
    curve = lambda b: 1e-3 * (1 + b / 32)  # noqa: E731
    strict = analyse(records(curve), SaturationConfig(eps=0.05, run_sigma=0.0))
    loose = analyse(records(curve), SaturationConfig(eps=0.30, run_sigma=0.0))
    assert (strict.saturation_batch, loose.saturation_batch) == (128, 64)
    assert (strict.at_sweep_edge, loose.at_sweep_edge) == (True, False)  # the last step's 20 %: past 1.05, within 1.3


def test_latency_budget_picks_the_best_batch_within_p99():
    # latency 1 ms + 0.05 ms per item: throughput keeps rising, p99 at 32 is 2.6 ms and at 64 is 4.2 ms
    curve = lambda b: 1e-3 + 5e-5 * b  # noqa: E731
    sat = analyse(records(curve), SaturationConfig(latency_budget_ms=3.0))
    assert sat.slo_batch == 32
    none_fit = analyse(records(curve), SaturationConfig(latency_budget_ms=0.5))
    assert none_fit.slo_batch is None
    # among equal throughputs the smaller batch wins: same items/s at lower latency
    plateau = analyse(records(knee_curve(16)), SaturationConfig(latency_budget_ms=5.0))
    assert plateau.slo_batch == 16


def test_latency_model_recovers_overhead_and_per_item_cost():
    model = fit_latency_model(np.array(BATCHES), np.array([2e-3 + 5e-5 * b for b in BATCHES]))
    assert model.a_ms == pytest.approx(2.0, rel=1e-6)
    assert model.c_ms_per_item == pytest.approx(0.05, rel=1e-6)
    assert model.r2 == pytest.approx(1.0)


def test_mixed_models_or_duplicate_batches_are_rejected():
    recs = records(knee_curve(4), batches=[1, 2])
    other = TimingRecord(model="other", family="mlp", device="cpu", dtype="float32", batch_size=4,
                         threads=2, warmup_calls=1, times_s=(1e-3,))
    with pytest.raises(ValueError, match="one model"):
        analyse([*recs, other])
    with pytest.raises(ValueError, match="duplicate"):
        analyse(recs + recs)


@pytest.mark.parametrize("kwargs", [{"eps": 0}, {"eps": 1.0}, {"latency_budget_ms": -1}, {"resamples": 2},
                                    {"ci_level": 1.0}, {"run_sigma": -0.01}, {"run_sigma": 1.0}])
def test_config_validation(kwargs):
    with pytest.raises(UserInputError):
        SaturationConfig(**kwargs)


def test_latency_model_weighs_small_batches_like_large_ones():
    # 1 ms fixed cost, 0.01 ms/item up to 64, then a steeper 0.05 ms/item regime: an unweighted fit is pulled
    # by the large batches and loses the fixed cost; the relative fit keeps it close to 1 ms.
    batches = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    latency = np.array([1e-3 + 1e-5 * b if b <= 64 else 1e-3 + 1e-5 * 64 + 5e-5 * (b - 64) for b in batches])
    model = fit_latency_model(batches, latency)
    assert model.a_ms == pytest.approx(1.0, rel=0.2)
    unweighted, _ = nnls(np.column_stack([np.ones(len(batches)), batches]), latency)
    assert unweighted[0] * 1e3 < 0.5  # what the fit used to report: the fixed cost mostly lost
    assert model.r2 < 0.9  # and R^2 still says the single line is a poor description of this curve


# ------------------------------------------------------------------- robust reference, pass intervals
def test_robust_reference_is_the_best_unless_only_luck_supports_it():
    rising = [1.0, 2.0, 4.0]
    plateau = np.array([*rising, 4.1, 4.0])  # best within 1 + eps of the runner-up: the best itself
    lucky = np.array([*rising, 4.0, 5.0])  # best 25 % above the runner-up, its lower bound (4.0) no higher
    steady = lucky.copy()  # the same best, fast in every pass: its lower bound is above the runner-up
    lower = {"plateau": plateau - 0.5, "lucky": lucky - [0, 0, 0, 0, 1.0], "steady": steady - [0, 0, 0, 0, 0.2]}
    assert robust_reference(plateau, lower["plateau"], 0.05) == pytest.approx(4.1)
    assert robust_reference(lucky, lower["lucky"], 0.05) == pytest.approx(4.0)  # back to the runner-up
    assert robust_reference(lucky, lower["lucky"], 0.30) == pytest.approx(5.0)  # a looser eps: within it, the best
    assert robust_reference(steady, lower["steady"], 0.05) == pytest.approx(4.8)  # as far as its lower bound goes
    # Along the last axis, one reference per curve (as for the bootstrap resamples); one point is its own.
    stacked = robust_reference(np.stack([plateau, lucky, steady]), np.stack(list(lower.values())), 0.05)
    assert stacked == pytest.approx([4.1, 4.0, 4.8])
    assert robust_reference(np.array([3.0]), np.array([1.0]), 0.05) == pytest.approx(3.0)


def test_one_lucky_point_at_the_edge_does_not_drag_the_knee():
    # A plateau from 16 on, but batch 128 ran 25 % faster in three of its five passes: its estimate is the
    # highest of the sweep, and uncertain. Judged against the plain best (that estimate) no plateau point
    # reaches 95 % of it and the knee lands on the outlier; a best more than eps above the runner-up that its
    # own lower bound does not support falls back to the runner-up, and the knee stays.
    recs = records(knee_curve(16), noise=0.01, shifts={128: [1.0, 0.8, 0.8, 1.0, 0.8]})
    throughput = np.array([r.throughput_items_s for r in recs])
    assert BATCHES[int(saturation_index(throughput, 0.05))] == 128  # the plain maximum would say 128
    sat = analyse(recs)
    assert sat.saturation_batch == 16
    assert sat.ci_low <= 16 <= sat.ci_high < 128
    assert sat.best_batch == 128  # the outlier is still reported as the best point, with its interval
    low, high = sat.best_throughput_ci
    assert low <= sat.best_throughput_items_s <= high
    runner_up = np.sort(throughput)[-2]
    assert sat.reference_throughput_items_s == pytest.approx(max(runner_up, low))  # not the outlier
    assert low <= 1.05 * runner_up  # its lower bound does not support the outlier
    assert sat.at_sweep_edge  # the last step gained 25 %: only a longer sweep can tell luck from a real gain


def test_a_point_fast_in_every_pass_is_a_real_best():
    # The same 25 % gain at 128, in every pass: now it is a measurement, not luck. Its lower bound is above
    # the runner-up, becomes the reference, and moves the knee.
    recs = records(knee_curve(16), noise=0.01, shifts={128: [0.8] * 5})
    sat = analyse(recs)
    assert sat.saturation_batch == 128
    runner_up = np.sort([r.throughput_items_s for r in recs])[-2]
    assert sat.reference_throughput_items_s > 1.05 * runner_up
    assert sat.reference_throughput_items_s == pytest.approx(sat.best_throughput_ci[0])
    assert sat.reference_throughput_items_s < sat.best_throughput_items_s


def test_a_last_step_gaining_more_than_eps_flags_the_sweep_edge():
    # The knee is at 16 in both curves; only the last step differs: +10 % (past 1 + eps: the sweep may have
    # stopped short) or +4 % (within it: a plateau).
    jump = analyse(records(knee_curve(16), shifts={128: [1 / 1.10] * 5}), SaturationConfig(run_sigma=0.03))
    assert (jump.saturation_batch, jump.gain_per_doubling[-1].gain) == (16, pytest.approx(1.10))
    assert jump.at_sweep_edge
    flat = analyse(records(knee_curve(16), shifts={128: [1 / 1.04] * 5}), SaturationConfig(run_sigma=0.03))
    assert (flat.saturation_batch, flat.gain_per_doubling[-1].gain) == (16, pytest.approx(1.04))
    assert not flat.at_sweep_edge


def test_intervals_come_from_the_passes_not_from_the_samples():
    # The same samples, once labelled with their five passes (each pass shifted) and once as a single block:
    # the block's interval treats 200 correlated samples as independent and comes out far narrower (2.5-6x
    # over seeds 0-7 of this set-up).
    # Passes alone: the run-to-run allowance would add the same width to both and hide the difference.
    passed = records(knee_curve(16), noise=0.05, per_pass=40, pass_noise=0.1)
    blocked = [replace(r, pass_index=()) for r in passed]
    sat_p, sat_b = analyse(passed, PASSES_ONLY), analyse(blocked, PASSES_ONLY)
    assert (sat_p.passes, sat_b.passes) == (5, 1)
    width_p = np.subtract(*sat_p.best_throughput_ci[::-1])
    width_b = np.subtract(*sat_b.best_throughput_ci[::-1])
    assert width_p > 2 * width_b
    assert sat_p.latency_model.a_ci_ms[0] <= sat_p.latency_model.a_ms <= sat_p.latency_model.a_ci_ms[1]
    assert sat_p.latency_model.c_ci_ms_per_item[0] <= sat_p.latency_model.c_ms_per_item


def test_a_shift_shared_by_every_point_of_a_pass_does_not_move_the_knee():
    # Pass p of every point ran in the same sweep over the machine, so the bootstrap draws the same passes
    # for all of them: a shift that hit a whole pass scales the whole curve and leaves the knee alone. The
    # same size of shifts drawn independently per point does blur it.
    # (Passes alone: the run-to-run allowance shifts each point independently by design, see the next test.)
    shared = analyse(records(knee_curve(16), pass_noise=0.15, shared=True, seed=1), PASSES_ONLY)
    assert (shared.saturation_batch, shared.ci_low, shared.ci_high) == (16, 16, 16)
    independent = analyse(records(knee_curve(16), pass_noise=0.15, seed=1), PASSES_ONLY)
    assert independent.ci_low <= 16 <= independent.ci_high
    assert independent.ci_high > 16


def test_run_sigma_widens_the_intervals_beyond_the_passes():
    # Passes that agree exactly leave the knee's interval a single batch; a point's run-to-run shift relative
    # to its neighbours (run_sigma) can still move the knee along the plateau, and the interval admits it.
    recs = records(knee_curve(16), noise=0.02)
    tight, default = analyse(recs, PASSES_ONLY), analyse(recs)
    assert default.saturation_batch == tight.saturation_batch == 16
    assert (tight.ci_low, tight.ci_high) == (16, 16)
    assert default.ci_low <= 16 < default.ci_high
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(default.best_throughput_ci) > 3 * width(tight.best_throughput_ci)
    assert width(default.latency_model.a_ci_ms) > 3 * width(tight.latency_model.a_ci_ms)
    assert width(default.latency_model.c_ci_ms_per_item) > 3 * width(tight.latency_model.c_ci_ms_per_item)
