"""From runs to findings: each model's mean and seed spread, the best strategy, the class mix fed.

A Longformer strategy is summarised over its seeds (mean and sample sd); the two baselines are
deterministic, so their sd is 0. The best strategy is the one with the highest mean validation accuracy
(the competition's metric), macro-F1 breaking ties; its best seed provides the confusion matrix and the
submission.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from dlplayground.studies.gods.metrics import ClassificationScores
from dlplayground.studies.gods.runs import StrategyRun

MAJORITY = "majority class"
TFIDF = "tfidf+logreg"


def longformer_name(strategy: str) -> str:
    """The model's name in tables and figures for a Longformer trained under ``strategy``."""
    return f"longformer/{strategy}"


@dataclass(frozen=True)
class ScoreSummary:
    """Mean and spread of one model's validation scores over its runs."""

    name: str
    accuracy: float
    accuracy_sd: float
    """Sample standard deviation over seeds (0 with one run)."""
    macro_f1: float
    macro_f1_sd: float
    recall: tuple[float | None, ...]
    """Mean per-class recall over the runs where the class had validation examples."""
    train_s: float | None
    """Mean training seconds per run; None for the baselines (not timed)."""
    runs: int


def _sd(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise_scores(name: str, scores: Sequence[ClassificationScores], train_s: float | None = None) -> ScoreSummary:
    """Mean and sd over ``scores`` (one per run)."""
    recalls = []
    for i in range(len(scores[0].recall)):
        values = [s.recall[i] for s in scores if s.recall[i] is not None]
        recalls.append(statistics.fmean(values) if values else None)
    accuracies, f1s = [s.accuracy for s in scores], [s.macro_f1 for s in scores]
    return ScoreSummary(
        name=name, accuracy=statistics.fmean(accuracies), accuracy_sd=_sd(accuracies),
        macro_f1=statistics.fmean(f1s), macro_f1_sd=_sd(f1s), recall=tuple(recalls), train_s=train_s,
        runs=len(scores),
    )


def summarise_models(
    runs: Sequence[StrategyRun], strategies: Sequence[str], majority: ClassificationScores,
    tfidf: ClassificationScores,
) -> dict[str, ScoreSummary]:
    """Summaries keyed by model name: the two baselines first, then one per strategy in order."""
    summaries = {MAJORITY: summarise_scores(MAJORITY, [majority]), TFIDF: summarise_scores(TFIDF, [tfidf])}
    for strategy in strategies:
        mine = [r for r in runs if r.strategy == strategy]
        name = longformer_name(strategy)
        summaries[name] = summarise_scores(name, [r.scores for r in mine],
                                           statistics.fmean(r.log.seconds for r in mine))
    return summaries


def best_strategy(summaries: dict[str, ScoreSummary], strategies: Sequence[str]) -> str:
    """The strategy with the highest mean accuracy (macro-F1 breaks ties)."""
    return max(strategies, key=lambda s: (summaries[longformer_name(s)].accuracy,
                                          summaries[longformer_name(s)].macro_f1))


def best_run(runs: Sequence[StrategyRun], strategy: str) -> StrategyRun:
    """The seed of ``strategy`` that scored best (accuracy, then macro-F1)."""
    return max((r for r in runs if r.strategy == strategy), key=lambda r: (r.scores.accuracy, r.scores.macro_f1))


def class_mix(runs: Sequence[StrategyRun], strategy: str) -> list[float]:
    """Share of each class among the examples ``strategy`` fed to training, pooled over ranks and seeds."""
    seen = [sum(r.log.seen_per_class[c] for r in runs if r.strategy == strategy)
            for c in range(len(runs[0].log.seen_per_class))]
    total = sum(seen)
    return [n / total for n in seen]
