"""The power statements of the dropout study, checked against simulated populations with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from dlplayground.studies.dropout.correlation import correlate
from dlplayground.studies.dropout.power import fisher_se, min_detectable, population_needed


def _simulated_power(n: int, rho: float, k: int, alpha: float, reps: int, seed: int) -> float:
    """Fraction of Gaussian populations (x, y correlated given k covariates) in which the study's own decision
    -- a paired bootstrap percentile interval of the partial Spearman correlation -- lies above 0."""
    rng = np.random.default_rng(seed)
    rejections = 0
    for i in range(reps):
        z = rng.normal(size=(n, k))
        shared = z.sum(axis=1) / np.sqrt(k)  # confounds of unit total variance: the power, not a bias, is tested
        a, b = rng.normal(size=n), rng.normal(size=n)
        x = shared + a
        y = shared + rho * a + np.sqrt(1 - rho * rho) * b  # given z, corr(x, y) = rho
        c = correlate(x, y, "partial_normal", confound=z, n_boot=300, confidence=1 - alpha, seed=seed * reps + i)
        rejections += c.interval.low > 0
    return rejections / reps


@pytest.mark.slow
def test_population_needed_gives_the_promised_power_in_simulation():
    n = population_needed(0.4, k=2, alpha=0.05, power=0.8)
    assert n == 49  # 3 + 2 + ((1.960 + 0.842) / atanh 0.4)^2 = 48.7
    assert _simulated_power(n, 0.4, 2, 0.05, reps=250, seed=0) == pytest.approx(0.8, abs=0.08)
    # and at the minimum detectable effect of a given n
    rho = min_detectable(60, k=3, alpha=0.05, power=0.8)
    assert _simulated_power(60, rho, 3, 0.05, reps=250, seed=1) == pytest.approx(0.8, abs=0.08)
    # with no correlation, the interval excludes 0 about as rarely as its level says
    assert _simulated_power(n, 1e-9, 2, 0.05, reps=250, seed=2) < 0.06


def test_power_formulas_are_consistent_and_monotone():
    assert fisher_se(10, 8) == float("inf")
    assert np.isnan(min_detectable(6, 4, 0.05, 0.8))
    for n in (40, 104, 140):
        rho = min_detectable(n, 4, 0.05 / 6, 0.8)
        assert population_needed(rho + 1e-6, 4, 0.05 / 6, 0.8) <= n + 1  # the two solve the same inequality
    assert population_needed(0.3, 4, 0.05 / 6, 0.8) == 134
    assert population_needed(0.5, 0, 0.05, 0.8) == 30  # the old docs: "about 30 models for rho = 0.5"
    assert min_detectable(104, 4, 0.05 / 6, 0.8) < 0.35 < min_detectable(96, 4, 0.05 / 6, 0.8)
    with pytest.raises(ValueError, match="non-zero"):
        population_needed(0.0, 2, 0.05, 0.8)
