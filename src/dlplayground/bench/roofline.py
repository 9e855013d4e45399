"""The roofline: where each benchmark point sits against the device's measured ceilings, and what bounds it.

For a point with ``F`` FLOPs and an estimated ``B`` bytes moved per forward pass (``dlplayground.bench.flops``),
taking ``t`` seconds (median), on a device whose measured ceilings are ``P`` GFLOP/s (square matmul) and
``W`` GB/s (copy) (``dlplayground.bench.peaks``):

* arithmetic intensity ``I = F / B`` (FLOP per byte); the *ridge* is ``P / W``;
* achieved ``F / t`` GFLOP/s and ``B / t`` GB/s;
* the roof at that intensity is ``min(P, I * W)``; % of roof = achieved / roof.

**The diagnosis rule**, applied at a model's saturation batch (``Rule`` holds the thresholds):

1. *launch/overhead-bound* if the fitted latency model ``t(b) = a + c*b`` says the fixed per-call part
   dominates, ``a / t(b_sat) > 0.5`` -- provided the fit describes that point (``a + c*b_sat`` within 25%
   of the measured ``t(b_sat)``; otherwise ``a`` is not used and the text says so); or if the point is far
   below both roofs: achieved GFLOP/s under 5% of
   ``P`` *and* achieved GB/s under 5% of ``W`` -- the time goes neither to arithmetic nor to memory
   traffic, but to dispatch, kernel launches, Python and synchronisation;
2. otherwise *memory-bound* if ``I`` is below the ridge (its roof is ``I * W``; reported as % of ``W``);
3. otherwise *compute-bound* (its roof is ``P``; reported as % of ``P``).

Without a FLOP count or byte estimate the bound is "unknown". The bytes are a layer-level estimate and the
ceilings are what a square matmul and a copy reach, so a point can sit above its roof: above the bandwidth
when weights and activations stay in cache, above the matmul peak when other work on the machine slowed
the peak measurement. The diagnosis reports such numbers as they are, with a bracketed caveat, rather than
clipping them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dlplayground.bench.peaks import Peaks
from dlplayground.results import TimingRecord, record_from_dict

OVERHEAD = "overhead-bound"
MEMORY = "memory-bound"
COMPUTE = "compute-bound"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Rule:
    """Thresholds of the diagnosis rule (module docstring)."""

    overhead_share: float = 0.5
    """Overhead-bound when the fixed per-call latency ``a`` exceeds this share of ``t(b_sat)``..."""
    low_utilisation: float = 0.05
    """...or when achieved GFLOP/s and GB/s are both below this fraction of their ceilings."""
    fit_tolerance: float = 0.25
    """The fit's ``a`` only counts when ``a + c*b_sat`` is within this fraction of the measured ``t(b_sat)``:
    a fit dragged by one disturbed point says nothing about the saturation batch."""


@dataclass(frozen=True)
class Roofs:
    """The two measured ceilings."""

    peak_gflop_s: float
    peak_gb_s: float

    def __post_init__(self) -> None:
        if not (self.peak_gflop_s > 0 and self.peak_gb_s > 0):
            raise ValueError(f"roofline ceilings must be > 0, got {self.peak_gflop_s} GFLOP/s, {self.peak_gb_s} GB/s")

    @property
    def ridge_flop_per_byte(self) -> float:
        return self.peak_gflop_s / self.peak_gb_s

    def roof_gflop_s(self, intensity: float) -> float:
        """Attainable GFLOP/s at an arithmetic intensity: ``min(P, I * W)``."""
        return min(self.peak_gflop_s, intensity * self.peak_gb_s)

    @classmethod
    def from_peaks(cls, peaks: Peaks) -> Roofs:
        """The two ceilings of a run's measured ``Peaks``."""
        return cls(peaks.matmul_gflop_s, peaks.bandwidth_gb_s)


@dataclass(frozen=True)
class RooflinePoint:
    """One benchmark point placed on the roofline."""

    model: str
    batch_size: int
    flops: float
    bytes_moved: float
    latency_s: float
    intensity_flop_per_byte: float
    achieved_gflop_s: float
    achieved_gb_s: float
    roof_gflop_s: float
    pct_of_roof: float
    pct_of_matmul_peak: float
    pct_of_bandwidth: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RooflinePoint:
        return record_from_dict(cls, data)


def place(record: TimingRecord, roofs: Roofs) -> RooflinePoint | None:
    """Place a record on the roofline (at its median latency); None without FLOPs or bytes."""
    if not record.flops or not record.bytes_moved:
        return None
    latency_s = record.quantile_s(0.5)
    if latency_s <= 0:
        return None
    intensity = record.flops / record.bytes_moved
    gflop_s = record.flops / latency_s / 1e9
    gb_s = record.bytes_moved / latency_s / 1e9
    roof = roofs.roof_gflop_s(intensity)
    return RooflinePoint(
        model=record.model, batch_size=record.batch_size, flops=record.flops, bytes_moved=record.bytes_moved,
        latency_s=latency_s, intensity_flop_per_byte=intensity, achieved_gflop_s=gflop_s, achieved_gb_s=gb_s,
        roof_gflop_s=roof, pct_of_roof=100 * gflop_s / roof, pct_of_matmul_peak=100 * gflop_s / roofs.peak_gflop_s,
        pct_of_bandwidth=100 * gb_s / roofs.peak_gb_s,
    )


