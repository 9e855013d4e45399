"""Compare batch-size runs point by point, and call a change only when it beats the noise of both sides.

A fixed threshold ("5 % slower fails") flags noise on a busy machine and misses real slow-downs on a quiet
one; an interval from one run misses the drift that outlasts a run (the same code measured twice on a
2-core machine moved points by up to 40 %). So each side is one or more runs, and (``dlplayground.bench.noise``
states the maths):

* per point and run, the median and the standard error ``se`` of its log come from the run's passes
  (``point_noise``: two-level bootstrap over passes, seeded per point);
* a side's estimate is the mean of its runs' log medians, with variance ``(sigma_run^2 + mean se^2) / n_runs``;
* ``sigma_run``, the run-to-run drift, is measured from the runs themselves when a side has two or more
  (``estimate_run_sigma``, pooled over all points of both sides); with one run per side it comes from this
  machine's noise profile (``dlplayground calibrate``) or, without one, the conservative ``DEFAULT_RUN_SIGMA``;
* with ``r = log(new / base)`` and ``T = z(confidence) * sqrt(var_base + var_new) + log(1 + min_effect)``
  (``detection_threshold``): *regression* when ``r > T``, *improvement* when ``r < -T``, *inconclusive at this
  noise* when ``|r|`` exceeds the minimum effect but not ``T`` (a change that may be real but that this noise
  cannot support: more runs per side or a calibrated profile may decide it), else *unchanged*. A point
  measured in a single pass in any run is *inconclusive*: its run shows no between-pass spread to judge by.

The noise a point was judged against is shown as ``expm1(T)``: the smallest slowdown that would have been
called. Points are matched by (model, device, dtype, batch size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dlplayground.bench.calibration import (
    DEFAULT_RESAMPLES,
    MachineKey,
    NoiseProfile,
    PointKey,
    label,
    machine_key,
    noise_by_point,
    require_batch_runs,
)
from dlplayground.bench.noise import (
    COMPARE_CONFIDENCE,
    DEFAULT_RUN_SIGMA,
    MIN_EFFECT,
    POINT_LEVEL,
    PointNoise,
    detection_threshold,
    estimate_run_sigma,
    side_variance,
    z_value,
)
from dlplayground.errors import UserInputError
from dlplayground.results import Envelope

REGRESSION, IMPROVEMENT, UNCHANGED = "regression", "improvement", "unchanged"
WITHIN_NOISE = "inconclusive at this noise"
"""A change beyond the minimum effect that the noise cannot support."""
INCONCLUSIVE = "inconclusive"
"""A point with a single pass in some run: no between-pass spread to judge it by."""
STATUSES = (REGRESSION, IMPROVEMENT, UNCHANGED, WITHIN_NOISE, INCONCLUSIVE)
MEASURED, CALIBRATED, DEFAULT = "measured", "calibrated", "default"
"""Where sigma_run came from."""


def _pct(fraction: float) -> str:
    return f"{fraction:.1%}" if abs(fraction) < 0.1 else f"{fraction:.0%}"


@dataclass(frozen=True)
class RunSigma:
    """The run-to-run drift a comparison used, and where it came from."""

    value: float
    source: str
    """``measured`` (from these runs), ``calibrated`` (a noise profile) or ``default``."""
    detail: str

    def text(self) -> str:
        return f"run-to-run drift {_pct(self.value)} ({self.source}: {self.detail})"


@dataclass(frozen=True)
class Side:
    """One side of one point: its runs' medians and standard errors, and the combined estimate."""

    median_ms: float
    """exp(mean of the runs' log medians): the geometric mean of the run medians."""
    interval_ms: tuple[float, float]
    """``POINT_LEVEL`` interval of the estimate, run-to-run drift included."""
    log_variance: float
    run_medians_ms: tuple[float, ...]
    run_log_se: tuple[float, ...]
    run_passes: tuple[int, ...]

    @classmethod
    def of(cls, runs: Sequence[PointNoise], run_sigma: float) -> Side:
        logs = [math.log(n.median_ms) for n in runs]
        ses = [n.log_se for n in runs]
        mean, variance = float(np.mean(logs)), side_variance(ses, run_sigma)
        half = z_value(POINT_LEVEL) * math.sqrt(variance)
        return cls(median_ms=math.exp(mean), interval_ms=(math.exp(mean - half), math.exp(mean + half)),
                   log_variance=variance, run_medians_ms=tuple(n.median_ms for n in runs), run_log_se=tuple(ses),
                   run_passes=tuple(n.passes for n in runs))


