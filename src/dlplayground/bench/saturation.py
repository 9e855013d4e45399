"""Where does a bigger batch stop paying off? Saturation analysis of a throughput-vs-batch curve.

Throughput is X(b) = b / t(b) with t(b) the median per-call latency at batch size b. The *saturation batch*
is the smallest b whose throughput reaches (1 - eps) of the best throughput seen in the sweep. Its
uncertainty comes from a bootstrap over the raw per-call samples (``dlplayground.stats.bootstrap``, each point's
samples resampled on their own): each resample redraws every point's samples with replacement, recomputes the
medians and the saturation batch, and the percentile interval of those batches is the confidence interval (a
set of batch sizes, so the bounds are batch sizes that were measured).

Also derived from the same samples: the throughput gain per step of the sweep (per doubling on a power-of-two
grid), the highest-throughput batch whose p99 latency fits a latency budget (an SLO), and a least-squares fit
of the latency model t(b) = a + c*b (a: fixed per-call overhead, c: marginal cost per item), reported with its
R^2 so a reader can see where the linear model does not fit (fitted on relative errors, so small batches
count as much as large ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls

from dlplayground.bench.roofline import Diagnosis
from dlplayground.errors import UserInputError
from dlplayground.results import TimingRecord, record_from_dict
from dlplayground.stats import bootstrap


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

    def __post_init__(self) -> None:
        if not 0 < self.eps < 1:
            raise UserInputError(f"--saturation-eps must be in (0, 1), got {self.eps}")
        if self.latency_budget_ms is not None and not self.latency_budget_ms > 0:
            raise UserInputError(f"--latency-budget-ms must be > 0, got {self.latency_budget_ms}")
        if self.resamples < 10:
            raise UserInputError(f"bootstrap resamples must be >= 10, got {self.resamples}")
        if not 0 < self.ci_level < 1:
            raise UserInputError(f"ci_level must be in (0, 1), got {self.ci_level}")


@dataclass(frozen=True)
class LatencyModel:
    """t(b) = a + c*b fitted to the median latencies (non-negative least squares)."""

    a_ms: float
    c_ms_per_item: float
    r2: float

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
    """True when the saturation batch is the largest measured one: throughput was still growing."""
    gain_per_doubling: tuple[GainStep, ...] = ()
    latency_budget_ms: float | None = None
    slo_batch: int | None = None
    latency_model: LatencyModel | None = None
    bootstrap_resamples: int = 0
    diagnosis: Diagnosis | None = None
    """What bounds the model at the saturation batch (``dlplayground.bench.roofline``); set by the sweep, which
    holds the measured ceilings."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Saturation:
        """Rebuild from ``to_dict`` output (the envelope's ``saturation`` entry); ``ValueError`` if malformed."""
        return record_from_dict(cls, data, nested={
            "gain_per_doubling": lambda steps: tuple(record_from_dict(GainStep, g) for g in steps),
            "latency_model": LatencyModel.from_dict, "diagnosis": Diagnosis.from_dict})


def saturation_index(throughput: np.ndarray, eps: float) -> np.ndarray:
    """Index of the first batch reaching (1 - eps) x the best throughput, along the last axis."""
    best = throughput.max(axis=-1, keepdims=True)
    return np.argmax(throughput >= (1.0 - eps) * best, axis=-1)


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
    sat = int(saturation_index(throughput, config.eps))
    best = int(np.argmax(throughput))

    def saturation_batches(*samples: np.ndarray) -> np.ndarray:
        medians = np.stack([np.median(s, axis=1) for s in samples], axis=1)  # (resamples, points)
        return batch[saturation_index(batch / medians, config.eps)].astype(float)

    interval = bootstrap([np.asarray(r.times_s) for r in records], saturation_batches, paired=False,
                         resamples=config.resamples, level=config.ci_level, seed=config.seed, discrete=True)
    ci_low, ci_high = int(interval.low), int(interval.high)

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
        at_sweep_edge=bool(sat == len(batch) - 1 and len(batch) > 1),
        gain_per_doubling=gains, latency_budget_ms=config.latency_budget_ms, slo_batch=slo_batch,
        latency_model=fit_latency_model(batch, median_s), bootstrap_resamples=config.resamples,
    )
