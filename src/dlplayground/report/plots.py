"""Batch-size figures: latency and throughput against batch size, one model at a time or side by side.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, so no global state and no display needed),
written as PNG for the HTML and Markdown and as SVG for zooming. Batch sizes double, so the x axis is
log-2 with the measured sizes as ticks; latency spans orders of magnitude and gets a log y axis, throughput
keeps a linear one so the plateau that defines saturation is visible as a plateau.

The throughput band is each point's between-pass interval (``Series.noise``), the uncertainty the saturation
analysis works with; the latency bands are the spread of single calls (what a request sees). Points flagged
unstable (between-pass spread above ``UNSTABLE_CV``) are drawn hollow on both panels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, LogFormatter, NullLocator

from dlplayground.bench.noise import POINT_LEVEL, UNSTABLE_CV
from dlplayground.report.loading import Series, back_to_back_s

PNG_DPI = 110
LINE_STYLES = ("-", "--", ":", "-.")
# Shared by every report figure (the roofline in ``roofline.py`` too), so they all look and save alike.
RC = {
    "svg.fonttype": "none",  # text stays text in the SVG: smaller, searchable
    "svg.hashsalt": "dlplayground",  # stable element ids, so re-rendering gives identical files
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
}
META = {"png": {"Software": None}, "svg": {"Date": None}}


def plain(text: str) -> str:
    """Text for a matplotlib label: ``$`` would start mathtext, so it is escaped."""
    return str(text).replace("$", r"\$")


AXES_HEIGHT_IN, TOP_IN, BELOW_AXES_IN, LEGEND_ROW_IN = 3.4, 0.6, 0.6, 0.17


def _save(fig: Figure, out_base: Path, title: str, legend_rows: int) -> tuple[Path, Path]:
    # A fixed layout sized to the legends under the axes: constrained layout would look the same here and
    # costs extra draw passes per file.
    bottom_in = BELOW_AXES_IN + LEGEND_ROW_IN * legend_rows
    height_in = AXES_HEIGHT_IN + TOP_IN + bottom_in
    fig.set_size_inches(11, height_in)
    fig.subplots_adjust(left=0.065, right=0.985, top=1 - TOP_IN / height_in, bottom=bottom_in / height_in,
                        wspace=0.2)
    fig.suptitle(plain(title), fontsize=10, y=1 - 0.15 / height_in)
    png, svg = out_base.with_suffix(".png"), out_base.with_suffix(".svg")
    out_base.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=PNG_DPI, metadata=META["png"])
    fig.savefig(svg, metadata=META["svg"])
    return png, svg


def _batch_axis(ax: Axes, batches: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted(set(batches))
    if len(ticks) > 12:  # keep labels legible on long sweeps: every other power of two
        ticks = ticks[::2]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(t) for t in ticks])
    lo, hi = min(batches), max(batches)
    ax.set_xlim(lo / 1.3, hi * 1.3)
    ax.set_xlabel("batch size (log 2)")


class _PlainLogFormatter(LogFormatter):
    """LogFormatter's choice of which ticks to label, written as plain numbers (0.1, not 1e-01)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def plain_log_labels(axis: Axis) -> None:
    """Label an axis already on a log scale with plain numbers (0.5, 20, 300), not 3x10^2."""
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.6)))


def log_y(ax: Axes) -> None:
    """Log y axis labelled with plain numbers."""
    ax.set_yscale("log")
    plain_log_labels(ax.yaxis)


def _legend_below(ax: Axes, ncol: int = 2) -> int:
    """Legend under the axes, where it cannot hide a curve; returns its number of rows for ``_save``."""
    legend = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=ncol, fontsize=7.5, frameon=False,
                       borderaxespad=0.0)
    return math.ceil(len(legend.get_texts()) / ncol)


