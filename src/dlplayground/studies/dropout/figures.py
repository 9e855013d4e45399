"""The study's figures: the lead scatter, the added-variable plot, the dropout curves, the correlation maps.

Colour is the dataset throughout (the issue's request: pooled correlations can be carried by differences
between datasets, and colour shows whether they are); marker is the architecture. Every figure reads the same
``PopulationTable`` and ``PairResult`` values the tables and ``StudyResult.raw`` hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

from dlplayground.studies.dropout.analysis import (
    INCREMENTAL_COVARIATES,
    MAIN_TARGETS,
    PREDICTORS,
    PRIMARY,
    TARGETS,
    PairResult,
    PopulationTable,
)
from dlplayground.studies.dropout.correlation import rank_residuals
from dlplayground.studies.dropout.measurement import MemberResult

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402

DATASET_COLOURS = {"digits": "tab:blue", "breast_cancer": "tab:orange", "olivetti": "tab:green",
                   "cifar10": "tab:red"}
ARCH_MARKERS = {"mlp": "o", "cnn": "s"}


def _colour(dataset: str) -> str:
    return DATASET_COLOURS.get(dataset, "tab:grey")


def _pair(pairs: Sequence[PairResult], predictor: str, target: str) -> PairResult:
    return next(p for p in pairs if p.predictor == predictor and p.target == target)


def _legend(ax: plt.Axes, table: PopulationTable) -> None:
    handles = [plt.Line2D([], [], ls="", marker="o", color=_colour(d), label=d)
               for d in sorted(set(table.datasets.tolist()))]
    handles += [plt.Line2D([], [], ls="", marker=m, color="grey", label=a.upper()) for a, m in ARCH_MARKERS.items()
                if any(str(g).endswith(a) for g in table.groups)]
    ax.legend(handles=handles, fontsize=7, loc="best")


def _scatter(ax: plt.Axes, table: PopulationTable, x: np.ndarray, y: np.ndarray) -> None:
    for arch, marker in ARCH_MARKERS.items():
        for dataset in sorted(set(table.datasets.tolist())):
            sel = (table.datasets == dataset) & np.array([str(g).endswith(arch) for g in table.groups])
            sel &= np.isfinite(x) & np.isfinite(y)
            if sel.any():
                ax.scatter(x[sel], y[sel], s=22, marker=marker, color=_colour(dataset), edgecolor="k",
                           linewidth=0.3, alpha=0.85)


def plot_lead(table: PopulationTable, pairs: Sequence[PairResult], path: Path) -> None:
    """The primary predictor against each main target, coloured by dataset; titles give rho and the core test."""
    fig, axes = plt.subplots(1, len(MAIN_TARGETS), figsize=(4.2 * len(MAIN_TARGETS), 4.0))
    x = table.values[PRIMARY]
    for ax, target in zip(np.atleast_1d(axes), MAIN_TARGETS, strict=True):
        _scatter(ax, table, x, table.values[target])
        p = _pair(pairs, PRIMARY, target)
        low, high = p.simultaneous
        ax.set_title(f"{target}\nrho {p.spearman.summary()}\nincremental {p.incremental.estimate:+.2f} "
                     f"[{low:+.2f}, {high:+.2f}]", fontsize=8.5)
        ax.set_xlabel(PRIMARY, fontsize=8)
        ax.set_ylabel(target, fontsize=8)
        ax.grid(alpha=0.3)
    _legend(np.atleast_1d(axes)[0], table)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_added_variable(table: PopulationTable, path: Path) -> None:
    """What the primary predictor adds: its normal-score residual against each target's, given the covariates."""
    z = np.column_stack([*(table.values[c] for c in INCREMENTAL_COVARIATES), table.group_indicators()])
    fig, axes = plt.subplots(1, len(MAIN_TARGETS), figsize=(4.2 * len(MAIN_TARGETS), 3.8))
    for ax, target in zip(np.atleast_1d(axes), MAIN_TARGETS, strict=True):
        x, y = table.values[PRIMARY], table.values[target]
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z).all(axis=1)
        rx, ry = np.full(x.shape, np.nan), np.full(y.shape, np.nan)
        if ok.sum() > z.shape[1] + 2:
            rx[ok], ry[ok] = rank_residuals(x[ok], z[ok], "normal"), rank_residuals(y[ok], z[ok], "normal")
        _scatter(ax, table, rx, ry)
        ax.axhline(0, color="grey", lw=0.6)
        ax.axvline(0, color="grey", lw=0.6)
        ax.set_title(target, fontsize=9)
        ax.set_xlabel(f"{PRIMARY}: residual (normal scores)", fontsize=8)
        ax.set_ylabel("target residual (normal scores)", fontsize=8)
        ax.grid(alpha=0.3)
    _legend(np.atleast_1d(axes)[0], table)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(results: Sequence[MemberResult], path: Path) -> None:
    """Mean accuracy/clean accuracy vs. evaluation dropout rate, one line per model; native left, inserted right."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, mode in zip(axes, ("native", "inserted"), strict=True):
        for r in results:
            curve = getattr(r.predictors, mode)
            ax.plot([0.0, *curve.rates], [1.0, *curve.normalised], "--" if r.member.arch == "cnn" else "-", lw=0.8,
                    alpha=0.6, color=_colour(r.member.dataset))
        ax.set_title(f"{mode} dropout at evaluation (mean accuracy over passes)", fontsize=9)
        ax.set_xlabel("evaluation dropout rate p")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy / clean accuracy")
    handles = [plt.Line2D([], [], color=_colour(d), label=d) for d in sorted({r.member.dataset for r in results})]
    handles += [plt.Line2D([], [], color="grey", ls="-", label="MLP"),
                plt.Line2D([], [], color="grey", ls="--", label="CNN")]
    axes[1].legend(handles=handles, fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_correlations(pairs: Sequence[PairResult], path: Path) -> None:
    """Two heatmaps of every predictor x target: plain Spearman, and the incremental partial correlation."""
    preds, targs = list(PREDICTORS), list(TARGETS)
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.2), sharey=True)
    for ax, (title, attr) in zip(axes, (("Spearman rho", "spearman"), ("incremental partial rho", "incremental")),
                                 strict=True):
        grid = np.full((len(preds), len(targs)), np.nan)
        for p in pairs:
            i, j = preds.index(p.predictor), targs.index(p.target)
            corr = getattr(p, attr)
            grid[i, j] = corr.estimate
            ax.text(j, i, corr.summary().replace(" [", "\n["), ha="center", va="center", fontsize=7)
        image = ax.imshow(np.nan_to_num(grid), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(len(targs)), [t.replace(" (", "\n(") for t in targs], fontsize=7)
        ax.set_yticks(range(len(preds)), preds, fontsize=7)
        level = pairs[0].spearman.confidence if pairs else 0.95
        ax.set_title(f"{title} [{level:.0%} bootstrap CI]", fontsize=9)
    fig.colorbar(image, ax=axes, fraction=0.03)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
