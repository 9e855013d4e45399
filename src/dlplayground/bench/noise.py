"""How much a benchmark point's median can be trusted, and the smallest change a comparison can call.

Every point is measured in several interleaved passes (``dlplayground.bench.sweep``). Samples within one pass
are taken back to back, so they share whatever the machine was doing at that moment; they are not
independent, and resampling them as if they were gives intervals that a second run falls outside of. The
unit that varies most is the pass, so:

* **the interval of a point's median** comes from the two-level bootstrap over passes, then samples within
  a pass (``dlplayground.stats.hierarchical_resample``);
* **between-pass spread** is the coefficient of variation of the per-pass medians; a point whose spread
  exceeds ``UNSTABLE_CV`` (10 %, the threshold at which pyperf warns that a benchmark is unstable) is
  flagged *unstable*: its number moved while it was being measured;
* **the detection rule** (used by ``dlplayground compare`` and to state each run's noise floor): each side
  of a comparison is one or more runs; its estimate is the mean of the runs' log medians, with variance
  ``(sigma_run^2 + mean se^2) / n_runs``, where ``se`` is a run's standard error of the log median (from its
  interval) and ``sigma_run`` the machine's run-to-run drift that no single run can see (some shifts last
  longer than a whole run). Two sides differ when ``|log(new / base)|`` exceeds
  ``T = z * sqrt(var_base + var_new) + log(1 + min_effect)`` (``detection_threshold``); with one run per side
  that is ``z * sqrt(se_a^2 + se_b^2 + 2 * sigma_run^2)`` plus the minimum effect. ``z`` is two-sided at
  ``COMPARE_CONFIDENCE`` (99 %: a gate judges dozens of points at once);
* **sigma_run** comes from runs of the same code (``estimate_run_sigma``, the one estimator behind both
  ``dlplayground calibrate`` and a compare with several runs per side): per point, the variance of the log
  median between runs minus the mean within-run ``se^2`` (the part of the spread the runs' own intervals
  already explain), pooled over points weighted by their degrees of freedom, floored at 0 after pooling
  (flooring each point first would bias it upward). Without runs to estimate it from and without a
  calibration of this machine, the conservative ``DEFAULT_RUN_SIGMA`` stands in;
* **a run's noise floor** for a point is the smallest slowdown that rule would call against another run
  of the same noise on the same machine.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from dlplayground.results import TimingRecord
from dlplayground.stats import hierarchical_resample, median_over_passes, percentile_interval

UNSTABLE_CV = 0.10
"""Between-pass coefficient of variation above which a point is flagged unstable (pyperf's 10 %)."""
COMPARE_CONFIDENCE = 0.99
"""Two-sided confidence of the detection rule."""
MIN_EFFECT = 0.05
"""Smallest relative change worth calling, however clear (a 0.5 % change should not fail a CI gate)."""
DEFAULT_RUN_SIGMA = 0.10
"""Run-to-run drift (SD of the log median beyond a run's own interval) assumed without a calibration of this
machine: a conservative default; a calibrated quiet machine is usually well below it."""
RELATIVE_RUN_SIGMA = 0.03
"""Run-to-run shift of one point *relative to the other points of its model* (log SD), beyond the run's own
between-pass intervals: the part of the drift that can move a knee (a shift of the whole run or the whole
model cannot). Measured on this project's 2-core CI machine over six A/A pairs of the default study as 0-4 %
once each model's common shift is removed (the whole-run shifts were up to 11 %); the saturation interval adds
it to every bootstrap resample."""
POINT_LEVEL = 0.95
"""Level of the per-point intervals shown in summaries and reports."""


def z_value(confidence: float) -> float:
    """Two-sided standard-normal quantile: 1.96 at 95 %, 2.58 at 99 %."""
    return float(norm.ppf(0.5 + confidence / 2))


def point_seed(seed: int, key: tuple[Any, ...]) -> list[int]:
    """A seed stream per point, so a point's interval does not depend on which other points are in the run."""
    return [seed, zlib.crc32(repr(key).encode())]


@dataclass(frozen=True)
class PointNoise:
    """A point's median latency with its between-pass interval and spread."""

    median_ms: float
    ci_low_ms: float
    ci_high_ms: float
    level: float
    passes: int
    between_pass_cv: float | None
    """SD / mean of the per-pass medians; None with a single pass (no spread can be seen)."""
    unstable: bool
    log_se: float
    """Standard error of the log median, from the interval (half-width of log bounds / z)."""

    @property
    def half_width(self) -> float:
        """Relative half-width of the interval, (high - low) / 2 / median."""
        return (self.ci_high_ms - self.ci_low_ms) / 2 / self.median_ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def point_noise(record: TimingRecord, *, level: float = POINT_LEVEL, resamples: int = 1000,
                seed: int = 0) -> PointNoise:
    """The median of ``record`` with its two-level bootstrap interval and between-pass spread."""
    key = (record.model, record.device, record.dtype, record.batch_size)
    dist = hierarchical_resample([record.pass_matrix], median_over_passes, resamples=resamples,
                                 seed=point_seed(seed, key))[:, 0]
    low, high = percentile_interval(dist, level)
    medians = record.pass_medians_s
    cv = float(np.std(medians, ddof=1) / np.mean(medians)) if len(medians) > 1 else None
    median = record.quantile_s(0.5)
    log_se = (math.log(high) - math.log(low)) / (2 * z_value(level)) if low > 0 else math.inf
    return PointNoise(median_ms=median * 1e3, ci_low_ms=low * 1e3, ci_high_ms=high * 1e3, level=level,
                      passes=len(medians), between_pass_cv=cv, unstable=cv is not None and cv > UNSTABLE_CV,
                      log_se=log_se)


def side_variance(log_ses: Sequence[float], run_sigma: float) -> float:
    """Variance of a side's estimate, the mean of its runs' log medians: ``(sigma_run^2 + mean se^2) / n_runs``.

    Each run's log median is off by its own sampling error (``se``) plus a shift shared by the whole run
    (``sigma_run``); averaging ``n`` independent runs divides both by ``n``.
    """
    if not log_ses:
        raise ValueError("side_variance needs the standard error of at least one run")
    mean_se2 = sum(se**2 for se in log_ses) / len(log_ses)
    return (run_sigma**2 + mean_se2) / len(log_ses)


def detection_threshold(log_ses_base: Sequence[float], log_ses_new: Sequence[float], run_sigma: float, *,
                        confidence: float = COMPARE_CONFIDENCE, min_effect: float = MIN_EFFECT) -> float:
    """The smallest |log ratio| of two sides' estimates the detection rule calls a change (module docstring).

    ``log_ses_base``/``log_ses_new``: the standard error of the log median of each run of that side.
    """
    variance = side_variance(log_ses_base, run_sigma) + side_variance(log_ses_new, run_sigma)
    return z_value(confidence) * math.sqrt(variance) + math.log1p(min_effect)


def noise_floor(noise: PointNoise, run_sigma: float = DEFAULT_RUN_SIGMA, *,
                confidence: float = COMPARE_CONFIDENCE, min_effect: float = MIN_EFFECT, runs: int = 1) -> float:
    """The smallest relative slowdown of this point that a comparison with a same-noise run would call.

    ``runs``: runs per side of that comparison, each as noisy as this one.
    """
    ses = [noise.log_se] * runs
    return math.expm1(detection_threshold(ses, ses, run_sigma, confidence=confidence, min_effect=min_effect))


@dataclass(frozen=True)
class DriftEstimate:
    """Run-to-run drift estimated from repeated runs of the same code (``estimate_run_sigma``)."""

    run_sigma: float
    """SD of a point's log median between runs beyond what its within-run interval explains (>= 0)."""
    points: int
    """Point series (a point's runs on one side) that entered the estimate."""
    degrees_of_freedom: int
    """Sum over those series of (runs - 1): how much data the estimate rests on."""
    between_run_variance: float
    """Pooled variance of the log medians between runs."""
    within_run_variance: float
    """Pooled mean se^2 of the runs: the part of the between-run variance the runs' own intervals explain."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_run_sigma(series: Iterable[Sequence[PointNoise]]) -> DriftEstimate:
    """The run-to-run drift of a machine from runs of the same code: the one estimator (module docstring).

    ``series``: for each point (and each side of a comparison), its ``PointNoise`` in every run of the same
    code. Series with fewer than two runs, or a run measured in a single pass (whose ``se`` comes from
    correlated samples, not from passes), are left out. Raises ``ValueError`` when nothing is left.
    """
    between = within = 0.0
    points = dof = 0
    for runs in series:
        if len(runs) < 2 or any(n.passes < 2 or not math.isfinite(n.log_se) for n in runs):
            continue
        logs = np.log([n.median_ms for n in runs])
        df = len(runs) - 1
        between += df * float(np.var(logs, ddof=1))
        within += df * float(np.mean([n.log_se**2 for n in runs]))
        points += 1
        dof += df
    if dof == 0:
        raise ValueError("no point was measured in at least two runs with at least two passes each")
    between, within = between / dof, within / dof
    return DriftEstimate(run_sigma=math.sqrt(max(0.0, between - within)), points=points, degrees_of_freedom=dof,
                         between_run_variance=between, within_run_variance=within)
