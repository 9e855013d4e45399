"""From fold outcomes to findings: pooled out-of-fold predictions, scores with intervals, paired differences.

Each model's held-out predictions of all folds are pooled in the plan's scored order, so every scored post
has exactly one prediction per model (the argmax of the selected candidate's probabilities in the fold
that held it out). Scores are computed on the pooled posts at their natural class priors, each with a
bootstrap interval over posts (``comparison.score_interval``), and the models are compared pairwise on the
same posts (``comparison.compare_family``). The family of differences the verdict reads:

* full-context Longformer minus TF-IDF, in accuracy and in macro-F1;
* full-context Longformer minus its short-context twin, in accuracy and in macro-F1 (only when some post is
  longer than the short budget; otherwise the twin is not trained -- see ``context``);
* full-context Longformer minus the majority class, in accuracy (does it learn anything at all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlplayground.stats import Interval
from dlplayground.studies.gods.comparison import BootstrapPlan, PairedComparison, compare_family, score_interval
from dlplayground.studies.gods.context import LengthProfile
from dlplayground.studies.gods.metrics import ClassificationScores, classification_scores
from dlplayground.studies.gods.runs import FULL, MAJORITY, SHORT, TFIDF, FamilyOutcome

MODEL_ORDER = (MAJORITY, TFIDF, SHORT, FULL)


def model_names(full_length: int, short_length: int) -> dict[str, str]:
    """Display names of the four models (keys are the family ids used in the raw record)."""
    return {MAJORITY: "majority class", TFIDF: "TF-IDF + logistic regression",
            SHORT: f"Longformer, first {short_length} tokens", FULL: f"Longformer, full context ({full_length} tokens)"}


@dataclass(frozen=True)
class ModelResult:
    """One model's pooled out-of-fold predictions and scores."""

    key: str
    name: str
    predictions: tuple[int, ...]
    scores: ClassificationScores
    accuracy: Interval
    macro_f1: Interval
    chosen: tuple[str, ...]
    """The candidate selected in each fold."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "predictions": list(self.predictions), "scores": self.scores.to_dict(),
                "accuracy": self.accuracy.to_dict(), "macro_f1": self.macro_f1.to_dict(), "chosen": list(self.chosen)}


@dataclass(frozen=True)
class Findings:
    """Everything the verdict, tables and figures are computed from."""

    truth: tuple[int, ...]
    models: dict[str, ModelResult]
    """In ``MODEL_ORDER``; ``SHORT`` absent when the twin was not trained."""
    comparisons: tuple[PairedComparison, ...]
    lengths: LengthProfile
    folds: int
    illustrative: bool

    @property
    def n(self) -> int:
        return len(self.truth)

    @property
    def short_ran(self) -> bool:
        return SHORT in self.models

    def comparison(self, first: str, second: str, metric: str) -> PairedComparison | None:
        return next((c for c in self.comparisons if (c.first, c.second, c.metric) == (first, second, metric)), None)

    def chosen_strategies(self) -> Counter[str]:
        """How often each imbalance strategy won the full-context Longformer's inner selection."""
        return Counter(label.split(",")[0] for label in self.models[FULL].chosen)


def comparison_pairs(short_ran: bool) -> list[tuple[str, str, str]]:
    """The family of differences the verdict reads (module docstring), in reading order."""
    pairs = [(FULL, TFIDF, "accuracy"), (FULL, TFIDF, "macro_f1")]
    if short_ran:
        pairs += [(FULL, SHORT, "accuracy"), (FULL, SHORT, "macro_f1")]
    return [*pairs, (FULL, MAJORITY, "accuracy")]


def pooled_predictions(outcomes: Sequence[FamilyOutcome]) -> tuple[int, ...]:
    """The argmax of each fold's held-out probabilities, concatenated in fold order (the scored order)."""
    ordered = sorted(outcomes, key=lambda o: o.fold)
    return tuple(int(c) for o in ordered for c in o.held_out_probabilities.argmax(axis=1))


def analyse(truth: Sequence[int], outcomes: Mapping[str, Sequence[FamilyOutcome]], label_names: Sequence[str],
            names: Mapping[str, str], plan: BootstrapPlan, lengths: LengthProfile, *, illustrative: bool) -> Findings:
    """Pool, score with intervals, and compare the models on the scored posts."""
    k = len(label_names)
    models: dict[str, ModelResult] = {}
    for key in MODEL_ORDER:
        if key not in outcomes:
            continue
        predicted = pooled_predictions(outcomes[key])
        if len(predicted) != len(truth):
            raise ValueError(f"{key}: {len(predicted)} pooled predictions for {len(truth)} scored posts")
        models[key] = ModelResult(
            key=key, name=names[key], predictions=predicted,
            scores=classification_scores(truth, predicted, label_names),
            accuracy=score_interval(truth, predicted, "accuracy", k, plan),
            macro_f1=score_interval(truth, predicted, "macro_f1", k, plan),
            chosen=tuple(o.chosen_label for o in sorted(outcomes[key], key=lambda o: o.fold)),
        )
    pairs = comparison_pairs(SHORT in models)
    comparisons = compare_family(truth, {k_: m.predictions for k_, m in models.items()}, pairs, k, plan)
    folds = len(next(iter(outcomes.values())))
    return Findings(tuple(int(t) for t in truth), models, tuple(comparisons), lengths, folds, illustrative)


def class_mix(runs_fed: Sequence[Sequence[int]]) -> list[float]:
    """Share of each class among examples fed to training, pooled over the given runs' counts."""
    seen = np.sum(np.asarray(runs_fed, dtype=float), axis=0)
    return (seen / seen.sum()).tolist()
