"""Where does a bigger batch stop paying off? Saturation analysis of a throughput-vs-batch curve.

Throughput is X(b) = b / t(b) with t(b) the median per-call latency at batch size b (synchronized per call:
what one request sees; on CUDA/MPS the back-to-back figure is recorded beside it, see ``TimingRecord``).
The *saturation batch* is the smallest b whose throughput reaches (1 - eps) of the *reference* throughput,
and the reference is robust: the best point's throughput -- unless it beats the runner-up by more than eps;
such a best must be supported by its own lower confidence bound, and the reference is then the larger of that
bound and the runner-up. So one lucky high point (say at the edge of the range, fast in some of its passes)
cannot drag the knee out to itself, while a point that is fast in every pass (a tight interval) is a real
best and counts. On a plateau, where the best and the runner-up are within eps, the reference is the best
estimate itself, so the knee does not move with the run's noise level. (The lower bound alone, as the
reference everywhere, would: it falls further below the estimate the noisier a run is, and on this
project's A/A runs that moved knees by one to two doublings between runs.)

Uncertainty comes from the passes (``dlplayground.bench.noise``): a two-level bootstrap draws passes with
replacement -- the same pass indices for every point of the model, since pass p of every point ran in the
same sweep over the machine -- then samples within each drawn pass
(``dlplayground.stats.hierarchical_resample``). Each resampled median is also multiplied by an independent
log-normal factor of SD ``run_sigma`` (``noise.RELATIVE_RUN_SIGMA``, 3 %): a point's run-to-run shift
relative to its neighbours, which outlasts any pass and would otherwise make a second run's knee fall outside
the first run's interval. Each resample recomputes every point's median, the reference, the saturation batch
and the latency model; the percentile intervals of those are the confidence intervals (for the saturation
batch a set of batch sizes, so its bounds are batches that were measured).

Also derived from the same samples: the throughput gain per step of the sweep (per doubling on a power-of-two
grid), the highest-throughput batch whose p99 latency fits a latency budget (an SLO), and a least-squares fit
of the latency model t(b) = a + c*b (a: fixed per-call overhead, c: marginal cost per item), reported with its
R^2 and intervals, so a reader can see where the linear model does not fit (fitted on relative errors, so
small batches count as much as large ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import nnls

from dlplayground.bench.noise import RELATIVE_RUN_SIGMA
from dlplayground.bench.roofline import Diagnosis
from dlplayground.errors import UserInputError
from dlplayground.results import TimingRecord, record_from_dict
from dlplayground.stats import hierarchical_resample, median_over_passes, percentile_interval


@dataclass(frozen=True)
class SaturationConfig:
    """Parameters of the analysis."""

    eps: float = 0.05
    """Tolerance: the saturation batch reaches (1 - eps) of the best throughput."""
    latency_budget_ms: float | None = None
    """If set, also pick the best-throughput batch whose p99 latency stays within this budget."""
    resamples: int = 1000
    """Bootstrap resamples for the confidence interval."""
    ci_level: float = 0.95
    seed: int = 0
    run_sigma: float = RELATIVE_RUN_SIGMA
    """Run-to-run shift of a point relative to its model's other points (log SD), which no pass can see: added
    to every resample as an independent log-normal factor per point (``noise.RELATIVE_RUN_SIGMA``)."""

    def __post_init__(self) -> None:
        if not 0 < self.eps < 1:
            raise UserInputError(f"--saturation-eps must be in (0, 1), got {self.eps}")
        if self.latency_budget_ms is not None and not self.latency_budget_ms > 0:
            raise UserInputError(f"--latency-budget-ms must be > 0, got {self.latency_budget_ms}")
        if self.resamples < 10:
            raise UserInputError(f"bootstrap resamples must be >= 10, got {self.resamples}")
        if not 0 < self.ci_level < 1:
            raise UserInputError(f"ci_level must be in (0, 1), got {self.ci_level}")
        if not 0 <= self.run_sigma < 1:
            raise UserInputError(f"run_sigma must be in [0, 1), got {self.run_sigma}")


@dataclass(frozen=True)
class LatencyModel:
    """t(b) = a + c*b fitted to the median latencies (non-negative least squares)."""

    a_ms: float
    c_ms_per_item: float
    r2: float
    a_ci_ms: tuple[float, float] | None = None
    """Interval of ``a`` from the passes' bootstrap (None where not computed)."""
    c_ci_ms_per_item: tuple[float, float] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyModel:
        return record_from_dict(cls, data)


