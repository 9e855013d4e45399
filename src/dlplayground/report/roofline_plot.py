"""The roofline figure and the per-model diagnosis table of a batch-size run.

Arithmetic intensity (FLOPs per estimated byte moved, log x) against achieved GFLOP/s (log y), one line per
model through its batch sizes, under the device's two measured ceilings: the copy bandwidth (a slope of
``W`` GB/s) and the matmul peak (flat at ``P`` GFLOP/s), meeting at the ridge ``P / W``. A bigger batch
usually moves a point up and to the right (weights are reused over more items); a point far below both
roofs spends its time elsewhere (overhead). Figures and rows are derived from the records' FLOPs, bytes and
raw samples and the measured ``Peaks``; the diagnosis is the sweep's own (``Saturation.diagnosis``, by the rule
in ``dlplayground.bench.roofline``), read, never re-derived.

A point above a measured roof (more GB/s than the copy, more GFLOP/s than the square matmul) is not a
fraction of that roof: the figure rings it, and the tables show it with ``roofline.roof_share_cell``, whose
columns are mapped to their ceiling by ``PCT_CEILINGS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from dlplayground.bench.roofline import BANDWIDTH, MATMUL, ROOF, Ceiling, Roofs, place, rule_text
from dlplayground.bench.saturation import Saturation
from dlplayground.report.plots import META, PNG_DPI, RC, plain, plain_log_labels
from dlplayground.results import TimingRecord

DIAGNOSIS_COLUMNS = ["model", "saturation batch", "FLOPs / item", "intensity (FLOP/B)", "GFLOP/s",
                     "% of matmul peak", "GB/s", "% of bandwidth", "bound", "diagnosis"]
POINT_COLUMNS = ["model", "batch", "FLOPs", "bytes moved (est.)", "intensity (FLOP/B)", "GFLOP/s",
                 "% of matmul peak", "% of roof"]
PCT_CEILINGS: dict[str, Ceiling] = {"% of matmul peak": MATMUL, "% of bandwidth": BANDWIDTH, "% of roof": ROOF}
"""The ceiling each percentage column is taken of: format its cells with ``roofline.roof_share_cell``."""
CAPTION = ("Each line is one model, its points the batch sizes (★ the saturation batch). The ceilings are "
           "measured on this device: the copy bandwidth (slope) and the square-matmul peak (flat). A ringed point "
           "lies above a measured roof. " + rule_text())


def _by_model(records: Sequence[TimingRecord]) -> dict[str, list[TimingRecord]]:
    out: dict[str, list[TimingRecord]] = {}
    for rec in records:
        out.setdefault(rec.model, []).append(rec)
    return {m: sorted(rs, key=lambda r: r.batch_size) for m, rs in out.items()}


def plot_roofline(
    records: list[TimingRecord],
    roofs: Roofs,
    path: Path,
    title: str,
    *,
    saturation: Mapping[str, Saturation] | None = None,
    svg_path: Path | None = None,
) -> Path:
    """Draw the roofline of ``records`` under the measured ``roofs`` as a PNG at ``path`` (and as SVG at
    ``svg_path`` when given, like the report's other figures).

    ``saturation`` maps a model to its saturation analysis, to star the saturation batch. Records without
    FLOPs or bytes are left out; raises ``ValueError`` when no record can be placed.
    """
    placed = {m: [p for p in (place(r, roofs) for r in rs) if p is not None] for m, rs in _by_model(records).items()}
    placed = {m: ps for m, ps in placed.items() if ps}
    if not placed:
        raise ValueError("roofline: no record has a FLOP count and a bytes estimate")
    xs = [p.intensity_flop_per_byte for ps in placed.values() for p in ps]
    ys = [p.achieved_gflop_s for ps in placed.values() for p in ps]
    x_lo = min(min(xs), roofs.ridge_flop_per_byte) / 3
    x_hi = max(max(xs), roofs.ridge_flop_per_byte) * 3
    grid = np.geomspace(x_lo, x_hi, 200)
    roof = np.minimum(roofs.peak_gflop_s, grid * roofs.peak_gb_s)
    dtype = records[0].dtype if records else ""

    with mpl.rc_context(RC):
        fig = Figure(figsize=(8.5, 6.2))
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(grid, roof, color="black", linewidth=2, label="roof = min(peak, intensity x bandwidth)")
        ax.axvline(roofs.ridge_flop_per_byte, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(plain(f"matmul peak {roofs.peak_gflop_s:.3g} GFLOP/s ({dtype})"),
                    (roofs.ridge_flop_per_byte, roofs.peak_gflop_s), xytext=(-6, 5), textcoords="offset points",
                    ha="right", fontsize=8)
        ax.annotate(f"copy {roofs.peak_gb_s:.3g} GB/s", (x_lo, x_lo * roofs.peak_gb_s),
                    xytext=(4, 6), textcoords="offset points", ha="left", fontsize=8, rotation=0)
        ax.annotate(f"ridge {roofs.ridge_flop_per_byte:.3g} FLOP/B", (roofs.ridge_flop_per_byte, min(ys) / 2),
                    xytext=(3, 0), textcoords="offset points", fontsize=7.5, color="0.35")
        colors = mpl.colormaps["tab10"]
        rung = False  # the ring's legend entry is added once
        for i, (model, points) in enumerate(placed.items()):
            color = colors(i % 10)
            px = [p.intensity_flop_per_byte for p in points]
            py = [p.achieved_gflop_s for p in points]
            ax.plot(px, py, "o-", color=color, markersize=4, linewidth=1, label=plain(model))
            for p in (points[0], points[-1]) if len(points) > 1 else (points[0],):
                ax.annotate(f"b{p.batch_size}", (p.intensity_flop_per_byte, p.achieved_gflop_s),
                            xytext=(3, -9), textcoords="offset points", fontsize=7, color=color)
            above = [p for p in points if p.above_bandwidth_roof or p.above_matmul_roof]
            if above:
                ax.plot([p.intensity_flop_per_byte for p in above], [p.achieved_gflop_s for p in above], "o",
                        markersize=10, markerfacecolor="none", markeredgecolor="0.25", markeredgewidth=1,
                        label="above a measured roof" if not rung else None)
                rung = True
            sat = (saturation or {}).get(model)
            star = next((p for p in points if sat is not None and p.batch_size == sat.saturation_batch), None)
            if star is not None:
                ax.plot([star.intensity_flop_per_byte], [star.achieved_gflop_s], "*", color=color,
                        markersize=14, markeredgecolor="black")
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_labels(ax.xaxis)
        plain_log_labels(ax.yaxis)
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(min(min(ys), x_lo * roofs.peak_gb_s) / 3, max(max(ys), roofs.peak_gflop_s) * 2)
        ax.set_xlabel("arithmetic intensity (FLOPs / estimated bytes moved)")
        ax.set_ylabel("achieved GFLOP/s (at median latency)")
        ax.set_title(plain(title), fontsize=10)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, fontsize=7.5, frameon=False)
        fig.subplots_adjust(left=0.1, right=0.97, top=0.93, bottom=0.2)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=PNG_DPI, format="png", metadata=META["png"])
        if svg_path is not None:
            Path(svg_path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(svg_path, format="svg", metadata=META["svg"])
    return path


def diagnosis_rows(records: Sequence[TimingRecord], saturation: Mapping[str, Saturation]) -> list[list[Any]]:
    """One row per model (columns ``DIAGNOSIS_COLUMNS``): its point at the saturation batch on the roofline and
    what bounds it there, as the sweep diagnosed it (``Saturation.diagnosis``; nothing is re-derived here)."""
    rows: list[list[Any]] = []
    for model, recs in _by_model(records).items():
        sat = saturation.get(model)
        if sat is None or sat.diagnosis is None:
            continue
        diag, batch = sat.diagnosis, sat.saturation_batch
        record = next((r for r in recs if r.batch_size == batch), None)
        p = diag.point
        per_item = record.flops / record.batch_size if record is not None and record.flops else None
        rows.append([
            model, batch, per_item,
            p.intensity_flop_per_byte if p else None, p.achieved_gflop_s if p else None,
            p.pct_of_matmul_peak if p else None, p.achieved_gb_s if p else None,
            p.pct_of_bandwidth if p else None, diag.bound, diag.text,
        ])
    return rows


def point_rows(records: Sequence[TimingRecord], roofs: Roofs) -> list[list[Any]]:
    """Every point on the roofline (columns ``POINT_COLUMNS``); points without a FLOP count are left out."""
    rows = []
    for model, recs in _by_model(records).items():
        for rec in recs:
            p = place(rec, roofs)
            if p is not None:
                rows.append([model, rec.batch_size, p.flops, p.bytes_moved, p.intensity_flop_per_byte,
                             p.achieved_gflop_s, p.pct_of_matmul_peak, p.pct_of_roof])
    return rows