def _mark_saturation(ax: Axes, series: Series, label: bool) -> None:
    sat = series.saturation
    if sat is None or sat.saturation_batch is None:
        return
    if sat.ci_low is not None and sat.ci_high is not None:
        level = f"{sat.ci_level:.0%} " if sat.ci_level else ""
        ax.axvspan(sat.ci_low / 1.08 if sat.ci_low == sat.ci_high else sat.ci_low,
                   sat.ci_high * 1.08 if sat.ci_low == sat.ci_high else sat.ci_high,
                   color="tab:green", alpha=0.12,
                   label=f"saturation {level}CI [{sat.ci_low}, {sat.ci_high}]" if label else None)
    ax.axvline(sat.saturation_batch, color="tab:green", linewidth=1.5,
               label=f"saturation batch {sat.saturation_batch}" if label else None)


def _mark_oom(ax: Axes, series: Series, label: bool) -> None:
    oom = series.sweep.oom_batch_size
    if oom is not None:
        ax.axvline(oom, color="tab:red", linestyle="--", linewidth=1.2,
                   label=f"out of memory at {oom}" if label else None)


def _points(ax: Axes, batches: Sequence[int], values: Sequence[float], unstable: Sequence[bool], color: str,
            label: str, label_unstable: bool) -> None:
    """A line through the points, filled markers for stable points, hollow ones for unstable points."""
    ax.plot(batches, values, "-", color=color)
    stable = [(b, v) for b, v, u in zip(batches, values, unstable, strict=True) if not u]
    shaky = [(b, v) for b, v, u in zip(batches, values, unstable, strict=True) if u]
    ax.plot([b for b, _ in stable], [v for _, v in stable], "o", color=color, label=label)
    if shaky:
        ax.plot([b for b, _ in shaky], [v for _, v in shaky], "o", color=color, markerfacecolor="white",
                markeredgewidth=1.5, markersize=7,
                label=f"unstable (between-pass spread > {UNSTABLE_CV:.0%})" if label_unstable else None)