@dataclass(frozen=True)
class Diagnosis:
    """What bounds a model at its saturation batch, and the one line that says so."""

    bound: str
    """``overhead-bound``, ``memory-bound``, ``compute-bound`` or ``unknown``."""
    batch_size: int
    text: str
    overhead_share: float | None = None
    """``a / t(b_sat)``, when a latency fit was given."""
    fit_used: bool = False
    """Whether the latency fit described the point closely enough for its ``a`` to count (see ``Rule``)."""
    point: RooflinePoint | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        return record_from_dict(cls, data, nested={"point": RooflinePoint.from_dict})


def diagnose_record(
    record: TimingRecord | None,
    *,
    batch_size: int,
    roofs: Roofs | None,
    fixed_ms: float | None = None,
    per_item_ms: float | None = None,
    rule: Rule = Rule(),
) -> Diagnosis:
    """Apply the diagnosis rule (module docstring) to the record measured at a model's saturation batch.

    ``fixed_ms`` and ``per_item_ms`` are the fitted latency model's ``a`` and ``c``
    (``Saturation.latency_model``), None when there is no fit; the point's median latency is ``t(b_sat)``.
    With ``per_item_ms`` given, ``a`` only counts when the fit predicts ``t(b_sat)`` within
    ``rule.fit_tolerance``.
    """
    point = place(record, roofs) if record is not None and roofs is not None else None
    if point is None or roofs is None:
        missing = "measured peaks" if roofs is None else "a FLOP count"
        return Diagnosis(UNKNOWN, batch_size, f"bound unknown at batch {batch_size} (no {missing})")
    t_ms = point.latency_s * 1e3
    share = fixed_ms / t_ms if fixed_ms is not None and t_ms > 0 else None
    fit_note = ""
    fit_used = share is not None
    if share is not None and per_item_ms is not None:
        predicted_ms = fixed_ms + per_item_ms * batch_size
        fit_used = abs(predicted_ms - t_ms) <= rule.fit_tolerance * t_ms
        if not fit_used:
            fit_note = (f" (the latency fit a + c*b predicts {predicted_ms:.3g} ms here, not the measured "
                        f"{t_ms:.3g} ms, so its a is not used)")
    numbers = (f"{point.achieved_gflop_s:.3g} GFLOP/s = {point.pct_of_matmul_peak:.1f}% of the "
               f"{roofs.peak_gflop_s:.3g} GFLOP/s matmul peak, {point.achieved_gb_s:.3g} GB/s = "
               f"{point.pct_of_bandwidth:.1f}% of the {roofs.peak_gb_s:.3g} GB/s copy bandwidth")
    intensity = (f"intensity {point.intensity_flop_per_byte:.3g} FLOP/B vs ridge "
                 f"{roofs.ridge_flop_per_byte:.3g} FLOP/B")

    def result(bound: str, text: str) -> Diagnosis:
        caveats = []
        if point.pct_of_matmul_peak > 100:
            caveats.append("above the measured matmul peak: that measurement was probably slowed by other load")
        if bound == MEMORY and point.pct_of_bandwidth > 100:
            caveats.append("above the copy bandwidth: data served from caches, which the bytes estimate ignores")
        caveat = "".join(f" [{c}]" for c in caveats)
        return Diagnosis(bound, batch_size, f"{bound} at batch {batch_size}: {text}{fit_note}{caveat}", share,
                         fit_used, point)

    if fit_used and share > rule.overhead_share:
        return result(OVERHEAD, f"fixed per-call time a = {fixed_ms:.3g} ms is {share:.0%} of "
                                f"t({batch_size}) = {t_ms:.3g} ms; {numbers}")
    low = rule.low_utilisation * 100
    if point.pct_of_matmul_peak < low and point.pct_of_bandwidth < low:
        return result(OVERHEAD, f"below {low:.0f}% of both roofs; {numbers}")
    if point.intensity_flop_per_byte < roofs.ridge_flop_per_byte:
        return result(MEMORY, f"{intensity}; {point.achieved_gb_s:.3g} GB/s = {point.pct_of_bandwidth:.1f}% "
                              f"of the {roofs.peak_gb_s:.3g} GB/s copy bandwidth "
                              f"({point.pct_of_matmul_peak:.1f}% of matmul peak)")
    return result(COMPUTE, f"{intensity}; {point.achieved_gflop_s:.3g} GFLOP/s = {point.pct_of_matmul_peak:.1f}% "
                           f"of the {roofs.peak_gflop_s:.3g} GFLOP/s matmul peak")


def rule_text(rule: Rule = Rule()) -> str:
    """The rule in one paragraph, for reports and summaries (kept beside the code that applies it)."""
    return (
        "Diagnosis rule, at each model's saturation batch: overhead-bound when the fitted fixed per-call "
        f"time a exceeds {rule.overhead_share:.0%} of the latency there (if the fit a + c*b predicts that "
        f"latency within {rule.fit_tolerance:.0%}), or when achieved GFLOP/s and GB/s "
        f"are both below {rule.low_utilisation:.0%} of the measured matmul peak and copy bandwidth; "
        "otherwise memory-bound when the arithmetic intensity (FLOPs / estimated bytes moved) is below the "
        "ridge point (peak GFLOP/s / peak GB/s), else compute-bound. Percentages are of the measured "
        "ceilings; bytes moved is a layer-level estimate, so intensities are indicative."
    )
