"""Compare two batch-size runs point by point, and call a change a regression only when it beats the noise.

A fixed threshold ("5 % slower fails") flags noise on a busy machine and misses real slow-downs on a quiet
one. Here each point's median latency gets a bootstrap confidence interval from its raw per-call samples
(the same samples the report and the saturation analysis use). A point *regressed* when the new interval
lies entirely above the old one **and** the median grew by more than a small minimum effect (so a
statistically clear but practically irrelevant 0.5 % does not fail CI); *improved* is the mirror image;
anything else is *unchanged*. Points with too few samples to estimate the noise are *inconclusive*.
Non-overlap of two 95 % intervals is a conservative test (roughly p < 0.01 for similar widths), which is
what a CI gate evaluating dozens of points at once wants.

Points are matched by (model, device, dtype, batch size).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dlplayground.errors import UserInputError
from dlplayground.results import BATCH_SIZE_STUDY, Envelope, TimingRecord
from dlplayground.stats import bootstrap

MIN_SAMPLES = 3
PointKey = tuple[str, str, str, int]  # model, device, dtype, batch_size

REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE = "regression", "improvement", "unchanged", "inconclusive"


def bootstrap_median_ci(
    times_s: Sequence[float], *, confidence: float = 0.95, resamples: int = 2000, seed: int | Sequence[int] = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the median of ``times_s`` (seconds), seeded and deterministic."""
    data = np.asarray(times_s, dtype=float)
    if data.size == 0:
        raise ValueError("no samples")
    interval = bootstrap(data, lambda t: np.median(t, axis=1), resamples=resamples, level=confidence, seed=seed)
    return interval.low, interval.high


@dataclass(frozen=True)
class PointComparison:
    """One matched point: both medians with their intervals (ms), the change and the call."""

    model: str
    device: str
    dtype: str
    batch_size: int
    base_median_ms: float
    base_ci_ms: tuple[float, float]
    base_samples: int
    new_median_ms: float
    new_ci_ms: tuple[float, float]
    new_samples: int
    status: str
    reason: str

    @property
    def key(self) -> PointKey:
        return (self.model, self.device, self.dtype, self.batch_size)

    @property
    def latency_change(self) -> float:
        """Relative change of the median latency, new / base - 1 (positive = slower)."""
        return self.new_median_ms / self.base_median_ms - 1 if self.base_median_ms > 0 else float("inf")

    @property
    def throughput_change(self) -> float:
        """Relative change of throughput at the median, new / base - 1 (positive = faster)."""
        return self.base_median_ms / self.new_median_ms - 1 if self.new_median_ms > 0 else float("inf")


@dataclass
class CompareResult:
    """The outcome of ``compare_envelopes``; ``has_regression`` is what a CI gate checks."""

    base_label: str
    new_label: str
    points: list[PointComparison]
    only_in_base: list[PointKey] = field(default_factory=list)
    only_in_new: list[PointKey] = field(default_factory=list)
    min_effect: float = 0.05
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def with_status(self, status: str) -> list[PointComparison]:
        return [p for p in self.points if p.status == status]

    @property
    def regressions(self) -> list[PointComparison]:
        return self.with_status(REGRESSION)

    @property
    def improvements(self) -> list[PointComparison]:
        return self.with_status(IMPROVEMENT)

    @property
    def has_regression(self) -> bool:
        return bool(self.regressions)

    def counts(self) -> dict[str, int]:
        return {s: len(self.with_status(s)) for s in (REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE)}

    def summary(self) -> str:
        c = self.counts()
        text = (f"{c[REGRESSION]} regression(s), {c[IMPROVEMENT]} improvement(s), {c[UNCHANGED]} unchanged, "
                f"{c[INCONCLUSIVE]} inconclusive of {len(self.points)} matched point(s)")
        if self.only_in_base or self.only_in_new:
            text += f"; {len(self.only_in_base)} only in base, {len(self.only_in_new)} only in new"
        return text

    def to_dict(self) -> dict[str, Any]:
        points = []
        for p in self.points:
            d = asdict(p)
            d.update(latency_change=p.latency_change, throughput_change=p.throughput_change)
            points.append(d)
        return {
            "base": self.base_label, "new": self.new_label, "min_effect": self.min_effect,
            "confidence": self.confidence, "resamples": self.resamples, "seed": self.seed,
            "counts": self.counts(), "has_regression": self.has_regression, "points": points,
            "only_in_base": [list(k) for k in self.only_in_base],
            "only_in_new": [list(k) for k in self.only_in_new], "notes": list(self.notes),
        }

    def to_text(self, *, show_all: bool = True) -> str:
        """A plain-text table for the terminal (regressions first)."""
        order = {REGRESSION: 0, IMPROVEMENT: 1, INCONCLUSIVE: 2, UNCHANGED: 3}
        rows = sorted(self.points, key=lambda p: (order[p.status], p.key))
        if not show_all:
            rows = [p for p in rows if p.status in (REGRESSION, IMPROVEMENT)]
        header = ("model", "device", "dtype", "batch", "base p50 ms [CI]", "new p50 ms [CI]", "latency", "status")
        table = [header] + [
            (p.model, p.device, p.dtype, str(p.batch_size),
             f"{p.base_median_ms:.4g} [{p.base_ci_ms[0]:.4g}, {p.base_ci_ms[1]:.4g}]",
             f"{p.new_median_ms:.4g} [{p.new_ci_ms[0]:.4g}, {p.new_ci_ms[1]:.4g}]",
             f"{p.latency_change:+.1%}", p.status.upper() if p.status == REGRESSION else p.status)
            for p in rows
        ]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        lines = [f"compare: base {self.base_label} -> new {self.new_label} "
                 f"({self.confidence:.0%} bootstrap CI of the median, min effect {self.min_effect:.0%})"]
        lines += [f"note: {n}" for n in self.notes]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
        for name, keys in (("only in base", self.only_in_base), ("only in new", self.only_in_new)):
            if keys:
                lines.append(f"{name}: " + ", ".join(f"{m} ({d}, {t}) @ {b}" for m, d, t, b in keys))
        lines.append(self.summary())
        return "\n".join(lines)


