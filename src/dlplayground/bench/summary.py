"""A plain-text summary of a sweep's saturation analysis, for the terminal at the end of a run: the measured
peaks, then one line per model ending in what bounds it at its saturation batch (% of the relevant peak)."""

from __future__ import annotations

from dlplayground.bench.peaks import Peaks
from dlplayground.bench.roofline import rule_text
from dlplayground.bench.saturation import Saturation


def describe(name: str, sat: Saturation, oom_batch: int | None) -> str:
    """One line per model: saturation batch with CI, best throughput, SLO pick, OOM boundary."""
    edge = " (still rising at the largest batch)" if sat.at_sweep_edge else ""
    parts = [
        f"{name:>14}: saturates at batch {sat.saturation_batch} "
        f"[{sat.ci_level:.0%} CI {sat.ci_low}-{sat.ci_high}]{edge}",
        f"best {sat.best_throughput_items_s:,.0f} items/s at batch {sat.best_batch}",
    ]
    if sat.latency_budget_ms is not None:
        pick = f"batch {sat.slo_batch}" if sat.slo_batch is not None else "no batch fits"
        parts.append(f"p99 <= {sat.latency_budget_ms:g} ms: {pick}")
    if sat.latency_model is not None:
        lm = sat.latency_model
        parts.append(f"t(b) = {lm.a_ms:.3g} ms + {lm.c_ms_per_item:.3g} ms*b (R2 {lm.r2:.2f})")
    if oom_batch is not None:
        parts.append(f"OOM at batch {oom_batch}")
    if sat.diagnosis:
        parts.append(sat.diagnosis.text)
    return "; ".join(parts)


def peaks_line(peaks: Peaks) -> str:
    """The measured ceilings the diagnoses refer to."""
    return (f"measured peaks on {peaks.device} ({peaks.dtype}, {peaks.threads} threads): matmul "
            f"{peaks.matmul_gflop_s:,.1f} GFLOP/s (n={peaks.matmul_n}), copy {peaks.bandwidth_gb_s:,.1f} GB/s, "
            f"ridge {peaks.ridge_flop_per_byte:.3g} FLOP/B")


def summary_lines(sweep) -> list[str]:
    """Summary lines for every model of a ``Sweep`` that produced records, after the measured peaks."""
    saturation = sweep.saturation()
    lines = [peaks_line(sweep.peaks())] if saturation else []
    lines += [describe(name, sat, sweep.models[name].oom_batch_size) for name, sat in saturation.items()]
    if saturation:
        lines.append(rule_text())
    return lines
