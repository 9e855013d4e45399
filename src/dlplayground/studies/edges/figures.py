"""The study's figures: the example grid (lead), the per-condition paired difference, F and FOM against noise,
and the face edge maps and their stability.

Each function draws one PNG file into the output folder and returns its name. The edge maps are recomputed from
the seeded images (they are not stored); the curves come from the analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

from dlplayground.studies.edges.analysis import BenchmarkAnalysis, ConditionAnalysis
from dlplayground.studies.edges.bsds_arm import BSDS_CONDITION, BsdsData
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
BLUR_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
EXAMPLES_FILE = "examples.png"
DIFFERENCES_FILE = "differences.png"
F_VS_NOISE_FILE = "f_vs_noise.png"
FOM_VS_NOISE_FILE = "fom_vs_noise.png"
FACE_EDGES_FILE = "faces_edges.png"
FACE_STABILITY_FILE = "faces_stability.png"


def _line_style(op: str) -> str:
    return "--" if op in LAPLACIAN_OPERATORS else "-"


def _save_image_grid(fig: plt.Figure, axes: np.ndarray, path: Path, top: float, dpi: int) -> None:
    """Bare image panels (no ticks), tight margins, written to ``path``."""
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.02, top=top)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def example_conditions(config: EdgeStudyConfig) -> list[Condition]:
    """The grid's rows: each kind at the first blur level, at the lowest and the highest noise."""
    noises = sorted({min(config.noise_levels), max(config.noise_levels)})
    return [Condition(kind, config.blur_levels_px[0], noise) for kind in config.scene_kinds for noise in noises]