@dataclass(frozen=True)
class GainStep:
    """Throughput ratio X(to_batch) / X(from_batch) between consecutive measured batches."""

    from_batch: int
    to_batch: int
    gain: float


@dataclass(frozen=True)
class Saturation:
    """The saturation analysis of one model's sweep on one device and dtype."""

    model: str
    device: str
    dtype: str
    eps: float
    saturation_batch: int
    ci_low: int
    ci_high: int
    ci_level: float
    best_batch: int
    best_throughput_items_s: float
    at_sweep_edge: bool
    """True when throughput was still growing at the largest measured batch: the saturation batch is the
    largest one, or the last step gained more than 1 + eps."""
    gain_per_doubling: tuple[GainStep, ...] = ()
    latency_budget_ms: float | None = None
    slo_batch: int | None = None
    latency_model: LatencyModel | None = None
    bootstrap_resamples: int = 0
    diagnosis: Diagnosis | None = None
    """What bounds the model at the saturation batch (``dlplayground.bench.roofline``); set by the sweep, which
    holds the measured ceilings."""
    reference_throughput_items_s: float | None = None
    """The robust best the knee is judged against (module docstring)."""
    best_throughput_ci: tuple[float, float] | None = None
    """Interval of the best point's throughput (items/s)."""
    passes: int = 1
    """Passes per point the intervals come from."""
    throughput_basis: str = "per-call synchronized median latency"
    """Which latency the throughput curve divides by."""

    def to_dict(self) -> dict[str, Any]:
        # The diagnosis writes its own form (with the derived above-roof flags of its point).
        return {**asdict(self), "diagnosis": self.diagnosis.to_dict() if self.diagnosis else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Saturation:
        """Rebuild from ``to_dict`` output (the envelope's ``saturation`` entry); ``ValueError`` if malformed."""
        return record_from_dict(cls, data, nested={
            "gain_per_doubling": lambda steps: tuple(record_from_dict(GainStep, g) for g in steps),
            "latency_model": LatencyModel.from_dict, "diagnosis": Diagnosis.from_dict})


def robust_reference(throughput: np.ndarray, lower: np.ndarray, eps: float) -> np.ndarray:
    """The reference throughput along the last axis (module docstring): the best, unless it exceeds the
    runner-up by more than (1 + eps); then the larger of the runner-up and the best point's ``lower``
    confidence bound (``lower`` has the shape of ``throughput``), never more than the best."""
    best = np.argmax(throughput, axis=-1)[..., None]
    top = np.take_along_axis(throughput, best, axis=-1)[..., 0]
    if throughput.shape[-1] < 2:
        return top
    second = np.sort(throughput, axis=-1)[..., -2]
    supported = np.minimum(top, np.maximum(second, np.take_along_axis(lower, best, axis=-1)[..., 0]))
    return np.where(top <= (1.0 + eps) * second, top, supported)


def saturation_index(throughput: np.ndarray, eps: float, reference: np.ndarray | float | None = None) -> np.ndarray:
    """Index of the first batch reaching (1 - eps) x the reference throughput (default: the best), along the
    last axis; ``reference`` has the leading shape of ``throughput`` (one value per curve)."""
    ref = throughput.max(axis=-1) if reference is None else np.asarray(reference, dtype=float)
    return np.argmax(throughput >= (1.0 - eps) * ref[..., None], axis=-1)


def fit_latency_model(batch: np.ndarray, latency_s: np.ndarray) -> LatencyModel | None:
    """Fit t = a + c*b with a, c >= 0 on relative errors; None when fewer than 3 points make it meaningless.

    Each residual is divided by its latency (a 1/t^2-weighted least squares), so a batch-1 call of 0.3 ms
    counts as much as a batch-1024 call of 300 ms; an unweighted fit is set by the largest batches alone and
    then says nothing about the fixed cost ``a`` that matters at small batch. R^2 is of the latencies.
    """
    if len(batch) < 3:
        return None
    design = np.column_stack([np.ones_like(batch, dtype=float), batch.astype(float)])
    coef, _ = nnls(design / latency_s[:, None], np.ones_like(latency_s))
    pred = design @ coef
    ss_res = float(np.sum((latency_s - pred) ** 2))
    ss_tot = float(np.sum((latency_s - latency_s.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return LatencyModel(a_ms=float(coef[0] * 1e3), c_ms_per_item=float(coef[1] * 1e3), r2=r2)


def analyse(records: Sequence[TimingRecord], config: SaturationConfig | None = None) -> Saturation:
    """Saturation analysis of one model's records (one device and dtype, distinct batch sizes)."""
    config = config or SaturationConfig()
    if not records:
        raise ValueError("saturation analysis needs at least one timing record")
    keys = {(r.model, r.device, r.dtype) for r in records}
    if len(keys) != 1:
        raise ValueError(f"saturation analysis takes one model/device/dtype at a time, got {sorted(keys)}")
    records = sorted(records, key=lambda r: r.batch_size)
    batch = np.array([r.batch_size for r in records])
    if len(set(batch.tolist())) != len(batch):
        raise ValueError(f"duplicate batch sizes in {records[0].model}'s sweep: {batch.tolist()}")

    median_s = np.array([r.quantile_s(0.5) for r in records])
    throughput = batch / median_s
    # One two-level bootstrap over the passes gives every interval below (paired: the same resamples).
    medians = hierarchical_resample([r.pass_matrix for r in records], median_over_passes,
                                    resamples=config.resamples, seed=config.seed)  # (resamples, points)
    if config.run_sigma > 0:
        shifts = np.random.default_rng([config.seed, 1]).normal(0.0, config.run_sigma, medians.shape)
        medians = medians * np.exp(shifts)
    resampled = batch / medians
    lower = np.array([percentile_interval(resampled[:, i], config.ci_level)[0] for i in range(len(batch))])
    margin = throughput - lower  # each point's distance from its estimate to its lower bound
    reference = float(robust_reference(throughput, lower, config.eps))
    sat = int(saturation_index(throughput, config.eps, reference))
    best = int(np.argmax(throughput))
    resampled_reference = robust_reference(resampled, resampled - margin, config.eps)
    sat_batches = batch[saturation_index(resampled, config.eps, resampled_reference)]
    ci_low, ci_high = (int(v) for v in percentile_interval(sat_batches.astype(float), config.ci_level,
                                                            discrete=True))
    best_ci = percentile_interval(resampled[:, best], config.ci_level)

    gains = tuple(GainStep(int(batch[i]), int(batch[i + 1]), float(throughput[i + 1] / throughput[i]))
                  for i in range(len(batch) - 1))
    slo_batch = None
    if config.latency_budget_ms is not None:
        p99_ms = np.array([r.p99_ms for r in records])
        fits = np.flatnonzero(p99_ms <= config.latency_budget_ms)
        if fits.size:
            slo_batch = int(batch[fits[np.argmax(throughput[fits])]])

    first = records[0]
    return Saturation(
        model=first.model, device=first.device, dtype=first.dtype, eps=config.eps,
        saturation_batch=int(batch[sat]), ci_low=ci_low, ci_high=ci_high, ci_level=config.ci_level,
        best_batch=int(batch[best]), best_throughput_items_s=float(throughput[best]),
        at_sweep_edge=bool(len(batch) > 1 and (sat == len(batch) - 1 or gains[-1].gain > 1 + config.eps)),
        gain_per_doubling=gains, latency_budget_ms=config.latency_budget_ms, slo_batch=slo_batch,
        latency_model=_latency_model_with_intervals(batch, median_s, medians, config.ci_level),
        bootstrap_resamples=config.resamples, reference_throughput_items_s=reference,
        best_throughput_ci=best_ci, passes=min(r.passes for r in records),
    )


def _latency_model_with_intervals(batch: np.ndarray, median_s: np.ndarray, resampled_s: np.ndarray,
                                  level: float) -> LatencyModel | None:
    """The fit on the medians, with intervals of a and c from refitting every bootstrap resample."""
    fit = fit_latency_model(batch, median_s)
    if fit is None:
        return None
    refits = [fit_latency_model(batch, row) for row in resampled_s]
    a = np.array([f.a_ms for f in refits])
    c = np.array([f.c_ms_per_item for f in refits])
    return replace(fit, a_ci_ms=percentile_interval(a, level), c_ci_ms_per_item=percentile_interval(c, level))
