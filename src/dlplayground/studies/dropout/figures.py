"""The study's three figures: dropout curves per model, the predictor against each target, the correlation map.

Colour is the training dropout rate throughout, since it is the confound the analysis controls for first;
the figures read their values from the same records the tables and ``StudyResult.raw`` hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

from dlplayground.studies.dropout.analysis import PREDICTORS, PRIMARY, TARGETS, PairResult, column
from dlplayground.studies.dropout.mc_dropout import DropoutCurve
from dlplayground.studies.dropout.measurement import MemberResult

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402

GROUP_MARKERS = {"digits-mlp": "o", "digits-cnn": "s", "breast_cancer-mlp": "^"}


def _dropout_colour(rate: float, levels: Sequence[float]) -> tuple[float, float, float, float]:
    cmap = plt.get_cmap("viridis")
    top = max(levels) or 1.0
    return cmap(rate / top * 0.9)


def plot_curves(results: Sequence[MemberResult], dropout_levels: Sequence[float], path: Path) -> None:
    """Accuracy/clean accuracy vs. evaluation dropout rate, one line per model; native left, inserted right."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, mode in zip(axes, ("native", "inserted"), strict=True):
        for r in results:
            curve: DropoutCurve = getattr(r, mode)
            style = "--" if r.member.arch == "cnn" else "-"
            ax.plot([0.0, *curve.rates], [1.0, *curve.normalised], style, lw=1, alpha=0.75,
                    color=_dropout_colour(r.member.dropout, dropout_levels))
        ax.set_title(f"{mode} dropout at evaluation")
        ax.set_xlabel("evaluation dropout rate p")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy / clean accuracy")
    handles = [plt.Line2D([], [], color=_dropout_colour(d, dropout_levels), label=f"trained with p={d:g}")
               for d in dropout_levels]
    handles += [plt.Line2D([], [], color="grey", ls="-", label="MLP"),
                plt.Line2D([], [], color="grey", ls="--", label="CNN")]
    axes[1].legend(handles=handles, fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scatter(results: Sequence[MemberResult], pairs: Sequence[PairResult], dropout_levels: Sequence[float],
                 path: Path) -> None:
    """The primary predictor against each target, with a least-squares line and the correlations in the title."""
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.4))
    x_all = column(results, PREDICTORS[PRIMARY])
    for ax, (tname, tvalue) in zip(axes.flat, TARGETS.items(), strict=True):
        y_all = column(results, tvalue)
        for r, x, y in zip(results, x_all, y_all, strict=True):
            ax.scatter(x, y, s=28, marker=GROUP_MARKERS.get(r.member.group, "o"),
                       color=_dropout_colour(r.member.dropout, dropout_levels), edgecolor="k", linewidth=0.3)
        ok = np.isfinite(x_all) & np.isfinite(y_all)
        if ok.sum() >= 2 and np.ptp(x_all[ok]) > 0:
            slope, intercept = np.polyfit(x_all[ok], y_all[ok], 1)
            xs = np.linspace(x_all[ok].min(), x_all[ok].max(), 20)
            ax.plot(xs, slope * xs + intercept, "r-", lw=1.2, label="least-squares fit")
        pair = next(p for p in pairs if p.predictor == PRIMARY and p.target == tname)
        ax.set_title(f"{tname}\nrho {pair.spearman.summary()}; partial {pair.partial.summary()}", fontsize=9)
        ax.set_xlabel(PRIMARY)
        ax.set_ylabel(tname)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], ls="", marker=m, color="grey", label=g) for g, m in GROUP_MARKERS.items()]
    handles += [plt.Line2D([], [], color="r", label="least-squares fit")]
    axes.flat[0].legend(handles=handles, fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_correlations(pairs: Sequence[PairResult], path: Path) -> None:
    """Heatmap of every predictor x target Spearman correlation, each cell labelled with its interval."""
    preds, targs = list(PREDICTORS), list(TARGETS)
    grid = np.full((len(preds), len(targs)), np.nan)
    labels = {}
    for p in pairs:
        i, j = preds.index(p.predictor), targs.index(p.target)
        grid[i, j] = p.spearman.estimate
        labels[i, j] = p.spearman.summary().replace(" [", "\n[")
    level = pairs[0].spearman.confidence if pairs else 0.95
    fig, ax = plt.subplots(figsize=(8.5, 5))
    image = ax.imshow(np.nan_to_num(grid), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (i, j), text in labels.items():
        ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(targs)), targs, fontsize=8)
    ax.set_yticks(range(len(preds)), preds, fontsize=8)
    ax.set_title(f"Spearman correlation [{level:.0%} bootstrap CI]")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
