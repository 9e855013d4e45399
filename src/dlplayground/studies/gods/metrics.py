"""Classification scores: accuracy (the competition's metric), macro-F1, per-class recall, confusion.

Scores are computed on the validation split at its natural class priors (never resampled), so accuracy is
what the leaderboard would see and macro-F1 / per-class recall show what the accuracy hides on the small
classes. A class absent from the validation labels has no recall (``None``), not a zero. Every number comes
from scikit-learn's metrics; this module only fixes the label order and the conventions above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score


@dataclass(frozen=True)
class ClassificationScores:
    """One model's scores on one labelled set; ``confusion[i][j]`` counts true class i predicted as j."""

    label_names: tuple[str, ...]
    accuracy: float
    macro_f1: float
    recall: tuple[float | None, ...]
    """Per class, in ``label_names`` order; None where the class has no validation example."""
    confusion: tuple[tuple[int, ...], ...]
    n: int
    """Labelled examples scored."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (for ``StudyResult.raw``)."""
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "recall": list(self.recall),
                "confusion": [list(row) for row in self.confusion], "n": self.n}


def classification_scores(
    y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str]
) -> ClassificationScores:
    """Score integer predictions against integer labels (indices into ``label_names``)."""
    t = np.asarray(y_true, dtype=int)
    p = np.asarray(y_pred, dtype=int)
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"need equally many labels and predictions (got {t.size} and {p.size}), at least one")
    labels = list(range(len(label_names)))
    cm = confusion_matrix(t, p, labels=labels)
    # zero_division=nan: a class with no true example has an undefined recall, recorded as None.
    recall = recall_score(t, p, labels=labels, average=None, zero_division=np.nan)
    # Macro-F1 over the classes that occur in truth or prediction; F1 of a class with no predictions is 0.
    seen = sorted(set(t.tolist()) | set(p.tolist()))
    macro_f1 = float(f1_score(t, p, labels=seen, average="macro", zero_division=0))
    return ClassificationScores(
        label_names=tuple(label_names), accuracy=float(accuracy_score(t, p)), macro_f1=macro_f1,
        recall=tuple(None if math.isnan(r) else float(r) for r in recall),
        confusion=tuple(tuple(int(v) for v in row) for row in cm), n=int(t.size),
    )