def plot_series(series: Series, out_base: Path, title: str) -> tuple[Path, Path]:
    """Latency (p50 with p90/p99 band) and throughput (with its between-pass band) vs batch size for one
    series; unstable points hollow; returns (png, svg)."""
    batches = series.batch_sizes
    p50 = [r.p50_ms for r in series.records]
    p90 = [r.p90_ms for r in series.records]
    p99 = [r.p99_ms for r in series.records]
    thr = [r.throughput_items_s for r in series.records]
    noise = [series.noise[b] for b in batches]
    unstable = [n.unstable for n in noise]
    thr_low = [b / (n.ci_high_ms / 1e3) for b, n in zip(batches, noise, strict=True)]
    thr_high = [b / (n.ci_low_ms / 1e3) if n.ci_low_ms > 0 else math.nan for b, n in zip(batches, noise, strict=True)]
    sat = series.saturation
    axis_batches = list(batches)
    if series.sweep.oom_batch_size is not None:
        axis_batches.append(series.sweep.oom_batch_size)
    if sat is not None:
        axis_batches += [b for b in (sat.saturation_batch, sat.ci_low, sat.ci_high) if b is not None]
    axis_batches = [b for b in axis_batches if b >= 1]

    with mpl.rc_context(RC):
        fig = Figure()
        lat, tput = fig.subplots(1, 2)

        lat.fill_between(batches, p90, p99, color="tab:blue", alpha=0.12, label="p90–p99")
        lat.fill_between(batches, p50, p90, color="tab:blue", alpha=0.28, label="p50–p90")
        _points(lat, batches, p50, unstable, "tab:blue", "p50 latency", label_unstable=True)
        if sat is not None and sat.latency_model is not None:
            fit = sat.latency_model
            r2 = f", R² {fit.r2:.3f}" if fit.r2 is not None else ""
            lat.plot(batches, [fit.a_ms + fit.c_ms_per_item * b for b in batches], ":", color="0.3",
                     label=f"fit {fit.a_ms:.3g} ms + {fit.c_ms_per_item:.3g} ms·b{r2}")
        if sat is not None and sat.latency_budget_ms is not None:
            lat.axhline(sat.latency_budget_ms, color="tab:orange", linestyle="-.",
                        label=f"p99 latency budget {sat.latency_budget_ms:g} ms")
            slo = series.record_at(sat.slo_batch)
            if slo is not None:
                lat.plot([slo.batch_size], [slo.p99_ms], "s", color="tab:orange", markersize=8,
                         label=f"p99 of the best batch within budget: {slo.batch_size}")
        _mark_saturation(lat, series, label=True)
        _mark_oom(lat, series, label=True)
        if min(p50) > 0:
            log_y(lat)
        lat.set_ylabel("latency per batch (ms)")
        lat.set_title("latency")
        _batch_axis(lat, axis_batches)
        rows = _legend_below(lat, ncol=3)

        tput.fill_between(batches, thr_low, thr_high, color="tab:purple", alpha=0.18,
                          label=f"{POINT_LEVEL:.0%} interval between passes")
        _points(tput, batches, thr, unstable, "tab:purple", "throughput (at p50, per call)", label_unstable=False)
        b2b = [(r.batch_size, r.batch_size / t) for r in series.records if (t := back_to_back_s(r)) is not None]
        if b2b:
            tput.plot([b for b, _ in b2b], [x for _, x in b2b], "s--", color="0.45", markersize=4,
                      label="back-to-back throughput (one sync per block)")
        if sat is not None and sat.eps is not None:
            reference = sat.reference_throughput_items_s
            if reference is not None:
                tput.axhline((1 - sat.eps) * reference, color="0.4", linestyle=":",
                             label=f"{1 - sat.eps:.0%} of the robust reference")
            elif sat.best_throughput_items_s is not None:
                tput.axhline((1 - sat.eps) * sat.best_throughput_items_s, color="0.4", linestyle=":",
                             label=f"{1 - sat.eps:.0%} of best")
        _mark_saturation(tput, series, label=True)
        _mark_oom(tput, series, label=True)
        tput.set_ylim(bottom=0)
        tput.set_ylabel("throughput (items/s)")
        tput.set_title("throughput")
        _batch_axis(tput, axis_batches)
        rows = max(rows, _legend_below(tput))

        return _save(fig, out_base, title, rows)


def plot_across(series_list: Sequence[Series], labels: Sequence[str], out_base: Path,
                title: str, *, relative: bool = False, groups: Sequence[str] | None = None) -> tuple[Path, Path]:
    """Throughput and p50 latency of the same model from several runs, devices or variants on shared axes, each
    curve with its between-pass interval as a band. ``relative`` divides each curve's throughput by its own best
    point, so models of very different speeds share one axis and each one's plateau reads as reaching 1.
    ``groups`` gives curves of one group (a model measured in several runs) one colour and a line style each."""
    all_batches = [b for s in series_list for b in s.batch_sizes]
    all_batches += [s.sweep.oom_batch_size for s in series_list if s.sweep.oom_batch_size]
    with mpl.rc_context(RC):
        fig = Figure()
        tput, lat = fig.subplots(1, 2)
        colors = mpl.colormaps["tab10"]
        keys = list(groups) if groups is not None else [str(i) for i in range(len(series_list))]
        order = list(dict.fromkeys(keys))
        for i, (series, label) in enumerate(zip(series_list, labels, strict=True)):
            color = colors(order.index(keys[i]) % 10)
            style = "o" + LINE_STYLES[keys[:i].count(keys[i]) % len(LINE_STYLES)]
            batches = series.batch_sizes
            unit = series.best_record.throughput_items_s if relative else 1.0
            tput.plot(batches, [r.throughput_items_s / unit for r in series.records], style, color=color,
                      label=plain(label))
            lat.plot(batches, [r.p50_ms for r in series.records], style, color=color, label=plain(label))
            # Each curve with its between-pass interval, so overlapping bands read as "not told apart".
            noise = [series.noise[b] for b in batches]
            tput.fill_between(batches, [b / (n.ci_high_ms / 1e3) / unit for b, n in zip(batches, noise, strict=True)],
                              [b / (n.ci_low_ms / 1e3) / unit if n.ci_low_ms > 0 else math.nan
                               for b, n in zip(batches, noise, strict=True)], color=color, alpha=0.15)
            lat.fill_between(batches, [n.ci_low_ms for n in noise], [n.ci_high_ms for n in noise], color=color,
                             alpha=0.15)
            sat = series.saturation
            rec = series.record_at(sat.saturation_batch) if sat is not None else None
            if rec is not None:
                tput.plot([rec.batch_size], [rec.throughput_items_s / unit], "*", color=color, markersize=14,
                          markeredgecolor="black")
            if series.sweep.oom_batch_size is not None:
                tput.axvline(series.sweep.oom_batch_size, color=color, linestyle="--", linewidth=1)
        tput.set_ylim(bottom=0)
        tput.set_ylabel("throughput / the model's best" if relative else "throughput (items/s)")
        tput.set_title("throughput (★ saturation batch, dashed: out of memory)")
        lat.set_ylabel("p50 latency per batch (ms)")
        lat.set_title("latency")
        if all(r.p50_ms > 0 for s in series_list for r in s.records):
            log_y(lat)
        for ax in (tput, lat):
            _batch_axis(ax, all_batches)
        rows = max(_legend_below(tput, ncol=3), _legend_below(lat, ncol=3))
        return _save(fig, out_base, title, rows)


