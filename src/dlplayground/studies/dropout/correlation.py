"""Rank correlations with bootstrap confidence intervals, and rank-based partial correlation.

Studies that ask "does X predict Y across a population of models" need a monotone, outlier-robust measure and
an honest interval around it, not a bare coefficient:

* ``spearman`` / ``kendall`` (tau-b, tie-corrected): point estimates agree with ``scipy.stats``; p-values come
  from scipy.
* ``partial_spearman(x, y, z)``: the Spearman correlation of x and y with the confound(s) z removed: rank
  every variable, regress the ranks of x and of y on the ranks of z (with intercept), correlate the residuals.
  The p-value uses the t distribution with ``n - 2 - k`` degrees of freedom (k confounds).
* ``correlate``: one of those plus a paired percentile bootstrap CI (models resampled with replacement; ties
  introduced by resampling are handled by average ranks and tau-b). Resamples in which a variable is constant
  have no correlation and are left out of the percentiles; how many were usable is recorded.

The statistics are vectorised over bootstrap resamples, so thousands of resamples of a few dozen models take
milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import stats as _st

Method = Literal["spearman", "kendall", "partial_spearman"]
METHODS: tuple[str, ...] = ("spearman", "kendall", "partial_spearman")
_KENDALL_CHUNK_ELEMENTS = 4_000_000  # bound the (resamples, n, n) sign arrays to ~32 MB each


# ------------------------------------------------------------------------------ vectorised statistics
def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``; NaN where a row is constant."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    num = (a * b).sum(axis=-1)
    out = np.full(num.shape, np.nan)
    ok = denom > 1e-12 * np.maximum(1.0, np.abs(num))
    out[ok] = np.clip(num[ok] / denom[ok], -1.0, 1.0)
    return out


def _rank_rows(a: np.ndarray) -> np.ndarray:
    return _st.rankdata(a, axis=-1)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _pearson_rows(_rank_rows(x), _rank_rows(y))


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b per row: sum(sx * sy) / sqrt(sum(sx^2) * sum(sy^2)) over all pairs of positions."""
    n = x.shape[-1]
    chunk = max(1, _KENDALL_CHUNK_ELEMENTS // max(1, n * n))
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk):
        xs, ys = x[start:start + chunk], y[start:start + chunk]
        sx = np.sign(xs[:, :, None] - xs[:, None, :])
        sy = np.sign(ys[:, :, None] - ys[:, None, :])
        num = (sx * sy).sum(axis=(1, 2))
        denom = np.sqrt((sx * sx).sum(axis=(1, 2)) * (sy * sy).sum(axis=(1, 2)))
        res = np.full(num.shape, np.nan)
        ok = denom > 0
        res[ok] = np.clip(num[ok] / denom[ok], -1.0, 1.0)
        out[start:start + chunk] = res
    return out


def _partial_rows(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rank partial correlation per row; ``z`` has shape (rows, n, k)."""
    rx, ry = _rank_rows(x), _rank_rows(y)
    rz = _st.rankdata(z, axis=1)
    design = np.concatenate([np.ones(rz.shape[:2] + (1,)), rz], axis=2)  # (rows, n, k + 1)
    # pinv copes with resamples in which a confound is constant (collinear with the intercept).
    pinv = np.linalg.pinv(design)  # (rows, k + 1, n): least-squares coefficients = pinv @ values
    res_x = rx - np.einsum("bij,bj->bi", design, np.einsum("bji,bi->bj", pinv, rx))
    res_y = ry - np.einsum("bij,bj->bi", design, np.einsum("bji,bi->bj", pinv, ry))
    return _pearson_rows(res_x, res_y)


def _as_confounds(z: object, n: int) -> np.ndarray:
    if z is None:
        raise ValueError("partial_spearman needs a confound (an array of n values or an (n, k) array)")
    arr = np.asarray(z, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"confound must have shape ({n},) or ({n}, k), got {arr.shape}")
    return arr


def _check_pair(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("x and y must be finite (drop missing values before correlating)")
    if a.size < 3:
        raise ValueError(f"need at least 3 paired values to correlate, got {a.size}")
    return a, b


# ------------------------------------------------------------------------------------ point estimates
def spearman(x: object, y: object) -> float:
    """Spearman's rho (Pearson correlation of average ranks); NaN if either variable is constant."""
    a, b = _check_pair(x, y)
    return float(_spearman_rows(a[None], b[None])[0])


def kendall(x: object, y: object) -> float:
    """Kendall's tau-b (ties corrected); NaN if either variable is constant."""
    a, b = _check_pair(x, y)
    return float(_kendall_rows(a[None], b[None])[0])


def partial_spearman(x: object, y: object, z: object) -> float:
    """Spearman correlation of x and y after removing (by linear regression on ranks) the confound(s) z."""
    a, b = _check_pair(x, y)
    conf = _as_confounds(z, a.size)
    return float(_partial_rows(a[None], b[None], conf[None])[0])


def _statistic(method: str, x: np.ndarray, y: np.ndarray, z: np.ndarray | None) -> np.ndarray:
    if method == "spearman":
        return _spearman_rows(x, y)
    if method == "kendall":
        return _kendall_rows(x, y)
    if method == "partial_spearman":
        assert z is not None
        return _partial_rows(x, y, z)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _p_value(method: str, estimate: float, x: np.ndarray, y: np.ndarray, k: int) -> float:
    if not math.isfinite(estimate):
        return math.nan
    if method == "spearman":
        return float(_st.spearmanr(x, y).pvalue)
    if method == "kendall":
        return float(_st.kendalltau(x, y).pvalue)
    dof = x.size - 2 - k
    if dof < 1:
        return math.nan
    if abs(estimate) >= 1.0:
        return 0.0
    t = estimate * math.sqrt(dof / (1.0 - estimate * estimate))
    return float(2 * _st.t.sf(abs(t), dof))


# --------------------------------------------------------------------------------------- with a CI
@dataclass(frozen=True)
class Correlation:
    """A correlation estimate with its bootstrap interval; ``nan`` where undefined (a constant variable)."""

    method: str
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    confidence: float
    n_boot: int
    n_boot_valid: int  # resamples where the statistic was defined (no constant variable)

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high) and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def sign(self) -> int:
        """+1 / -1 when the interval excludes zero on that side, else 0."""
        if not self.excludes_zero:
            return 0
        return 1 if self.ci_low > 0 else -1

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def correlate(
    x: object,
    y: object,
    method: Method = "spearman",
    *,
    confound: object = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Correlation:
    """``method``'s estimate of the x-y correlation with a paired percentile bootstrap CI.

    ``confound`` (n values, or an (n, k) array) is required for ``partial_spearman`` and ignored otherwise.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    a, b = _check_pair(x, y)
    n = a.size
    z = _as_confounds(confound, n) if method == "partial_spearman" else None
    k = 0 if z is None else z.shape[1]
    estimate = float(_statistic(method, a[None], b[None], None if z is None else z[None])[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    boot = _statistic(method, a[idx], b[idx], None if z is None else z[idx])
    valid = boot[np.isfinite(boot)]
    if valid.size:
        tail = (1 - confidence) / 2 * 100
        low, high = (float(v) for v in np.percentile(valid, [tail, 100 - tail]))
    else:
        low = high = math.nan
    return Correlation(method=method, estimate=estimate, ci_low=low, ci_high=high,
                       p_value=_p_value(method, estimate, a, b, k), n=n, confidence=confidence, n_boot=n_boot,
                       n_boot_valid=int(valid.size))
