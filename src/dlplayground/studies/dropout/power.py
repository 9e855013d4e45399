"""How many models the core question needs: the power of a partial correlation on normal scores.

Fisher's z: ``atanh(r)`` is approximately normal around ``atanh(rho)`` with variance ``1 / (n - 3 - k)`` for a
correlation partialled on ``k`` covariates (each covariate costs one degree of freedom). The core test's partial
correlation is computed on normal scores (``correlation.partial_normal``), which is as efficient as Pearson's
when the dependence is Gaussian after monotone transforms, so Pearson's variance applies (a Spearman partial
would need Bonett & Wright's ``(1 + rho^2 / 2)`` on top). An interval at level ``1 - alpha`` excludes 0 with
probability ``power`` when the true correlation is ``rho`` if

    atanh(rho) / se(n, k) >= z(1 - alpha / 2) + z(power).

The same inequality, read the other way, is the chance that the interval around an estimate whose truth is 0
ends below ``delta`` (the verdict's "adds nothing that matters"): resolving ``delta`` in either direction takes
the same number of models. ``min_detectable`` solves it for rho at a given n, ``population_needed`` for n at a
given rho; ``tests/test_dropout_power.py`` checks both against simulated populations.
"""

from __future__ import annotations

import math

from scipy import stats as _st


def _z_sum(alpha: float, power: float) -> float:
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha} and {power}")
    return float(_st.norm.ppf(1 - alpha / 2) + _st.norm.ppf(power))


def fisher_se(n: int, k: int) -> float:
    """Standard error of ``atanh`` of a correlation of ``n`` models partialled on ``k`` covariates."""
    dof = n - 3 - k
    return math.inf if dof < 1 else 1 / math.sqrt(dof)


def min_detectable(n: int, k: int, alpha: float, power: float) -> float:
    """The smallest |rho| an ``n``-model population detects with ``power`` at two-sided level ``alpha``."""
    if n - 3 - k < 1:
        return math.nan
    return math.tanh(_z_sum(alpha, power) * fisher_se(n, k))


def population_needed(rho: float, k: int, alpha: float, power: float) -> int:
    """Models needed to detect ``rho`` (or, when the truth is 0, to rule out ``rho``) with ``power``."""
    if not 0 < abs(rho) < 1:
        raise ValueError(f"rho must be in (-1, 1) and non-zero, got {rho}")
    z = _z_sum(alpha, power)
    return math.ceil(3 + k + (z / math.atanh(abs(rho))) ** 2)
