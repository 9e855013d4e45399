"""The one bootstrap: a seeded percentile interval for any statistic, used by every study and by compare.

``bootstrap(data, statistic)`` resamples the observations of ``data`` (one array or several) with
replacement, evaluates ``statistic`` on each resample and returns the estimate on the data with the
two-sided percentile interval of the resampled values (``Interval``). scipy.stats.bootstrap draws the
resamples (in batches that bound the memory); the interval is taken here because two things it does not do
are needed: resamples in which the statistic is undefined (NaN, e.g. a correlation where a resample left a
variable constant) are left out and counted, and a *discrete* statistic (a batch size) gets bounds that are
values it actually took (``method="lower"/"higher"`` percentiles), not interpolations between them.

Conventions, the same for every caller:

* each array is resampled along its first axis; ``statistic(*arrays)`` receives every array with one
  leading resample axis added -- shape ``(r, n, ...)`` -- and returns ``r`` values (vectorised);
* ``paired=True`` draws one set of indices for all arrays (rows belong together: a model's predictor and
  target, an image's scores); ``paired=False`` resamples each array on its own (independent groups: the
  samples of different benchmark points, faces and non-faces);
* the same ``seed`` and array shapes give the same resamples, so two calls on different statistics of the
  same data are paired with each other;
* uncertainty is only as good as the independence of the resampled unit: resample the level that varies
  most (models, images, passes), never correlated samples within one unit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as _st

from dlplayground.results import record_from_dict

Statistic = Callable[..., np.ndarray]
_BATCH_ELEMENTS = 4_000_000  # bound each resample batch to ~32 MB of float64 per array


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap percentile interval (``nan`` bounds where no resample was defined)."""

    estimate: float
    low: float
    high: float
    level: float
    resamples: int
    valid: int
    """Resamples in which the statistic was defined (finite); the percentiles are of these."""
    distribution: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    """The resampled values (all of them, NaN included), for callers that need more than the interval."""

    def excludes(self, value: float = 0.0) -> bool:
        """True when the whole interval lies strictly on one side of ``value``."""
        return math.isfinite(self.low) and math.isfinite(self.high) and (self.low > value or self.high < value)

    @property
    def sign(self) -> int:
        """+1 / -1 when the interval lies above / below zero, else 0."""
        if not self.excludes(0.0):
            return 0
        return 1 if self.low > 0 else -1

    def to_dict(self) -> dict[str, Any]:
        """The plain-JSON form (the resampled distribution is not stored)."""
        out = asdict(self)
        out.pop("distribution")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interval:
        """Rebuild from ``to_dict`` output; JSON's null (an undefined bound) becomes NaN again."""
        values = {k: (math.nan if v is None and k in ("estimate", "low", "high") else v) for k, v in data.items()}
        return record_from_dict(cls, values)


