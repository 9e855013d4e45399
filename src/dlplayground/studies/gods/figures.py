"""The study's three figures: confusion matrices, training-loss curves, and validation scores per model.

Figures are drawn on ``matplotlib.figure.Figure`` objects and saved directly (no pyplot state, no backend to
select), so drawing never opens a window and leaves nothing behind in the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure as MplFigure

from dlplayground.results import Figure
from dlplayground.studies.gods.analysis import ScoreSummary
from dlplayground.studies.gods.metrics import ClassificationScores
from dlplayground.studies.gods.runs import StrategyRun

DPI = 120


def plot_confusion_matrices(path: Path, panels: Sequence[tuple[str, ClassificationScores]]) -> None:
    """One panel per model; shade is the row share (recall on the diagonal), numbers are counts."""
    fig = MplFigure(figsize=(4.2 * len(panels), 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, scores) in zip(axes[0], panels, strict=True):
        cm = np.asarray(scores.confusion, dtype=float)
        rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(rows, vmin=0, vmax=1, cmap="Blues")
        names = scores.label_names
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                        color="white" if rows[i, j] > 0.5 else "black", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def plot_training_losses(path: Path, runs: Sequence[StrategyRun], strategies: Sequence[str]) -> None:
    """Per strategy, the training loss per step averaged over ranks and seeds (log scale)."""
    fig = MplFigure(figsize=(6.4, 3.8))
    ax = fig.subplots()
    for strategy in strategies:
        curves = np.asarray([r.log.losses for r in runs if r.strategy == strategy])
        mean = curves.mean(axis=0)
        ax.plot(np.arange(1, len(mean) + 1), mean, label=strategy)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean over ranks and seeds)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def plot_validation_scores(path: Path, summaries: Sequence[ScoreSummary]) -> None:
    """Accuracy and macro-F1 per model, the seed spread as error bars."""
    fig = MplFigure(figsize=(7.0, 3.8))
    ax = fig.subplots()
    x = np.arange(len(summaries))
    ax.bar(x - 0.2, [s.accuracy for s in summaries], 0.4, yerr=[s.accuracy_sd for s in summaries], label="accuracy")
    ax.bar(x + 0.2, [s.macro_f1 for s in summaries], 0.4, yerr=[s.macro_f1_sd for s in summaries], label="macro-F1")
    ax.set_xticks(x, [s.name for s in summaries], rotation=20, ha="right")
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("validation score")
    ax.legend(loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def draw_figures(
    out_dir: Path, runs: Sequence[StrategyRun], summaries: Sequence[ScoreSummary], strategies: Sequence[str],
    tfidf: ClassificationScores, best: StrategyRun,
) -> list[Figure]:
    """Write the three figures into ``out_dir`` and return their records."""
    plot_confusion_matrices(out_dir / "confusion.png", [
        ("TF-IDF + logistic regression", tfidf), (f"Longformer '{best.strategy}' (seed {best.seed})", best.scores),
    ])
    plot_training_losses(out_dir / "loss.png", runs, strategies)
    plot_validation_scores(out_dir / "scores.png", summaries)
    return [
        Figure("Confusion matrices", "confusion.png",
               "Validation set; rows are the true class, shade is the row share (recall on the diagonal)."),
        Figure("Training loss", "loss.png", "Mean over ranks and seeds, per imbalance strategy."),
        Figure("Validation scores", "scores.png", "Accuracy and macro-F1 with the seed spread as error bars."),
    ]