@dataclass(frozen=True)
class PointComparison:
    """One matched point: both sides, the change, the noise it was judged against, and the call."""

    model: str
    device: str
    dtype: str
    batch_size: int
    base: Side
    new: Side
    log_change: float
    """log(new / base) of the side estimates (positive = slower)."""
    threshold: float
    """T: the |log change| beyond which a change is called."""
    status: str
    reason: str

    @property
    def key(self) -> PointKey:
        return (self.model, self.device, self.dtype, self.batch_size)

    @property
    def base_median_ms(self) -> float:
        return self.base.median_ms

    @property
    def new_median_ms(self) -> float:
        return self.new.median_ms

    @property
    def latency_change(self) -> float:
        """Relative change of the median latency, new / base - 1 (positive = slower)."""
        return math.expm1(self.log_change)

    @property
    def throughput_change(self) -> float:
        """Relative change of throughput at the median, new / base - 1 (positive = faster)."""
        return math.expm1(-self.log_change)

    @property
    def noise(self) -> float:
        """expm1(T): the smallest slowdown this point's noise lets the rule call."""
        return math.expm1(self.threshold)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(latency_change=self.latency_change, throughput_change=self.throughput_change, noise=self.noise)
        return out


def classify(log_change: float, threshold: float, *, min_effect: float) -> tuple[str, str]:
    """The call for one point from r = log(new / base) and the threshold T (module docstring)."""
    change, noise = math.expm1(log_change), math.expm1(threshold)
    if log_change > threshold:
        return REGRESSION, f"slower by {_pct(change)}, beyond the noise (a slowdown is called above {_pct(noise)})"
    if log_change < -threshold:
        return IMPROVEMENT, (f"faster by {_pct(-change)}, beyond the noise (a speed-up is called above "
                             f"{_pct(-math.expm1(-threshold))})")
    if abs(log_change) > math.log1p(min_effect):
        return WITHIN_NOISE, (f"{change:+.1%}: beyond the {_pct(min_effect)} minimum effect but within the noise "
                              f"(±{_pct(noise)}); more runs per side or a calibrated profile may decide it")
    return UNCHANGED, f"{change:+.1%}, below the {_pct(min_effect)} minimum effect (noise ±{_pct(noise)})"


