"""Rank correlations recover planted correlations; the partial correlation removes a planted confound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from dlplayground.stats import bootstrap
from dlplayground.studies.dropout.correlation import (
    correlate,
    kendall,
    partial_normal,
    partial_spearman,
    rank_residuals,
    spearman,
)


def _bivariate(rho: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)
    return x, y


def test_point_estimates_agree_with_scipy_including_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, size=40).astype(float)  # many ties
    y = x + rng.integers(0, 3, size=40)
    assert spearman(x, y) == pytest.approx(st.spearmanr(x, y).statistic, abs=1e-12)
    assert kendall(x, y) == pytest.approx(st.kendalltau(x, y).statistic, abs=1e-12)


def test_planted_gaussian_correlation_is_recovered_with_ci():
    # For a bivariate normal with Pearson rho: Spearman = 6/pi asin(rho/2), Kendall = 2/pi asin(rho).
    rho = 0.6
    x, y = _bivariate(rho, 250, seed=1)
    true_s, true_k = 6 / math.pi * math.asin(rho / 2), 2 / math.pi * math.asin(rho)  # 0.582, 0.410
    for method, truth in (("spearman", true_s), ("kendall", true_k)):
        c = correlate(x, y, method, n_boot=500, seed=0)
        assert c.estimate == pytest.approx(truth, abs=0.06)
        assert c.ci_low < truth < c.ci_high
        assert c.ci_low > 0.25
        assert c.sign == 1
        assert c.p_value < 1e-6
        assert c.n == 250
        assert c.n_boot_valid == 500


def test_independent_data_gives_an_interval_around_zero():
    x, y = _bivariate(0.0, 60, seed=2)
    c = correlate(x, y, "spearman", n_boot=1000, seed=0)
    assert c.ci_low < 0 < c.ci_high
    assert not c.excludes_zero
    assert c.sign == 0


def test_negative_correlation_has_negative_sign():
    x, y = _bivariate(-0.8, 50, seed=4)
    assert correlate(x, y, "kendall", n_boot=500).sign == -1


def test_partial_correlation_removes_a_planted_confound():
    # x and y both follow z and nothing else: correlated marginally, independent given z.
    rng = np.random.default_rng(5)
    z = rng.normal(size=300)
    x = z + 0.5 * rng.normal(size=300)
    y = z + 0.5 * rng.normal(size=300)
    marginal = correlate(x, y, "spearman", n_boot=500)
    partial = correlate(x, y, "partial_spearman", confound=z, n_boot=500)
    assert marginal.estimate > 0.6
    assert marginal.sign == 1
    assert abs(partial.estimate) < 0.12
    assert partial.ci_low < 0 < partial.ci_high
    assert partial.p_value > 0.05


def test_partial_correlation_keeps_an_association_the_confound_does_not_explain():
    rng = np.random.default_rng(6)
    z, w = rng.normal(size=300), rng.normal(size=300)
    x = z + w + 0.3 * rng.normal(size=300)
    y = w + 0.3 * rng.normal(size=300)
    partial = correlate(x, y, "partial_spearman", confound=z, n_boot=500)
    assert partial.estimate > 0.6
    assert partial.sign == 1


def test_partial_correlation_matches_a_direct_residual_computation_and_takes_several_confounds():
    rng = np.random.default_rng(7)
    z = rng.normal(size=(50, 2))
    x = z @ [1.0, 0.5] + rng.normal(size=50)
    y = z @ [0.2, 1.0] + rng.normal(size=50)
    ranks = [st.rankdata(v) for v in (x, y)]
    design = np.column_stack([np.ones(50), st.rankdata(z[:, 0]), st.rankdata(z[:, 1])])
    resid = [r - design @ np.linalg.lstsq(design, r, rcond=None)[0] for r in ranks]
    assert partial_spearman(x, y, z) == pytest.approx(np.corrcoef(*resid)[0, 1], abs=1e-10)


def test_a_constant_variable_gives_nan_not_an_error():
    c = correlate(np.ones(10), np.arange(10.0), "spearman", n_boot=200)
    assert math.isnan(c.estimate)
    assert math.isnan(c.ci_low)
    assert c.n_boot_valid == 0
    assert not c.excludes_zero


def test_bootstrap_is_reproducible_with_a_seed():
    x, y = _bivariate(0.4, 30, seed=8)
    assert correlate(x, y, n_boot=300, seed=5) == correlate(x, y, n_boot=300, seed=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": [1, 2], "y": [1, 2]}, "at least 3"),
        ({"x": [1, 2, 3], "y": [1, 2]}, "equal length"),
        ({"x": [1, 2, float("nan")], "y": [1, 2, 3]}, "finite"),
        ({"x": [1, 2, 3], "y": [1, 2, 3], "method": "pearson"}, "method"),
        ({"x": [1, 2, 3], "y": [1, 2, 3], "method": "partial_spearman"}, "confound"),
        ({"x": [1, 2, 3], "y": [1, 2, 3], "n_boot": 0}, "n_boot"),
    ],
)
def test_bad_input_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        correlate(**kwargs)


def _rho_rows(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Spearman per resample, written independently of the module (scipy ranks, numpy correlation)."""
    rx, ry = st.rankdata(xs, axis=-1), st.rankdata(ys, axis=-1)
    return np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(rx, ry, strict=True)])


