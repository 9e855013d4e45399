"""The study's figures: example edge maps, F and FOM against noise, face edge maps and their stability.

Each function draws one (or two) PNG files into the output folder and returns the file name(s). The edge
maps are recomputed from the seeded images (they are not stored); the curves come from the analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

from dlplayground.studies.edges.analysis import ConditionAnalysis
from dlplayground.studies.edges.config import EdgeStudyConfig
from dlplayground.studies.edges.evaluation import (
    Condition,
    FaceStability,
    config_condition_data,
    face_edge_pixels,
    face_map,
    face_noise_rng,
)
from dlplayground.studies.edges.operators import LAPLACIAN_OPERATORS, OPERATORS, edge_response, operator_label
from dlplayground.studies.edges.scenes import degrade
from dlplayground.studies.edges.scoring import prf

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"sobel": "#1f77b4", "scharr": "#17becf", "dog": "#2ca02c", "laplace3": "#d62728", "log": "#ff7f0e",
          "canny": "#7f7f7f"}
EXAMPLES_FILE = "examples.png"
F_VS_NOISE_FILE = "f_vs_noise.png"
FOM_VS_NOISE_FILE = "fom_vs_noise.png"
FACE_EDGES_FILE = "faces_edges.png"
FACE_STABILITY_FILE = "faces_stability.png"


def _line_style(op: str) -> str:
    return "--" if op in LAPLACIAN_OPERATORS else "-"


def figure_examples(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig, out: Path) -> str:
    """Image, truth and every operator's map at its ODS threshold, for a few conditions."""
    wanted = []
    for kind in config.scene_kinds:
        for noise in sorted({config.noise_levels[0], config.noise_levels[len(config.noise_levels) // 2],
                             config.noise_levels[-1]}):
            wanted.append(Condition(kind, config.blur_levels_px[0], noise))
    by_cond = {a.condition: a for a in analyses}
    ops = list(config.operators)
    fig, axes = plt.subplots(len(wanted), 2 + len(ops), figsize=(1.6 * (2 + len(ops)), 1.8 * len(wanted) + 0.4),
                             squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.35})
    for row, cond in enumerate(wanted):
        images, truths = config_condition_data(cond, config)
        axes[row, 0].imshow(images[0], cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(f"{cond.kind}\nnoise {cond.noise:g}", fontsize=8)
        axes[row, 1].imshow(truths[0], cmap="gray_r")
        analysis = by_cond[cond]
        for col, op in enumerate(ops, start=2):
            # the display scale where the operator ran at it, else its best scale
            at_display = [t for t in analysis.tables if t.operator == op and t.sigma == config.display_sigma]
            table = at_display[0] if at_display else analysis.scores[op].table
            index = table.score.ods_index
            edges = edge_response(images[0], op, table.sigma).edges(table.thresholds[index])
            axes[row, col].imshow(edges, cmap="gray_r")
            _, _, f = prf(table.counts[0, index])
            axes[row, col].set_xlabel(f"F={float(f):.2f}", fontsize=7)
            if row == 0:
                axes[row, col].set_title(f"{operator_label(op)}\nsigma={table.sigma:g}", fontsize=7)
    axes[0, 0].set_title("image", fontsize=8)
    axes[0, 1].set_title("ground truth", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.03, top=0.9)
    fig.savefig(out / EXAMPLES_FILE, dpi=110)
    plt.close(fig)
    return EXAMPLES_FILE


def figure_vs_noise(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig, out: Path, metric: str) -> str:
    """ODS F (``metric="f"``) or FOM (``"fom"``) against noise, one panel per (kind, blur), with 95 % CIs."""
    by_cond = {a.condition: a for a in analyses}
    panels = [(k, b) for k in config.scene_kinds for b in config.blur_levels_px]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (kind, blur) in zip(axes[0], panels, strict=True):
        for op in config.operators:
            xs, ys, lo, hi = [], [], [], []
            for noise in config.noise_levels:
                s = by_cond[Condition(kind, blur, noise)].scores[op]
                value, ci = (s.ods_f, s.ods_f_interval) if metric == "f" else (s.fom, s.fom_interval)
                xs.append(noise)
                ys.append(value)
                lo.append(value - ci.low)
                hi.append(ci.high - value)
            ax.errorbar(xs, ys, yerr=[np.maximum(lo, 0), np.maximum(hi, 0)], marker="o", ms=3, capsize=2,
                        label=operator_label(op), color=COLORS.get(op), linestyle=_line_style(op))
        ax.set_title(f"{kind}, blur {blur:g} px", fontsize=9)
        ax.set_xlabel("noise sigma (grey levels)")
        ax.set_ylabel("ODS F-measure" if metric == "f" else "Pratt FOM at ODS threshold")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    name = F_VS_NOISE_FILE if metric == "f" else FOM_VS_NOISE_FILE
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def figure_face_edges(images: np.ndarray, config: EdgeStudyConfig, out: Path) -> str:
    """A few faces, clean and noisy, with each operator's map keeping the same share of pixels."""
    n_pixels = face_edge_pixels(images, config.face_edge_density)
    sigma = 1.0 if 1.0 in config.face_sigmas_px else max(config.face_sigmas_px)
    ops = [o for o in config.operators if sigma > 0 or OPERATORS[o].allows_unsmoothed]
    noise = config.face_noise_levels[len(config.face_noise_levels) // 2]
    picks = images[: min(3 if len(images) > 10 else 1, len(images))]
    fig, axes = plt.subplots(2 * len(picks), 1 + len(ops), figsize=(1.5 * (1 + len(ops)), 1.5 * 2 * len(picks) + 0.5),
                             squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.1})
    for i, im in enumerate(picks):
        noisy = degrade(im, 0.0, noise, face_noise_rng(config.seed, i, 0))
        for j, (shown, label) in enumerate(((im, "clean"), (noisy, f"noise {noise:g}"))):
            row = 2 * i + j
            axes[row, 0].imshow(shown, cmap="gray", vmin=0, vmax=1)
            axes[row, 0].set_ylabel(label, fontsize=7)
            for col, op in enumerate(ops, start=1):
                axes[row, col].imshow(face_map(shown, op, sigma, n_pixels), cmap="gray_r")
                if row == 0:
                    axes[row, col].set_title(f"{operator_label(op)}\nsigma={sigma:g}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.02, top=0.9)
    fig.savefig(out / FACE_EDGES_FILE, dpi=110)
    plt.close(fig)
    return FACE_EDGES_FILE


def figure_face_stability(stability: Sequence[FaceStability], config: EdgeStudyConfig, out: Path) -> str:
    """Mean agreement of noisy with clean face maps against noise, one panel per scale."""
    sigmas = list(dict.fromkeys(s.sigma for s in stability))
    fig, axes = plt.subplots(1, len(sigmas), figsize=(4.0 * len(sigmas), 3.4), squeeze=False)
    for ax, sig in zip(axes[0], sigmas, strict=True):
        for op in config.operators:
            rows = [s for s in stability if s.operator == op and s.sigma == sig]
            if rows:
                ax.plot([s.noise for s in rows], [s.per_image.mean() for s in rows], marker="o", ms=3,
                        label=operator_label(op), color=COLORS.get(op), linestyle=_line_style(op))
        ax.set_title(f"faces, sigma = {sig:g} px", fontsize=9)
        ax.set_xlabel("noise sigma (grey levels)")
        ax.set_ylabel("agreement F (noisy vs clean map)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out / FACE_STABILITY_FILE, dpi=110)
    plt.close(fig)
    return FACE_STABILITY_FILE