def figure_examples(analysis: BenchmarkAnalysis, config: EdgeStudyConfig, out: Path,
                    bsds: BsdsData | None = None) -> str:
    """First held-out image, truth and every operator's map at its chosen scale and threshold, per row."""
    by_cond = {a.condition: a for a in analysis.conditions}
    rows: list[tuple[str, np.ndarray, np.ndarray, ConditionAnalysis]] = []
    for cond in example_conditions(config):
        images, truths = config_condition_data(cond, config)
        rows.append((f"{cond.kind}\nnoise {cond.noise:g}", images[0], truths[0].astype(float), by_cond[cond]))
    if bsds is not None and BSDS_CONDITION in by_cond:
        first = bsds.held_out.images[0]
        rows.append((f"BSDS500\n{first.name}", first.image, np.sum(first.boundaries, axis=0, dtype=float),
                     by_cond[BSDS_CONDITION]))
    ops = list(config.operators)
    fig, axes = plt.subplots(len(rows), 2 + len(ops), figsize=(1.5 * (2 + len(ops)), 1.6 * len(rows) + 0.5),
                             squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.4})
    for row, (label, image, truth, a) in enumerate(rows):
        axes[row, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(label, fontsize=7)
        axes[row, 1].imshow(truth, cmap="gray_r")
        for col, op in enumerate(ops, start=2):
            score = a.scores[op]
            edges = edge_response(image, op, score.sigma).edges(score.tuned.threshold)
            axes[row, col].imshow(edges, cmap="gray_r")
            _, _, f = prf(score.table.counts[0, score.tuned.threshold_index])
            axes[row, col].set_xlabel(f"sigma {score.sigma:g}, F={float(f):.2f}", fontsize=6)
            if row == 0:
                axes[row, col].set_title(operator_label(op), fontsize=7)
    axes[0, 0].set_title("image", fontsize=7)
    axes[0, 1].set_title("ground truth", fontsize=7)
    _save_image_grid(fig, axes, out / EXAMPLES_FILE, top=0.95, dpi=100)
    return EXAMPLES_FILE


def figure_differences(analysis: BenchmarkAnalysis, config: EdgeStudyConfig, out: Path) -> str:
    """Per condition: held-out F difference (gradient - Laplacian) with its simultaneous interval; filled
    markers are conditions resolved by the Holm-corrected test."""
    comparisons = analysis.comparisons
    kinds = list(dict.fromkeys(c.condition.kind for c in comparisons)) or ["(none)"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(max(5.0, 2.6 * len(kinds) + 0.8), 3.6), squeeze=False,
                             sharey=True)
    noises = list(config.noise_levels)
    blurs = list(config.blur_levels_px)
    for ax, kind in zip(axes[0], kinds, strict=True):
        mine = [c for c in comparisons if c.condition.kind == kind]
        for c in mine:
            cond, d = c.condition, c.difference
            synthetic = cond.noise in noises and cond.blur_px in blurs and kind in config.scene_kinds
            x = noises.index(cond.noise) if synthetic else 0
            j = blurs.index(cond.blur_px) if synthetic else 0
            offset = (j - (len(blurs) - 1) / 2) * 0.12 if synthetic else 0.0
            color = BLUR_COLORS[j % len(BLUR_COLORS)]
            ax.errorbar(x + offset, d.estimate, yerr=[[max(d.estimate - d.low, 0)], [max(d.high - d.estimate, 0)]],
                        fmt="o", ms=4, capsize=2, color=color, markerfacecolor=color if c.decision else "white")
        ax.axhline(0.0, color="black", lw=0.8)
        if kind in config.scene_kinds:
            ax.set_xticks(range(len(noises)), [f"{n:g}" for n in noises], fontsize=7)
            ax.set_xlabel("noise sigma", fontsize=8)
        else:
            ax.set_xticks([0], ["photos"], fontsize=7)
        ax.set_title(kind, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("held-out F: gradient - Laplacian", fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=BLUR_COLORS[j % len(BLUR_COLORS)], label=f"blur {b:g} px")
               for j, b in enumerate(blurs)]
    handles.append(plt.Line2D([], [], marker="o", ls="", color="grey", markerfacecolor="white", label="unresolved"))
    axes[0, -1].legend(handles=handles, fontsize=6, loc="best")
    fig.suptitle(f"Held-out F difference per condition, {100 * analysis.comparison_level:.3g} % simultaneous "
                 "intervals\nfilled: resolved by the paired test after Holm's correction", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / DIFFERENCES_FILE, dpi=110)
    plt.close(fig)
    return DIFFERENCES_FILE


def figure_vs_noise(analysis: BenchmarkAnalysis, config: EdgeStudyConfig, out: Path, metric: str) -> str:
    """Held-out F (``metric="f"``) or FOM (``"fom"``) against noise, one panel per (kind, blur), 95 % CIs."""
    by_cond = {a.condition: a for a in analysis.conditions}
    kinds, blurs = list(config.scene_kinds), list(config.blur_levels_px)
    fig, axes = plt.subplots(len(kinds), len(blurs), figsize=(3.4 * len(blurs), 2.6 * len(kinds)), squeeze=False,
                             sharex=True, sharey=True)
    for i, kind in enumerate(kinds):
        for j, blur in enumerate(blurs):
            ax = axes[i, j]
            for op in config.operators:
                xs, ys, lo, hi = [], [], [], []
                for noise in config.noise_levels:
                    s = by_cond[Condition(kind, blur, noise)].scores[op]
                    ci = s.f_interval if metric == "f" else s.fom_interval
                    if ci is None:
                        continue
                    xs.append(noise)
                    ys.append(ci.estimate)
                    lo.append(max(ci.estimate - ci.low, 0))
                    hi.append(max(ci.high - ci.estimate, 0))
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", ms=3, capsize=2, label=operator_label(op),
                            color=COLORS.get(op), linestyle=_line_style(op))
            ax.set_title(f"{kind}, blur {blur:g} px", fontsize=8)
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            if i == len(kinds) - 1:
                ax.set_xlabel("noise sigma (grey levels)", fontsize=8)
            if j == 0:
                ax.set_ylabel("held-out F" if metric == "f" else "Pratt FOM", fontsize=8)
    axes[0, -1].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    name = F_VS_NOISE_FILE if metric == "f" else FOM_VS_NOISE_FILE
    fig.savefig(out / name, dpi=100)
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
    _save_image_grid(fig, axes, out / FACE_EDGES_FILE, top=0.9, dpi=110)
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
