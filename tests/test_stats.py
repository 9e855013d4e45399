"""The one bootstrap (``dlplayground.stats``) on data whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dlplayground.stats as stats_mod
from dlplayground.stats import (
    Interval,
    bootstrap,
    hierarchical_resample,
    median_over_passes,
    percentile_interval,
)


def mean(a: np.ndarray) -> np.ndarray:
    return a.mean(axis=1)


def test_mean_interval_matches_the_normal_theory_width():
    x = np.random.default_rng(0).normal(10.0, 2.0, size=400)
    ci = bootstrap(x, mean, resamples=4000, seed=1)
    assert ci.estimate == pytest.approx(x.mean())
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert (ci.high - ci.low) / 2 == pytest.approx(half, rel=0.1)
    assert ci.low < x.mean() < ci.high
    assert (ci.resamples, ci.valid, ci.level) == (4000, 4000, 0.95)


def test_same_seed_same_resamples_other_seed_other_resamples():
    x = np.arange(30.0)
    a, b, c = (bootstrap(x, mean, seed=s) for s in (3, 3, 4))
    assert (a.low, a.high) == (b.low, b.high)
    assert np.array_equal(a.distribution, b.distribution)
    assert not np.array_equal(a.distribution, c.distribution)
    # Tuple seeds give reproducible, independent streams (e.g. one per benchmark point).
    assert np.array_equal(bootstrap(x, mean, seed=(3, 1)).distribution, bootstrap(x, mean, seed=(3, 1)).distribution)


def test_paired_resampling_keeps_rows_together():
    x = np.random.default_rng(2).normal(size=50)
    paired = bootstrap([x, x + 1.0], lambda a, b: (b - a).mean(axis=1), paired=True)
    assert (paired.low, paired.high) == pytest.approx((1.0, 1.0))  # the difference never varies
    unpaired = bootstrap([x, x + 1.0], lambda a, b: b.mean(axis=1) - a.mean(axis=1), paired=False)
    assert unpaired.high - unpaired.low > 0.3  # independent groups: both means vary


def test_independent_groups_of_different_sizes():
    rng = np.random.default_rng(5)
    small, large = rng.normal(0.0, 1.0, 8), rng.normal(3.0, 1.0, 80)
    ci = bootstrap([small, large], lambda a, b: np.median(b, axis=1) - np.median(a, axis=1), paired=False)
    assert ci.low < ci.estimate < ci.high
    with pytest.raises(ValueError, match="one length"):
        bootstrap([small, large], lambda a, b: a.mean(axis=1), paired=True)


def test_undefined_resamples_are_left_out_and_counted():
    x = np.array([0.0] * 9 + [1.0])  # many resamples hold no 1.0

    def log_of_mean(a: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            m = a.mean(axis=1)
            return np.where(m > 0, np.log(m), np.nan)

    ci = bootstrap(x, log_of_mean, resamples=2000, seed=0)
    assert 0 < ci.valid < 2000
    assert math.isfinite(ci.low)
    assert math.isfinite(ci.high)
    never = bootstrap(np.zeros(10), log_of_mean, resamples=50)
    assert never.valid == 0
    assert math.isnan(never.low)
    assert math.isnan(never.high)


def test_discrete_bounds_are_values_the_statistic_took():
    values = np.array([1.0, 1.0, 2.0, 4.0, 4.0, 8.0])
    low, high = percentile_interval(values, 0.5, discrete=True)
    assert low in values
    assert high in values
    batches = bootstrap(np.array([1, 2, 4, 8, 16, 32, 64, 128]), lambda a: np.max(a, axis=1).astype(float),
                        discrete=True)
    assert {batches.low, batches.high} <= {1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0}


def test_one_observation_has_no_spread_and_bad_arguments_are_named():
    single = bootstrap(np.array([3.0]), mean)
    assert (single.estimate, single.low, single.high) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap(np.arange(5.0), mean, resamples=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap(np.arange(5.0), mean, level=1.0)
    with pytest.raises(ValueError, match="at least one observation"):
        bootstrap(np.array([]), mean)


def test_interval_round_trips_through_json_and_says_which_side_of_zero():
    ci = bootstrap(np.random.default_rng(1).normal(1.0, 0.1, 30), mean)
    back = Interval.from_dict(ci.to_dict())
    assert back == ci  # the distribution is not stored and not compared
    assert "distribution" not in ci.to_dict()
    assert ci.excludes(0.0)
    assert ci.sign == 1
    assert not ci.excludes(1.0)
    undefined = Interval.from_dict({**ci.to_dict(), "low": None, "high": None})
    assert math.isnan(undefined.low)
    assert undefined.sign == 0


# ---------------------------------------------------------------------- the two-level bootstrap
def pooled_mean(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1).mean(axis=1)


def by_pass(passes: int, per_pass: int, scale: float = 1.0) -> np.ndarray:
    """A (passes, per_pass) group whose every sample in pass p is ``scale * p``: a resample's pooled mean says
    exactly which passes it drew."""
    return scale * np.repeat(np.arange(passes, dtype=float)[:, None], per_pass, axis=1)


def test_hierarchical_resample_shapes_and_determinism():
    rng = np.random.default_rng(0)
    groups = [rng.normal(size=(5, 4)), rng.normal(size=(3, 7)), rng.normal(size=(5, 2))]
    out = hierarchical_resample(groups, median_over_passes, resamples=123, seed=7)
    assert out.shape == (123, 3)
    assert np.isfinite(out).all()
    assert np.array_equal(out, hierarchical_resample(groups, median_over_passes, resamples=123, seed=7))
    assert not np.array_equal(out, hierarchical_resample(groups, median_over_passes, resamples=123, seed=8))
    assert np.array_equal(hierarchical_resample(groups, median_over_passes, seed=(7, 1)),
                          hierarchical_resample(groups, median_over_passes, seed=(7, 1)))
    assert median_over_passes(np.arange(24.0).reshape(2, 3, 4)).tolist() == [5.5, 17.5]


def test_groups_with_the_same_passes_share_the_drawn_pass_indices():
    # Pass p of every point ran in the same sweep: with ``paired`` each resample draws the same passes for
    # every group of that many passes, so group B (= 10 x group A, pass by pass) stays exactly 10 x A.
    a, b, c = by_pass(5, 4), by_pass(5, 3, scale=10.0), by_pass(3, 4)
    out = hierarchical_resample([a, b, c], pooled_mean, resamples=500, seed=1)
    assert np.allclose(out[:, 1], 10 * out[:, 0])
    assert np.unique(out[:, 0]).size > 5  # and the passes drawn do vary between resamples
    assert abs(np.corrcoef(out[:, 0], out[:, 2])[0, 1]) < 0.3  # a group with another pass count: its own draw
    unpaired = hierarchical_resample([a, b], pooled_mean, resamples=500, seed=1, paired=False)
    assert not np.allclose(unpaired[:, 1], 10 * unpaired[:, 0])
    assert np.corrcoef(unpaired[:, 0], unpaired[:, 1])[0, 1] < 0.3


def test_a_single_pass_reduces_to_the_ordinary_bootstrap_of_the_samples():
    x = np.random.default_rng(0).normal(10.0, 2.0, size=400)
    out = hierarchical_resample([x[None, :]], pooled_mean, resamples=4000, seed=1)[:, 0]
    low, high = percentile_interval(out, 0.95)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)  # the iid width, as ``bootstrap`` gives
    ordinary = bootstrap(x, mean, resamples=4000, seed=1)
    assert (high - low) == pytest.approx(ordinary.high - ordinary.low, rel=0.1)
    assert not hierarchical_resample([x[None, :]], pooled_mean, resamples=10, within=False).std()  # nothing to draw


def test_within_false_keeps_each_drawn_pass_whole():
    group = np.array([[0.0, 1.0], [10.0, 11.0], [20.0, 21.0]])  # inside a pass: first sample + 1 = second

    def whole(a: np.ndarray) -> np.ndarray:
        return np.all(a[:, :, 1] - a[:, :, 0] == 1.0, axis=1).astype(float)

    assert hierarchical_resample([group], whole, resamples=200, within=False).min() == 1.0
    assert hierarchical_resample([group], whole, resamples=200, within=True).min() == 0.0
    # Between-pass spread dominates: the interval of the pooled mean spans the passes, not the samples.
    spread = hierarchical_resample([group], pooled_mean, resamples=2000, within=False)[:, 0]
    low, high = percentile_interval(spread, 0.95)
    assert low < 6
    assert high > 15


def test_hierarchical_resample_bounds_memory_by_batches(monkeypatch):
    monkeypatch.setattr(stats_mod, "_BATCH_ELEMENTS", 50)  # 4 resamples per batch for these 12-sample groups
    groups = [by_pass(4, 3), by_pass(4, 3, scale=2.0)]
    out = hierarchical_resample(groups, pooled_mean, resamples=37, seed=3)
    assert out.shape == (37, 2)
    assert np.allclose(out[:, 1], 2 * out[:, 0])  # pairing holds within every batch


@pytest.mark.parametrize(("groups", "kwargs", "message"), [
    ([], {}, "at least one group"),
    ([np.arange(4.0)], {}, r"non-empty \(passes, samples\) array"),
    ([np.empty((2, 0))], {}, r"non-empty \(passes, samples\) array"),
    ([np.ones((2, 2))], {"resamples": 0}, "resamples must be >= 1"),
])
def test_hierarchical_resample_names_bad_input(groups, kwargs, message):
    with pytest.raises(ValueError, match=message):
        hierarchical_resample(groups, pooled_mean, **kwargs)


def test_holm_adjust_known_answer_and_nan():
    from dlplayground.stats import holm_adjust

    # Worked example: sorted p 0.01, 0.02, 0.03, 0.04 x (4, 3, 2, 1) = 0.04, 0.06, 0.06, 0.04 -> monotone 0.04,
    # 0.06, 0.06, 0.06; returned in the input order, NaN kept and not counted.
    adjusted = holm_adjust([0.03, 0.01, math.nan, 0.04, 0.02])
    assert np.allclose(adjusted[[0, 1, 3, 4]], [0.06, 0.04, 0.06, 0.06])
    assert math.isnan(adjusted[2])
    assert np.all(holm_adjust([0.5, 0.9]) == [1.0, 1.0])
    assert holm_adjust([]).size == 0


def test_simultaneous_level_is_bonferroni_and_checks_input():
    from dlplayground.stats import simultaneous_level

    assert simultaneous_level(0.95, 1) == pytest.approx(0.95)
    assert simultaneous_level(0.95, 10) == pytest.approx(0.995)
    with pytest.raises(ValueError, match="family_size"):
        simultaneous_level(0.95, 0)
