"""The study's figures, the answer first: paired differences, token lengths, precision/processes, confusion, loss.

Figures are drawn on ``matplotlib.figure.Figure`` objects and saved directly (no pyplot state, no backend to
select), so drawing never opens a window and leaves nothing behind in the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure as MplFigure

from dlplayground.results import Figure
from dlplayground.studies.gods.analysis import Findings
from dlplayground.studies.gods.comparison import METRIC_NAMES, METRICS
from dlplayground.studies.gods.efficiency import EfficiencyRow
from dlplayground.studies.gods.metrics import ClassificationScores
from dlplayground.studies.gods.runs import FULL, TFIDF, CandidateRun

DPI = 120


def plot_differences(path: Path, findings: Findings) -> None:
    """One row per comparison, one panel per metric: the difference and its simultaneous interval."""
    fig = MplFigure(figsize=(9.0, 0.6 + 0.55 * len({(c.first, c.second) for c in findings.comparisons}) + 1.2))
    axes = fig.subplots(1, len(METRICS), squeeze=False)[0]
    names = {k: m.name for k, m in findings.models.items()}
    pairs = list(dict.fromkeys((c.first, c.second) for c in findings.comparisons))
    for ax, metric in zip(axes, METRICS, strict=True):
        for y, (first, second) in enumerate(pairs):
            c = findings.comparison(first, second, metric)
            if c is None:
                continue
            d = c.difference
            color = "tab:green" if d.sign > 0 else "tab:red" if d.sign < 0 else "tab:gray"
            ax.errorbar(d.estimate, y, xerr=[[d.estimate - d.low], [d.high - d.estimate]], fmt="o", color=color,
                        capsize=4)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(pairs)), [f"{names[a]}\nminus {names[b]}" for a, b in pairs] if ax is axes[0] else
                      [""] * len(pairs))
        ax.set_ylim(-0.6, len(pairs) - 0.4)
        ax.invert_yaxis()
        ax.set_xlabel(f"difference in {METRIC_NAMES[metric]}")
    fig.suptitle("Held-out paired differences (green/red: interval excludes 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def plot_token_lengths(path: Path, findings: Findings) -> None:
    """Histogram of tokens per held-out post, with the short and full context lengths marked."""
    lengths = findings.lengths
    fig = MplFigure(figsize=(6.4, 3.6))
    ax = fig.subplots()
    values = np.asarray(lengths.lengths)
    ax.hist(values, bins=min(40, max(5, len(set(values.tolist())))), color="tab:blue", alpha=0.8)
    ax.axvline(lengths.short_length, color="tab:orange", ls="--", label=f"short twin: {lengths.short_length} tokens")
    if lengths.full_length <= max(values.max(initial=0), lengths.short_length) * 1.5:
        ax.axvline(lengths.full_length, color="tab:red", ls="--", label=f"full context: {lengths.full_length} tokens")
    else:
        ax.plot([], [], " ", label=f"full context: {lengths.full_length} tokens (off the axis)")
    ax.set_xlabel("tokens per post (untruncated)")
    ax.set_ylabel("posts")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def plot_efficiency(path: Path, rows: Sequence[EfficiencyRow]) -> None:
    """Examples/s (block range as error bars) and peak-memory growth per measured configuration."""
    done = [r for r in rows if r.measured]
    fig = MplFigure(figsize=(8.0, 3.6))
    ax_speed, ax_memory = fig.subplots(1, 2)
    x = np.arange(len(done))
    rates = np.asarray([r.examples_per_s for r in done])
    low = rates - np.asarray([min(r.block_examples_per_s) for r in done]) if done else rates
    high = np.asarray([max(r.block_examples_per_s) for r in done]) - rates if done else rates
    ax_speed.bar(x, rates, yerr=[low, high], capsize=4, color="tab:blue")
    again = [(i, r.remeasured_examples_per_s) for i, r in enumerate(done) if r.remeasured_block_examples_per_s]
    if again:
        ax_speed.plot(*zip(*again, strict=True), "D", color="tab:orange", label="reference re-measured last")
        ax_speed.legend(fontsize=8)
    ax_speed.set_ylabel("examples/s (bars: slowest-fastest block)")
    growth = [(r.memory_growth_bytes or 0) / 2**20 for r in done]
    ax_memory.bar(x, growth, color="tab:purple")
    ax_memory.set_ylabel("peak memory growth in training (MiB)")
    for ax in (ax_speed, ax_memory):
        ax.set_xticks(x, [r.label for r in done], rotation=20, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


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


def plot_training_losses(path: Path, runs: Sequence[CandidateRun], strategies: Sequence[str]) -> None:
    """Per strategy, the full-context candidates' training loss per step, averaged over folds and repeats."""
    fig = MplFigure(figsize=(6.4, 3.8))
    ax = fig.subplots()
    for strategy in strategies:
        curves = [r.log.losses for r in runs if r.candidate.strategy == strategy and r.family == FULL]
        if curves:
            mean = np.mean(np.asarray(curves), axis=0)
            ax.plot(np.arange(1, len(mean) + 1), mean, label=strategy)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean over ranks, folds, repeats)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def draw_figures(out_dir: Path, findings: Findings, efficiency: Sequence[EfficiencyRow], runs: Sequence[CandidateRun],
                 strategies: Sequence[str]) -> list[Figure]:
    """Write the figures into ``out_dir`` and return their records, the lead figure first."""
    plot_differences(out_dir / "differences.png", findings)
    figures = [Figure("Paired differences on the held-out posts", "differences.png",
                      "Each model pair on the same posts; intervals simultaneous over the family, the verdict calls a "
                      "difference only where its interval excludes 0.")]
    plot_token_lengths(out_dir / "token_lengths.png", findings)
    figures.append(Figure("Token lengths", "token_lengths.png",
                          "Untruncated tokens per held-out post against the short twin's and the full context length."))
    if any(r.measured for r in efficiency):
        plot_efficiency(out_dir / "efficiency.png", efficiency)
        figures.append(Figure("Mixed precision and processes", "efficiency.png",
                              "Same training per configuration, fresh processes each; see the table for accuracy."))
    models = findings.models
    plot_confusion_matrices(out_dir / "confusion.png", [(models[TFIDF].name, models[TFIDF].scores),
                                                        (models[FULL].name, models[FULL].scores)])
    figures.append(Figure("Confusion matrices", "confusion.png",
                          "Pooled held-out predictions; rows are the true class, shade is the row share."))
    plot_training_losses(out_dir / "loss.png", runs, strategies)
    figures.append(Figure("Training loss", "loss.png", "Full-context candidates, mean over folds and repeats."))
    return figures