@dataclass
class CompareResult:
    """The outcome of ``compare_runs``; ``has_regression`` is what a CI gate checks."""

    base_labels: list[str]
    new_labels: list[str]
    points: list[PointComparison]
    run_sigma: RunSigma
    only_in_base: list[PointKey] = field(default_factory=list)
    only_in_new: list[PointKey] = field(default_factory=list)
    min_effect: float = MIN_EFFECT
    confidence: float = COMPARE_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def base_label(self) -> str:
        return " + ".join(self.base_labels)

    @property
    def new_label(self) -> str:
        return " + ".join(self.new_labels)

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
        return {s: len(self.with_status(s)) for s in STATUSES}

    def summary(self) -> str:
        c = self.counts()
        text = (f"{c[REGRESSION]} regression(s), {c[IMPROVEMENT]} improvement(s), {c[UNCHANGED]} unchanged, "
                f"{c[WITHIN_NOISE]} inconclusive at this noise, {c[INCONCLUSIVE]} inconclusive (single pass) "
                f"of {len(self.points)} matched point(s)")
        if self.only_in_base or self.only_in_new:
            text += f"; {len(self.only_in_base)} only in base, {len(self.only_in_new)} only in new"
        return text

    def rule_text(self) -> str:
        return (f"a change is called when |log(new/base)| > z * sqrt(var_base + var_new) + log(1 + "
                f"{_pct(self.min_effect)}), z = {z_value(self.confidence):.2f} ({self.confidence:.0%} two-sided); "
                f"var = (sigma_run^2 + se^2) / runs, se from each run's passes")

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base_labels, "new": self.new_labels, "min_effect": self.min_effect,
            "confidence": self.confidence, "resamples": self.resamples, "seed": self.seed,
            "interval_level": POINT_LEVEL, "rule": self.rule_text(), "run_sigma": asdict(self.run_sigma),
            "counts": self.counts(), "has_regression": self.has_regression,
            "points": [p.to_dict() for p in self.points],
            "only_in_base": [list(k) for k in self.only_in_base],
            "only_in_new": [list(k) for k in self.only_in_new], "notes": list(self.notes),
        }

    def to_text(self, *, show_all: bool = True) -> str:
        """A plain-text table for the terminal (regressions first)."""
        order = {s: i for i, s in enumerate((REGRESSION, IMPROVEMENT, WITHIN_NOISE, INCONCLUSIVE, UNCHANGED))}
        rows = sorted(self.points, key=lambda p: (order[p.status], p.key))
        if not show_all:
            rows = [p for p in rows if p.status in (REGRESSION, IMPROVEMENT)]
        level = f"{POINT_LEVEL:.0%}"
        header = ("model", "device", "dtype", "batch", f"base p50 ms [{level}]", f"new p50 ms [{level}]", "change",
                  "noise", "status")

        def side(s: Side) -> str:
            return f"{s.median_ms:.4g} [{s.interval_ms[0]:.4g}, {s.interval_ms[1]:.4g}]"

        table = [header] + [
            (p.model, p.device, p.dtype, str(p.batch_size), side(p.base), side(p.new), f"{p.latency_change:+.1%}",
             f"±{_pct(p.noise)}", p.status.upper() if p.status == REGRESSION else p.status)
            for p in rows
        ]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        runs = f"{len(self.base_labels)} run(s) -> {len(self.new_labels)} run(s)"
        lines = [f"compare: base {self.base_label} -> new {self.new_label} ({runs})",
                 f"rule: {self.rule_text()}; noise = the smallest slowdown that would be called; intervals "
                 f"({level}) include the drift",
                 self.run_sigma.text()]
        lines += [f"note: {n}" for n in self.notes]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
        for name, keys in (("only in base", self.only_in_base), ("only in new", self.only_in_new)):
            if keys:
                lines.append(f"{name}: " + ", ".join(f"{m} ({d}, {t}) @ {b}" for m, d, t, b in keys))
        lines.append(self.summary())
        return "\n".join(lines)


def _environment_notes(base: Sequence[Envelope], new: Sequence[Envelope]) -> list[str]:
    """Differences between the two sides' machines/software stacks a reader should know before trusting deltas."""
    notes = []
    for key in ("device_name", "cpu_model", "torch", "torch_threads"):
        values = [[env.environment.get(key) for env in side] for side in (base, new)]
        a, b = ({v for v in side if v is not None} for side in values)
        if a and b and a != b:
            notes.append(f"environments differ in {key}: {' / '.join(map(str, sorted(a, key=str)))} -> "
                         f"{' / '.join(map(str, sorted(b, key=str)))}")
    return notes


def _run_sigma(base: dict[PointKey, tuple[PointNoise, ...]], new: dict[PointKey, tuple[PointNoise, ...]],
               runs: tuple[int, int], profile: NoiseProfile | None, profile_source: str | None,
               keys: set[MachineKey], notes: list[str]) -> RunSigma:
    """sigma_run from the runs (a side with >= 2), else the profile, else the default (module docstring)."""
    if max(runs) >= 2:
        try:
            drift = estimate_run_sigma([*base.values(), *new.values()])
        except ValueError as exc:  # e.g. every point in one pass: fall back as if each side had one run
            notes.append(f"the run-to-run drift could not be measured from these runs: {exc}")
        else:
            if profile is not None:
                notes.append(f"noise profile {profile_source or ''} not used: the runs measure their own drift")
            return RunSigma(drift.run_sigma, MEASURED, f"from these runs, pooled over {drift.points} point "
                                                       f"series, {drift.degrees_of_freedom} degrees of freedom")
    if profile is not None:
        where = f"{profile_source}, " if profile_source else ""
        detail = f"noise profile {where}{profile.describe()}"
        if profile.machine not in keys or len(keys) > 1:
            runs_key = " / ".join(sorted(k.text() for k in keys))
            detail += f"; made on another machine ({profile.machine.text()}; these runs: {runs_key}), used as given"
        return RunSigma(profile.run_sigma, CALIBRATED, detail)
    return RunSigma(DEFAULT_RUN_SIGMA, DEFAULT, "no calibration for this machine; run `dlplayground calibrate`, or "
                                                "give several runs per side")


