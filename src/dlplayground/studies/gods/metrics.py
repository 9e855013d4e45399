"""Classification scores: accuracy (the competition's metric), macro-F1, per-class recall, confusion.

Scores are computed on the validation split at its natural class priors (never resampled), so accuracy is
what the leaderboard would see and macro-F1 / per-class recall show what the accuracy hides on the small
classes. A class absent from the validation labels has no recall (``None``), not a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score


@dataclass(frozen=True)
class ClassificationScores:
    """One model's scores on one labelled set; ``confusion[i][j]`` counts true class i predicted as j."""

    label_names: tuple[str, ...]
    accuracy: float
    macro_f1: float
    recall: tuple[float | None, ...]
    confusion: tuple[tuple[int, ...], ...]
    n: int


def score(y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str]) -> ClassificationScores:
    """Score integer predictions against integer labels (indices into ``label_names``)."""
    t = np.asarray(y_true, dtype=int)
    p = np.asarray(y_pred, dtype=int)
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"need equally many labels and predictions (got {t.size} and {p.size}), at least one")
    k = len(label_names)
    cm = confusion_matrix(t, p, labels=list(range(k)))
    support = cm.sum(axis=1)
    recall = tuple(float(cm[i, i] / support[i]) if support[i] else None for i in range(k))
    # Macro-F1 over the classes that occur in truth or prediction; F1 of a class with no predictions is 0.
    seen = sorted(set(t.tolist()) | set(p.tolist()))
    macro_f1 = float(f1_score(t, p, labels=seen, average="macro", zero_division=0))
    return ClassificationScores(
        label_names=tuple(label_names), accuracy=float((t == p).mean()), macro_f1=macro_f1, recall=recall,
        confusion=tuple(tuple(int(v) for v in row) for row in cm), n=int(t.size),
    )