MONOTONIC_MEMORY = "process_max_rss"


def plot_memory(series: Series, out_base: Path, title: str) -> tuple[Path, Path] | None:
    """Memory per batch (parameters, inputs and the forward's tensor peak) with the fitted line m0 + m1·b and,
    with a budget, the batch it extrapolates to fill it; None when fewer than two points have a memory."""
    points = [(r.batch_size, r.peak_memory_bytes) for r in series.records if r.peak_memory_bytes]
    if len(points) < 2 or any(r.memory_kind == MONOTONIC_MEMORY for r in series.records):
        return None  # older files: the process's peak so far, which says nothing about the batch
    fill = series.sweep.memory_fill
    batches = [b for b, _ in points]
    mib = [m / 2**20 for _, m in points]
    with mpl.rc_context(RC):
        fig = Figure()
        ax = fig.subplots(1, 1)
        ax.plot(batches, mib, "o-", color="tab:brown", label="measured: one forward at that batch")
        axis = list(batches)
        if fill is not None:
            far = [b for b in (fill.fill_batch_size, series.sweep.oom_batch_size) if b]
            line = sorted({*batches, *far})
            r2 = f", R² {fill.r_squared:.4f}" if fill.r_squared is not None else ""
            ax.plot(line, [(fill.m0_bytes + fill.m1_bytes_per_item * b) / 2**20 for b in line], ":", color="0.3",
                    label=f"fit {fill.m0_bytes / 2**20:.3g} MiB + {fill.m1_bytes_per_item / 2**10:.3g} KiB·b{r2}")
            ax.axhline(fill.budget_bytes / 2**20, color="tab:orange", linestyle="-.",
                       label=f"budget {fill.budget_bytes / 1e9:g} GB")
            if fill.fill_batch_size:
                ax.axvline(fill.fill_batch_size, color="tab:orange", linewidth=1.2,
                           label=f"fills the budget at batch ≈ {fill.fill_batch_size:,}")
            axis += far
        _mark_oom(ax, series, label=True)
        if series.sweep.oom_batch_size:
            axis.append(series.sweep.oom_batch_size)
        log_y(ax)
        ax.set_ylabel("memory (MiB)")
        ax.set_title("memory per batch")
        _batch_axis(ax, axis)
        rows = _legend_below(ax, ncol=2)
        return _save(fig, out_base, title, rows)
