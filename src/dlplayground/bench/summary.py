"""A plain-text summary of a sweep for the terminal at the end of a run: the measured peaks, one line per model
(saturation batch with its between-pass interval, why the range stopped, what bounds the model), the points
flagged unstable, and the run's noise floor: the smallest slowdown ``dlplayground compare`` could call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlplayground.bench.calibration import find_profile, machine_key_of
from dlplayground.bench.noise import DEFAULT_RUN_SIGMA, UNSTABLE_CV, noise_floor, point_noise
from dlplayground.bench.peaks import Peaks
from dlplayground.bench.record import SweepRecord
from dlplayground.bench.roofline import rule_text
from dlplayground.bench.saturation import Saturation
from dlplayground.devices import dtype_name, environment_fingerprint
from dlplayground.errors import UserInputError
from dlplayground.results import TimingRecord


def describe(name: str, sat: Saturation, sweep: SweepRecord) -> str:
    """One line per model: saturation batch with CI, best throughput, SLO pick, fit, stop reason, bound."""
    edge = " (still rising at the largest batch)" if sat.at_sweep_edge else ""
    parts = [
        f"{name:>14}: saturates at batch {sat.saturation_batch} "
        f"[{sat.ci_level:.0%} CI {sat.ci_low}-{sat.ci_high}, {sat.passes} passes]{edge}",
        f"best {sat.best_throughput_items_s:,.0f} items/s at batch {sat.best_batch}",
    ]
    if sat.latency_budget_ms is not None:
        pick = f"batch {sat.slo_batch}" if sat.slo_batch is not None else "no batch fits"
        parts.append(f"p99 <= {sat.latency_budget_ms:g} ms: {pick}")
    if sat.latency_model is not None:
        lm = sat.latency_model
        parts.append(f"t(b) = {lm.a_ms:.3g} ms + {lm.c_ms_per_item:.3g} ms*b (R2 {lm.r2:.2f})")
    if sweep.stop_reason:
        parts.append(f"range stopped: {sweep.stop_reason} ({sweep.stop_detail})")
    if sat.diagnosis:
        parts.append(sat.diagnosis.text)
        if sat.diagnosis.remedy:
            parts.append(sat.diagnosis.remedy)
    return "; ".join(parts)


def peaks_line(peaks: Peaks) -> str:
    """The measured ceilings the diagnoses refer to."""
    return (f"measured peaks on {peaks.device} ({peaks.dtype}, {peaks.threads} threads): matmul "
            f"{peaks.matmul_gflop_s:,.1f} GFLOP/s (n={peaks.matmul_n}), copy {peaks.bandwidth_gb_s:,.1f} GB/s, "
            f"ridge {peaks.ridge_flop_per_byte:.3g} FLOP/B")


def noise_lines(records: list[TimingRecord], *, resamples: int, run_sigma: float = DEFAULT_RUN_SIGMA,
                sigma_source: str = "default") -> list[str]:
    """The unstable points and the run's noise floor (``dlplayground.bench.noise``)."""
    if not records:
        return []
    noises = {(r.model, r.batch_size): point_noise(r, resamples=resamples) for r in records}
    floors = {k: noise_floor(n, run_sigma) for k, n in noises.items()}
    within = {k: noise_floor(n, 0.0) for k, n in noises.items()}
    unstable = [f"{m}@{b} ({n.between_pass_cv:.0%})" for (m, b), n in noises.items() if n.unstable]
    worst = max(floors, key=floors.get)
    lines = [
        f"noise floor (smallest slowdown `dlplayground compare` would call against a same-noise run): median "
        f"{np.median(list(floors.values())):+.0%}, worst {floors[worst]:+.0%} at {worst[0]}@{worst[1]}; "
        f"from this run's passes alone {np.median(list(within.values())):+.0%} (median) -- run-to-run drift "
        f"{run_sigma:.0%} ({sigma_source})",
    ]
    if unstable:
        lines.append(f"unstable (between-pass spread > {UNSTABLE_CV:.0%}): " + ", ".join(unstable))
    else:
        lines.append(f"no point unstable (every between-pass spread <= {UNSTABLE_CV:.0%})")
    return lines


def run_to_run_sigma(environment: Mapping[str, Any], device: str, dtype: str, threads: int) -> tuple[float, str]:
    """This machine's calibrated run-to-run drift (``dlplayground calibrate``), or the default, with its source."""
    try:
        found = find_profile(machine_key_of(environment, device, dtype, threads))
    except UserInputError as exc:  # a corrupt stored profile: say so, keep the run's summary
        return DEFAULT_RUN_SIGMA, f"default; the stored calibration is unreadable: {exc}"
    if found is None:
        return DEFAULT_RUN_SIGMA, "default: no calibration for this machine; run `dlplayground calibrate`"
    profile, path = found
    return profile.run_sigma, f"calibrated, {path}"


def summary_lines(sweep) -> list[str]:
    """Summary lines for every model of a ``Sweep`` that produced records, after the measured peaks."""
    saturation = sweep.saturation()
    lines = [peaks_line(sweep.peaks())] if saturation else []
    if saturation and sweep.peaks().stability_warning():
        lines.append(f"warning: {sweep.peaks().stability_warning()}")
    lines += [describe(name, sat, sweep.models[name].record()) for name, sat in saturation.items()]
    records = [r for s in sweep.models.values() for r in s.records]
    config = sweep.config
    sigma, source = run_to_run_sigma(environment_fingerprint(config.device).to_dict(), str(config.device),
                                     dtype_name(config.dtype), config.threads)
    lines += noise_lines(records, resamples=config.saturation.resamples, run_sigma=sigma, sigma_source=source)
    if saturation:
        lines.append(rule_text())
    return lines
