"""What the run records: the headline metrics and the raw values behind every table and figure.

Metrics are the raw means per model (unrounded; the report rounds). ``raw_record`` holds every run's
scores, per-step losses, class mix fed and training time, the baselines' scores and the summaries, so a
reader can re-derive any table or figure, or re-analyse, without re-running.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from dlplayground.studies.gods.analysis import MAJORITY, TFIDF, ScoreSummary, longformer_name
from dlplayground.studies.gods.metrics import ClassificationScores
from dlplayground.studies.gods.runs import StrategyRun


def headline_metrics(
    summaries: dict[str, ScoreSummary], strategies: Sequence[str], best: str, *, world_size: int, precision: str,
    validation_examples: int, train_examples: int,
) -> dict[str, float | int | str | None]:
    """The result's metrics: raw means, one set per model, and the scale of the run."""
    top = summaries[longformer_name(best)]
    metrics: dict[str, float | int | str | None] = {
        "best_strategy": best,
        "accuracy_best_longformer": top.accuracy, "macro_f1_best_longformer": top.macro_f1,
        "accuracy_tfidf_logreg": summaries[TFIDF].accuracy, "macro_f1_tfidf_logreg": summaries[TFIDF].macro_f1,
        "accuracy_majority": summaries[MAJORITY].accuracy, "macro_f1_majority": summaries[MAJORITY].macro_f1,
    }
    for strategy in strategies:
        s = summaries[longformer_name(strategy)]
        key = strategy.replace("-", "_")
        metrics[f"accuracy_{key}"] = s.accuracy
        metrics[f"macro_f1_{key}"] = s.macro_f1
        metrics[f"train_s_{key}"] = s.train_s
    metrics.update(world_size=world_size, precision=precision, validation_examples=validation_examples,
                   train_examples=train_examples)
    return metrics


def raw_record(
    runs: Sequence[StrategyRun], summaries: dict[str, ScoreSummary], baselines: dict[str, ClassificationScores],
    best: StrategyRun, label_names: Sequence[str], train_counts: Sequence[int], val_counts: Sequence[int],
) -> dict[str, Any]:
    """Everything the tables and figures come from, as plain JSON: per-run scores, losses and class mix."""
    return {
        "best": {"strategy": best.strategy, "model": longformer_name(best.strategy), "seed": best.seed},
        "label_names": list(label_names),
        "train_class_counts": list(train_counts),
        "validation_class_counts": list(val_counts),
        "runs": [r.to_dict() for r in runs],
        "baselines": {name: scores.to_dict() for name, scores in baselines.items()},
        "summaries": {name: asdict(s) for name, s in summaries.items()},
    }
