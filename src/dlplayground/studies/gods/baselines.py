"""The two baselines every text model in the report is measured against.

Majority class: what accuracy rewards on imbalanced data without learning anything (scikit-learn's
``DummyClassifier``). TF-IDF + logistic regression: a strong, seconds-to-train bag-of-words model; a
Longformer that does not beat it is not earning its cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


def majority_predictions(train_labels: Sequence[int], n: int) -> list[int]:
    """Predict the most frequent training class ``n`` times (ties go to the lower class index)."""
    if n == 0:
        return []
    y = np.asarray(train_labels, dtype=int)
    # The dummy ignores its features; one constant column stands in for them.
    model = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y), 1)), y)
    return [int(v) for v in model.predict(np.zeros((n, 1)))]


def tfidf_logreg_predictions(
    train_texts: Sequence[str], train_labels: Sequence[int], texts: Sequence[str], seed: int = 0
) -> list[int]:
    """Fit word uni+bigram TF-IDF and a logistic regression on the training texts; predict ``texts``."""
    if not texts:
        return []
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    features = vectorizer.fit_transform(list(train_texts))
    model = LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(features, np.asarray(train_labels, dtype=int))
    return [int(v) for v in model.predict(vectorizer.transform(list(texts)))]
