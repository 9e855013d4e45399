"""The analysis: every predictor against every target across the population, with bootstrap intervals.

For each (predictor, target) pair: Spearman and Kendall correlations, the Spearman partial correlation given
the training dropout rate (the obvious confound: it trains a model to tolerate dropout and may make it robust
to pruning) and given every design factor with group indicators (the whole recipe). All four of a pair use
one seed, so their bootstrap intervals come from the same resampled populations. The primary predictor is
also correlated within each dataset/architecture group, where differences between groups cannot drive it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dlplayground.studies.dropout.config import MIN_POPULATION
from dlplayground.studies.dropout.correlation import Correlation, correlate
from dlplayground.studies.dropout.measurement import MemberResult

PRIMARY = "eval-dropout AUC (native)"
PREDICTORS: dict[str, Callable[[MemberResult], float]] = {
    PRIMARY: lambda r: r.native.auc,
    "eval-dropout AUC (inserted)": lambda r: r.inserted.auc,
    "generalisation gap": lambda r: r.gap,
    "weight norm": lambda r: r.weight_norm,
    "random-pruning robustness": lambda r: r.random_prune_robustness,
    "random score": lambda r: r.random_score,
}
TARGETS: dict[str, Callable[[MemberResult], float]] = {
    "prunability (one-shot)": lambda r: r.prune_sparsity,
    "prunability (fine-tuned)": lambda r: r.prune_sparsity_finetuned,
    "distillability": lambda r: r.distillability,
    "distillation gain": lambda r: r.distillation_gain,
}
# The three targets; "distillation gain" is a secondary reading of distillability (see the docstring).
MAIN_TARGETS = ("prunability (one-shot)", "prunability (fine-tuned)", "distillability")
BASELINES = ("generalisation gap", "weight norm", "random-pruning robustness")
# Confound columns for the partial correlations; training dropout first (the single-confound partial).
CONFOUND_FACTORS = ("dropout", "label_noise", "train_fraction", "weight_decay", "width", "train_steps")


@dataclass(frozen=True)
class PairResult:
    """The correlations of one predictor with one target."""

    predictor: str
    target: str
    spearman: Correlation
    kendall: Correlation
    partial: Correlation  # Spearman partial, controlling for the training dropout rate
    partial_all: Correlation  # Spearman partial, controlling for every design factor and the group


@dataclass(frozen=True)
class GroupCorrelation:
    """The primary predictor's Spearman correlation with one target within one dataset/architecture group."""

    group: str
    target: str
    spearman: Correlation


def column(results: Sequence[MemberResult], value: Callable[[MemberResult], float]) -> np.ndarray:
    """One measurement of every model, as floats (NaN where undefined)."""
    return np.array([value(r) for r in results], dtype=float)


def design_confounds(results: Sequence[MemberResult]) -> np.ndarray:
    """Every design factor as a column (groups as indicators), training dropout first."""
    cols = [column(results, lambda r, f=f: getattr(r.member, f)) for f in CONFOUND_FACTORS]
    groups = sorted({r.member.group for r in results})
    cols += [column(results, lambda r, g=g: float(r.member.group == g)) for g in groups[1:]]
    return np.column_stack(cols)


def correlate_pairs(results: Sequence[MemberResult], *, resamples: int, level: float, seed: int) -> list[PairResult]:
    """Every predictor against every target (models where either is undefined are left out of that pair).

    Pair ``(j, k)`` bootstraps with seed ``seed + 100 j + k``, the same for its four correlations.
    """
    confounds = design_confounds(results)
    pairs = []
    for j, (pname, pvalue) in enumerate(PREDICTORS.items()):
        for k, (tname, tvalue) in enumerate(TARGETS.items()):
            x, y = column(results, pvalue), column(results, tvalue)
            ok = np.isfinite(x) & np.isfinite(y)
            x, y, z = x[ok], y[ok], confounds[ok]
            options = {"n_boot": resamples, "confidence": level, "seed": seed + 100 * j + k}
            pairs.append(PairResult(
                pname, tname,
                correlate(x, y, "spearman", **options),
                correlate(x, y, "kendall", **options),
                correlate(x, y, "partial_spearman", confound=z[:, 0], **options),
                correlate(x, y, "partial_spearman", confound=z, **options),
            ))
    return pairs


def within_group_correlations(results: Sequence[MemberResult], *, resamples: int, level: float,
                              seed: int) -> list[GroupCorrelation]:
    """The primary predictor's Spearman correlation with each target within each group of >= 8 models."""
    out = []
    x_all = column(results, PREDICTORS[PRIMARY])
    groups = sorted({r.member.group for r in results})
    for k, (tname, tvalue) in enumerate(TARGETS.items()):
        y_all = column(results, tvalue)
        ok = np.isfinite(x_all) & np.isfinite(y_all)
        for g in groups:
            sel = ok & np.array([r.member.group == g for r in results])
            if sel.sum() < MIN_POPULATION:
                continue
            c = correlate(x_all[sel], y_all[sel], "spearman", n_boot=resamples, confidence=level, seed=seed + k)
            out.append(GroupCorrelation(g, tname, c))
    return out
