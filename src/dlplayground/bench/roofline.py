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

Without a FLOP count or byte estimate the bound is "unknown".

**Above a roof.** The bytes are a layer-level estimate and the ceilings are what a square matmul and a copy
reach, so a point can sit above its roof: above the copy bandwidth when the working set (weights,
activations) stays in cache, so the bytes the estimate counts never came from memory; above the matmul peak
when other work on the machine slowed the peak measurement, or the kernel genuinely beats the square-matmul
ceiling. "147% of the copy bandwidth" would read as a physical fraction, which it is not, so such a point is
never printed as a percentage: ``roof_share_text`` (sentences) and ``roof_share_cell`` (table cells) say
"above the measured roof" and why, and ``RooflinePoint.above_bandwidth_roof`` / ``above_matmul_roof`` carry
the fact for readers of the JSON. The numbers themselves are kept as measured, never clipped.
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
class Ceiling:
    """One measured roof, as text: what it is called, its unit, and what a point above it means."""

    name: str
    unit: str
    above_reason: str
    """Why a point can sit above this roof (the measured roof is not the physical limit of every kernel)."""
    above_cell: str
    """The table cell of a point above this roof, in place of a percentage over 100."""


BANDWIDTH = Ceiling("copy bandwidth", "GB/s", "cache-resident working set", "above roof (cache-resident)")
MATMUL = Ceiling("matmul peak", "GFLOP/s",
                 "the peak measurement was disturbed or the kernel beats the square-matmul ceiling",
                 "above measured peak")
ROOF = Ceiling("roof", "GFLOP/s", "a cache-resident working set or a disturbed peak measurement", "above roof")
"""The roof at a point's own intensity, ``min(P, I * W)`` (``RooflinePoint.pct_of_roof``)."""


def roof_share_text(achieved: float, roof: float, ceiling: Ceiling) -> str:
    """``achieved`` against the measured ``roof`` (same unit, ``ceiling.unit``) as a phrase.

    At or below the roof: ``"5 GB/s = 50.0% of the 10 GB/s copy bandwidth"``. Above it, no percentage:
    ``"20 GB/s, above the measured 10 GB/s copy bandwidth (cache-resident working set)"``.
    """
    if achieved > roof:
        return (f"{achieved:.3g} {ceiling.unit}, above the measured {roof:.3g} {ceiling.unit} {ceiling.name} "
                f"({ceiling.above_reason})")
    return (f"{achieved:.3g} {ceiling.unit} = {100 * achieved / roof:.1f}% of the {roof:.3g} {ceiling.unit} "
            f"{ceiling.name}")


def roof_share_cell(pct: float | None, ceiling: Ceiling) -> str:
    """A percentage of a measured roof as a table cell: ``"50.0%"``; above 100% ``ceiling.above_cell``; None "—"."""
    if pct is None:
        return "—"
    return ceiling.above_cell if pct > 100 else f"{pct:.1f}%"


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

    @property
    def above_bandwidth_roof(self) -> bool:
        """More GB/s than the measured copy: the working set was (partly) served from cache."""
        return self.pct_of_bandwidth > 100

    @property
    def above_matmul_roof(self) -> bool:
        """More GFLOP/s than the measured square-matmul peak."""
        return self.pct_of_matmul_peak > 100

    def to_dict(self) -> dict[str, Any]:
        """The fields, plus the two above-roof flags for readers of the JSON (derived; recomputed on reading)."""
        return {**asdict(self), "above_bandwidth_roof": self.above_bandwidth_roof,
                "above_matmul_roof": self.above_matmul_roof}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RooflinePoint:
        return record_from_dict(cls, data, ignore=("above_bandwidth_roof", "above_matmul_roof"))


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
    remedy: str = ""
    """For an overhead-bound model: the remedy and, where its variant was swept, the measured effect
    (``dlplayground.bench.variants.remedy_text``)."""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "point": None if self.point is None else self.point.to_dict()}

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
        missing = "measured peaks" if roofs is None else "FLOP count"
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
    flops_text = roof_share_text(point.achieved_gflop_s, roofs.peak_gflop_s, MATMUL)
    bytes_text = roof_share_text(point.achieved_gb_s, roofs.peak_gb_s, BANDWIDTH)
    numbers = f"{flops_text}, {bytes_text}"
    intensity = (f"intensity {point.intensity_flop_per_byte:.3g} FLOP/B vs ridge "
                 f"{roofs.ridge_flop_per_byte:.3g} FLOP/B")

    def result(bound: str, text: str) -> Diagnosis:
        return Diagnosis(bound, batch_size, f"{bound} at batch {batch_size}: {text}{fit_note}", share, fit_used,
                         point)

    if fit_used and share > rule.overhead_share:
        return result(OVERHEAD, f"fixed per-call time a = {fixed_ms:.3g} ms is {share:.0%} of "
                                f"t({batch_size}) = {t_ms:.3g} ms; {numbers}")
    low = rule.low_utilisation * 100
    if point.pct_of_matmul_peak < low and point.pct_of_bandwidth < low:
        return result(OVERHEAD, f"below {low:.0f}% of both roofs; {numbers}")
    if point.intensity_flop_per_byte < roofs.ridge_flop_per_byte:
        return result(MEMORY, f"{intensity}; {bytes_text} ({flops_text})")
    return result(COMPUTE, f"{intensity}; {flops_text}")


def rule_text(rule: Rule = Rule()) -> str:
    """The rule in one paragraph, for reports and summaries (kept beside the code that applies it)."""
    return (
        "Diagnosis rule, at each model's saturation batch: overhead-bound when the fitted fixed per-call "
        f"time a exceeds {rule.overhead_share:.0%} of the latency there (if the fit a + c*b predicts that "
        f"latency within {rule.fit_tolerance:.0%}), or when achieved GFLOP/s and GB/s "
        f"are both below {rule.low_utilisation:.0%} of the measured matmul peak and copy bandwidth; "
        "otherwise memory-bound when the arithmetic intensity (FLOPs / estimated bytes moved) is below the "
        "ridge point (peak GFLOP/s / peak GB/s), else compute-bound. Percentages are of the measured "
        "ceilings; bytes moved is a layer-level estimate, so intensities are indicative. A point above a "
        "measured ceiling is labelled, not given as a percentage: above the copy bandwidth its working set "
        "stayed in cache; above the matmul peak the peak measurement was disturbed or the kernel beats a "
        "square matmul."
    )