def test_interval_is_the_shared_paired_bootstrap_of_models():
    # The CI is dlplayground.stats.bootstrap over models, x and y resampled together (paired).
    x, y = _bivariate(0.5, 40, seed=9)
    c = correlate(x, y, "spearman", n_boot=400, seed=3)
    direct = bootstrap((x, y), _rho_rows, paired=True, resamples=400, seed=3)
    assert c.ci == pytest.approx([direct.low, direct.high], abs=1e-12)
    assert (c.n_boot, c.n_boot_valid, c.confidence) == (400, 400, 0.95)
    record = c.to_dict()
    assert isinstance(record["low"], float)
    assert isinstance(record["high"], float)  # numbers, not text
    assert record["method"] == "spearman"
    assert record["resamples"] == 400


def test_the_correlations_of_one_pair_share_their_resamples():
    # With one seed, adding the confound array does not change which models are drawn: the partial
    # correlation's resamples are the Spearman correlation's.
    x, y = _bivariate(0.5, 30, seed=11)
    z = np.random.default_rng(0).normal(size=30)
    spearman_boot = correlate(x, y, "spearman", n_boot=300, seed=4).interval.distribution
    with_confound = bootstrap((x, y, z), lambda xs, ys, zs: _rho_rows(xs, ys), resamples=300, seed=4)
    assert np.allclose(spearman_boot, with_confound.distribution, atol=1e-12)
    # and a perfectly monotone pair stays at +1 in every resample, for both rank methods
    for method in ("spearman", "kendall"):
        assert correlate(np.arange(12.0), np.arange(12.0) ** 3, method, n_boot=200, seed=1).ci == [1.0, 1.0]


def test_summary_is_prose_for_the_verdict():
    x, y = _bivariate(0.6, 50, seed=10)
    c = correlate(x, y, n_boot=200)
    assert c.summary().startswith(f"{c.estimate:+.2f} [")
    assert "undefined" in correlate(np.ones(10), np.arange(10.0), n_boot=200).summary()


def test_rank_residuals_are_what_the_partial_correlation_correlates():
    rng = np.random.default_rng(12)
    z = rng.normal(size=(60, 2))
    x = z[:, 0] + 0.5 * rng.normal(size=60)
    y = z[:, 0] - z[:, 1] + 0.5 * rng.normal(size=60)
    rx, ry = rank_residuals(x, z), rank_residuals(y, z)
    assert np.corrcoef(rx, ry)[0, 1] == pytest.approx(partial_spearman(x, y, z), abs=1e-12)
    assert abs(rx.mean()) < 1e-9  # least-squares residuals with an intercept
    assert np.allclose(np.linalg.lstsq(np.column_stack([np.ones(60), st.rankdata(z, axis=0)]), rx, rcond=None)[0], 0,
                       atol=1e-9)  # nothing of the confounds' ranks left
    with pytest.raises(ValueError, match="finite"):
        rank_residuals([1.0, np.nan, 2.0], z[:3])


def test_normal_scores_remove_the_confounding_that_ranks_leave_behind():
    # Gaussian dependence seen through monotone transforms (a Gaussian copula): given z, x and y are independent.
    # Regressing ranks on ranks is not exact here, so strong confounds leak into the rank partial correlation;
    # on normal scores the regression is (nearly) exact. 200 populations of 104 models, two confounds.
    rng = np.random.default_rng(5)
    rank, normal = [], []
    for _ in range(200):
        z = rng.normal(size=(104, 2))
        shared = z.sum(axis=1)
        x, y = np.exp(shared + rng.normal(size=104)), (shared + rng.normal(size=104)) ** 3
        rank.append(partial_spearman(x, y, z))
        normal.append(partial_normal(x, y, z))
    assert np.mean(rank) > 0.05  # a bias of half a standard error, at every n: false positives at strict levels
    assert abs(np.mean(normal)) < 0.035
    assert correlate(x, y, "partial_normal", confound=z, n_boot=100).estimate == pytest.approx(normal[-1])
    assert np.corrcoef(rank_residuals(x, z, "normal"), rank_residuals(y, z, "normal"))[0, 1] == \
        pytest.approx(normal[-1], abs=1e-12)