def _index(envelope: Envelope) -> dict[PointKey, TimingRecord]:
    return {(r.model, r.device, r.dtype, r.batch_size): r for r in envelope.records}


def _label(envelope: Envelope, default: str) -> str:
    return str(envelope.source) if envelope.source is not None else default


def _environment_notes(base: Envelope, new: Envelope) -> list[str]:
    """Differences between the two machines/software stacks a reader should know before trusting deltas."""
    notes = []
    for key in ("device_name", "cpu_model", "torch", "torch_threads"):
        a, b = base.environment.get(key), new.environment.get(key)
        if a is not None and b is not None and a != b:
            notes.append(f"environments differ in {key}: {a} -> {b}")
    return notes


def classify(base_median: float, base_ci: tuple[float, float], new_median: float, new_ci: tuple[float, float],
             *, min_effect: float) -> tuple[str, str]:
    """The call for one point from medians and intervals (any one unit): (status, reason)."""
    change = new_median / base_median - 1 if base_median > 0 else float("inf")
    if new_ci[0] > base_ci[1]:
        if change > min_effect:
            return REGRESSION, f"slower by {change:.1%}; intervals do not overlap"
        return UNCHANGED, f"slower by {change:.1%}, beyond noise but below the {min_effect:.0%} minimum effect"
    if new_ci[1] < base_ci[0]:
        if change < -min_effect:
            return IMPROVEMENT, f"faster by {-change:.1%}; intervals do not overlap"
        return UNCHANGED, f"faster by {-change:.1%}, beyond noise but below the {min_effect:.0%} minimum effect"
    return UNCHANGED, f"{change:+.1%}, within run-to-run noise (intervals overlap)"


def compare_envelopes(
    base: Envelope,
    new: Envelope,
    *,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    base_label: str | None = None,
    new_label: str | None = None,
) -> CompareResult:
    """Compare every point present in both runs; raise ``UserInputError`` when there is nothing to compare."""
    if not 0 <= min_effect < 10:
        raise UserInputError(f"--min-effect must be a fraction >= 0 (0.05 = 5%), got {min_effect}")
    if not 0.5 <= confidence < 1:
        raise UserInputError(f"--confidence must be in [0.5, 1), got {confidence}")
    if resamples < 100:
        raise UserInputError(f"--resamples must be >= 100, got {resamples}")
    base_name, new_name = base_label or _label(base, "base"), new_label or _label(new, "new")
    for env, name in ((base, base_name), (new, new_name)):
        if env.study != BATCH_SIZE_STUDY:
            raise UserInputError(f"{name}: compare works on batch-size results, this is a {env.study!r} result")
        if not env.records:
            raise UserInputError(f"{name}: holds no benchmark points to compare")
    a, b = _index(base), _index(new)
    common = [k for k in a if k in b]
    if not common:
        def describe(idx: dict[PointKey, TimingRecord]) -> str:
            return ", ".join(sorted({f"{m} ({d}, {t})" for m, d, t, _ in idx}))

        raise UserInputError(
            f"{base_name} and {new_name} have no point in common (matched by model, device, dtype, batch size); "
            f"base has {describe(a)}; new has {describe(b)}"
        )
    points = []
    for key in sorted(common):
        rb, rn = a[key], b[key]
        # Seed per point, so a point's interval does not depend on which other points are in the files.
        point_seed = [seed, zlib.crc32(repr(key).encode())]
        base_ci = bootstrap_median_ci(rb.times_s, confidence=confidence, resamples=resamples, seed=point_seed)
        new_ci = bootstrap_median_ci(rn.times_s, confidence=confidence, resamples=resamples,
                                     seed=[*point_seed, 1])
        base_med, new_med = rb.quantile_s(0.5), rn.quantile_s(0.5)
        if min(len(rb.times_s), len(rn.times_s)) < MIN_SAMPLES:
            status, reason = INCONCLUSIVE, (f"too few samples (base {len(rb.times_s)}, new {len(rn.times_s)}; "
                                            f"need {MIN_SAMPLES}) to tell a change from noise")
        else:
            status, reason = classify(base_med, base_ci, new_med, new_ci, min_effect=min_effect)
        points.append(PointComparison(
            model=key[0], device=key[1], dtype=key[2], batch_size=key[3],
            base_median_ms=base_med * 1e3, base_ci_ms=(base_ci[0] * 1e3, base_ci[1] * 1e3),
            base_samples=len(rb.times_s), new_median_ms=new_med * 1e3,
            new_ci_ms=(new_ci[0] * 1e3, new_ci[1] * 1e3), new_samples=len(rn.times_s),
            status=status, reason=reason,
        ))
    return CompareResult(
        base_label=base_name, new_label=new_name, points=points,
        only_in_base=sorted(k for k in a if k not in b), only_in_new=sorted(k for k in b if k not in a),
        min_effect=min_effect, confidence=confidence, resamples=resamples, seed=seed,
        notes=_environment_notes(base, new),
    )