def percentile_interval(values: np.ndarray, level: float, *, discrete: bool = False) -> tuple[float, float]:
    """Two-sided percentile interval of the finite ``values``; NaN bounds when there are none.

    ``discrete``: the lower bound is the largest value at or below the lower percentile and the upper bound
    the smallest at or above the upper one, so both are values the statistic took.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2
    if discrete:
        return (float(np.quantile(finite, alpha, method="lower")),
                float(np.quantile(finite, 1.0 - alpha, method="higher")))
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap(
    data: np.ndarray | Sequence[np.ndarray],
    statistic: Statistic,
    *,
    paired: bool = True,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int | Sequence[int] = 0,
    discrete: bool = False,
) -> Interval:
    """The estimate of ``statistic`` on ``data`` and its percentile bootstrap interval (module docstring).

    ``data`` is one array or a sequence of arrays, each resampled along its first axis. ``seed`` may be a
    sequence of ints (e.g. ``(seed, point_index)``) to give independent, reproducible streams.
    """
    arrays = [np.asarray(data)] if isinstance(data, np.ndarray) else [np.asarray(a) for a in data]
    if not arrays:
        raise ValueError("bootstrap needs at least one array of observations")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    sizes = [a.shape[0] if a.ndim else 0 for a in arrays]
    if min(sizes) < 1:
        raise ValueError(f"every array needs at least one observation along its first axis, got sizes {sizes}")
    if paired and len(set(sizes)) != 1:
        raise ValueError(f"paired resampling needs arrays of one length, got {sizes}")

    estimate = float(np.asarray(statistic(*(a[None] for a in arrays)), dtype=float).reshape(-1)[0])
    if min(sizes) < 2:  # nothing to resample: the interval is the estimate itself
        return Interval(estimate, estimate, estimate, level, resamples, resamples,
                        np.full(resamples, estimate))

    def on_indices(*index: np.ndarray, axis: int = -1) -> np.ndarray:
        # scipy hands over (batch, n) index arrays; take the rows they name from every array.
        picks = index * len(arrays) if paired else index
        return np.asarray(statistic(*(a[i] for a, i in zip(arrays, picks, strict=True))), dtype=float)

    per_row = max(int(np.prod(a.shape)) for a in arrays)
    batch = max(1, _BATCH_ELEMENTS // max(1, per_row))
    index_data = (np.arange(sizes[0]),) if paired else tuple(np.arange(n) for n in sizes)
    with warnings.catch_warnings():
        # scipy warns about degenerate (constant or NaN) distributions; NaNs are handled and counted below.
        warnings.simplefilter("ignore")
        result = _st.bootstrap(index_data, on_indices, n_resamples=resamples, batch=batch, vectorized=True,
                               paired=False, method="percentile", confidence_level=level,
                               rng=np.random.default_rng(seed))
    values = np.asarray(result.bootstrap_distribution, dtype=float).reshape(-1)
    low, high = percentile_interval(values, level, discrete=discrete)
    return Interval(estimate, low, high, level, resamples, int(np.isfinite(values).sum()), values)


def hierarchical_resample(
    groups: Sequence[np.ndarray],
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    resamples: int = 1000,
    seed: int | Sequence[int] = 0,
    paired: bool = True,
    within: bool = True,
) -> np.ndarray:
    """Two-level bootstrap of grouped samples: the resampled ``statistic`` of every group, shape (resamples, groups).

    Each group is a (passes, samples per pass) array: the samples of one benchmark point, one row per pass.
    A resample draws passes with replacement (the level that varies most: drift between passes), then, with
    ``within``, samples with replacement inside each drawn pass, and evaluates ``statistic`` on the result,
    which receives an array of shape (r, passes, samples) and returns r values (e.g. the median over the last
    two axes). ``paired`` draws one set of pass indices for all groups that share the same number of passes:
    pass p of every point was measured in the same sweep over the machine, so a shift that hit the whole
    pass hits them together, and ratios between points (a throughput curve, its knee) keep that pairing.

    This is the hierarchical bootstrap of Saravanan et al. (2020), here for benchmark passes; with a single
    pass it reduces to the ordinary bootstrap of the samples, which is only honest when they are independent.
    Deterministic for a given ``seed`` and shapes. Resamples are drawn in batches that bound the memory.
    """
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if not arrays:
        raise ValueError("hierarchical_resample needs at least one group")
    if any(a.ndim != 2 or min(a.shape) < 1 for a in arrays):
        raise ValueError(f"every group must be a non-empty (passes, samples) array, got shapes "
                         f"{[a.shape for a in arrays]}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, len(arrays)))
    per_resample = max(a.size for a in arrays)
    batch = max(1, _BATCH_ELEMENTS // per_resample)
    for start in range(0, resamples, batch):
        r = min(batch, resamples - start)
        shared: dict[int, np.ndarray] = {}
        for j, data in enumerate(arrays):
            passes, samples = data.shape
            if paired:
                if passes not in shared:
                    shared[passes] = rng.integers(0, passes, size=(r, passes))
                rows = shared[passes]
            else:
                rows = rng.integers(0, passes, size=(r, passes))
            cols = rng.integers(0, samples, size=(r, passes, samples)) if within else np.arange(samples)
            picked = data[rows[:, :, None], cols] if within else data[rows]
            out[start:start + r, j] = np.asarray(statistic(picked), dtype=float).reshape(r)
    return out


def median_over_passes(resampled: np.ndarray) -> np.ndarray:
    """The pooled median of each resample of ``hierarchical_resample``: shape (r, passes, samples) -> (r,)."""
    return np.median(resampled.reshape(resampled.shape[0], -1), axis=1)


# ---------------------------------------------------------------------------------------- multiplicity
def holm_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control without independence assumptions).

    Several conditions judged from correlated data (the same images under different degradations, one
    population under several targets) each get a test; reading each at ``alpha`` inflates the chance of a
    false call with the number of tests. Holm's adjustment controls the family-wise rate at ``alpha`` for
    any dependence and is never less powerful than Bonferroni: compare the returned values with ``alpha``.
    NaN p-values (a test that could not be run) stay NaN and do not count towards the family size.
    """
    p = np.asarray(p_values, dtype=float).reshape(-1)
    out = np.full(p.shape, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = np.minimum(1.0, p[order] * (m - np.arange(m)))
    out[order] = np.maximum.accumulate(scaled)
    return out


def simultaneous_level(level: float, family_size: int) -> float:
    """The per-interval level that makes ``family_size`` intervals hold together at ``level`` (Bonferroni).

    Use it for the intervals shown beside Holm-adjusted decisions, so a reader who scans all of them is not
    misled by the one in twenty that misses by chance.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if family_size < 1:
        raise ValueError(f"family_size must be >= 1, got {family_size}")
    return 1.0 - (1.0 - level) / family_size
