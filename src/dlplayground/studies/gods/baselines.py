"""The two baselines every text model in the report is measured against.

Majority class: what accuracy rewards on imbalanced data without learning anything (scikit-learn's
``DummyClassifier``). TF-IDF + logistic regression: a strong, seconds-to-train bag-of-words model; a
Longformer that does not beat it is not earning its cost.

The TF-IDF baseline is tuned exactly like the Longformer: the same number of candidates (``tfidf_grid(n)``
with ``n`` = strategies x seeds of the Longformer), trained on the same inner training posts and selected
on the same inner validation posts of every fold. Its grid crosses the inverse regularisation strength
``C`` (log-spaced over ``TFIDF_C_RANGE``) with the class weight (none, or scikit-learn's "balanced",
``n / (k n_c)`` -- the counterpart of the Longformer's weighted loss): the two knobs that matter most for a
linear model on imbalanced text. Word uni- and bigrams with sublinear term frequency are fixed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

TFIDF_C_RANGE = (0.3, 30.0)
"""Smallest and largest ``C`` of the grid (log-spaced between; 1.0 alone for a grid of one or two)."""
CLASS_WEIGHTS = (None, "balanced")


def majority_predictions(train_labels: Sequence[int], n: int) -> list[int]:
    """Predict the most frequent training class ``n`` times (ties go to the lower class index)."""
    if n == 0:
        return []
    y = np.asarray(train_labels, dtype=int)
    # The dummy ignores its features; one constant column stands in for them.
    model = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y), 1)), y)
    return [int(v) for v in model.predict(np.zeros((n, 1)))]


@dataclass(frozen=True)
class TfidfSetting:
    """One TF-IDF + logistic-regression candidate."""

    c: float
    """Inverse L2 regularisation strength of the logistic regression."""
    class_weight: str | None
    """None (every post weighs 1) or "balanced" (each class weighs ``n / (k n_c)`` in total)."""

    @property
    def label(self) -> str:
        return f"C={self.c:.3g}, {'balanced' if self.class_weight else 'unweighted'}"


def tfidf_grid(budget: int) -> tuple[TfidfSetting, ...]:
    """``budget`` settings: ``ceil(budget / 2)`` values of C, each unweighted then balanced, cut to ``budget``."""
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    n_c = math.ceil(budget / 2)
    cs = [1.0] if n_c == 1 else np.geomspace(*TFIDF_C_RANGE, n_c).tolist()
    grid = [TfidfSetting(float(c), weight) for c in cs for weight in CLASS_WEIGHTS]
    return tuple(grid[:budget])


def fit_tfidf(texts: Sequence[str], labels: Sequence[int], setting: TfidfSetting) -> Pipeline:
    """Word uni+bigram TF-IDF and a logistic regression, fitted on ``texts`` only."""
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(C=setting.c, class_weight=setting.class_weight, max_iter=2000),
    )
    return model.fit(list(texts), np.asarray(labels, dtype=int))


def tfidf_probabilities(model: Pipeline, texts: Sequence[str], num_classes: int) -> np.ndarray:
    """Class probabilities, shape ``(len(texts), num_classes)``; a class training lacked gets 0."""
    out = np.zeros((len(texts), num_classes))
    if texts:
        out[:, model.classes_] = model.predict_proba(list(texts))
    return out