def compare_runs(
    base: Sequence[Envelope],
    new: Sequence[Envelope],
    *,
    min_effect: float = MIN_EFFECT,
    confidence: float = COMPARE_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    profile: NoiseProfile | None = None,
    profile_source: str | None = None,
    base_labels: Sequence[str] | None = None,
    new_labels: Sequence[str] | None = None,
) -> CompareResult:
    """Compare every point present in all runs of both sides; ``UserInputError`` when there is nothing to compare.

    ``profile``: this machine's noise profile, used with one run per side (``profile_source`` names it in the
    output). Without it and without several runs on a side, ``DEFAULT_RUN_SIGMA`` is used.
    """
    if not base or not new:
        raise UserInputError(f"compare needs at least one run per side, got {len(base)} base and {len(new)} new "
                             f"run(s)")
    if not 0 <= min_effect < 10:
        raise UserInputError(f"--min-effect must be a fraction in [0, 10) (0.05 = 5%), got {min_effect}")
    if not 0.5 <= confidence < 1:
        raise UserInputError(f"--confidence must be in [0.5, 1), got {confidence}")
    if resamples < 100:
        raise UserInputError(f"--resamples must be >= 100, got {resamples}")
    require_batch_runs([*base, *new], "compare")
    base_names = list(base_labels or [label(e, f"base{i + 1}") for i, e in enumerate(base)])
    new_names = list(new_labels or [label(e, f"new{i + 1}") for i, e in enumerate(new)])
    notes = _environment_notes(base, new)
    a, partial_a = noise_by_point(base, resamples=resamples, seed=seed)
    b, partial_b = noise_by_point(new, resamples=resamples, seed=seed)
    for name, partial in (("base", partial_a), ("new", partial_b)):
        if partial:
            notes.append(f"{len(partial)} point(s) missing from some {name} runs were left out")
    common = sorted(set(a) & set(b))
    if not common:
        def describe(idx: dict[PointKey, Any]) -> str:
            return ", ".join(sorted({f"{m} ({d}, {t})" for m, d, t, _ in idx})) or "none in all runs"

        raise UserInputError(
            f"{' + '.join(base_names)} and {' + '.join(new_names)} have no point in common (matched by model, "
            f"device, dtype, batch size); base has {describe(a)}; new has {describe(b)}")
    a_common, b_common = {k: a[k] for k in common}, {k: b[k] for k in common}
    keys = {machine_key(env) for env in (*base, *new)}
    sigma = _run_sigma(a_common, b_common, (len(base), len(new)), profile, profile_source, keys, notes)
    points = []
    for key in common:
        base_side, new_side = Side.of(a[key], sigma.value), Side.of(b[key], sigma.value)
        log_change = math.log(new_side.median_ms / base_side.median_ms)
        threshold = detection_threshold(base_side.run_log_se, new_side.run_log_se, sigma.value,
                                        confidence=confidence, min_effect=min_effect)
        if min(base_side.run_passes + new_side.run_passes) < 2:
            status, reason = INCONCLUSIVE, (f"{math.expm1(log_change):+.1%}, but a run measured this point in a "
                                            f"single pass: no between-pass spread to judge it by")
        else:
            status, reason = classify(log_change, threshold, min_effect=min_effect)
        points.append(PointComparison(model=key[0], device=key[1], dtype=key[2], batch_size=key[3], base=base_side,
                                      new=new_side, log_change=log_change, threshold=threshold, status=status,
                                      reason=reason))
    return CompareResult(
        base_labels=base_names, new_labels=new_names, points=points, run_sigma=sigma,
        only_in_base=sorted(set(a) - set(b)), only_in_new=sorted(set(b) - set(a)), min_effect=min_effect,
        confidence=confidence, resamples=resamples, seed=seed, notes=notes,
    )


def compare_envelopes(base: Envelope, new: Envelope, *, base_label: str | None = None,
                      new_label: str | None = None, **options: Any) -> CompareResult:
    """One run per side: ``compare_runs([base], [new], ...)``."""
    return compare_runs([base], [new], base_labels=[base_label] if base_label else None,
                        new_labels=[new_label] if new_label else None, **options)
