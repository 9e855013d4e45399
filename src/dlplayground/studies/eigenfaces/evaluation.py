"""Held-out evaluation: each method's test metrics, and bootstrap intervals for the AUCs and the gain.

ROC-AUC and PR-AUC (average precision) come from continuous scores, balanced accuracy and the confusion
matrix from each method's own predictions. The intervals come from ``dlplayground.stats.bootstrap`` over
the test images with faces and non-faces resampled separately (``paired=False`` over the two groups: the
test set's class sizes stay fixed). Every call uses the same seed and arrays, so every method's AUC and the
gain of one method over another are computed on the same resamples: the gain's interval accounts for
the correlation between the two methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.base import clone
from sklearn.metrics import average_precision_score, balanced_accuracy_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import GridSearchCV

from dlplayground.stats import Interval, bootstrap
from dlplayground.studies.eigenfaces.images import FACE, NONFACE


@dataclass(frozen=True)
class MethodResult:
    """One method's held-out performance; ``scores`` are continuous (larger = more face-like)."""

    name: str
    description: str
    scores: np.ndarray
    predictions: np.ndarray
    roc_auc: float
    pr_auc: float
    balanced_accuracy: float
    confusion: np.ndarray
    cv_roc_auc: float | None = None
    """Mean CV ROC-AUC of the chosen candidate on the training set (None: no grid search)."""
    cv_fold_scores: dict[str, list[float]] = field(default_factory=dict)
    """Per-fold CV scores of the chosen candidate, by scoring name (``roc_auc``, ``balanced_accuracy``)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The chosen hyper-parameters (or the detector's threshold), raw values."""

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """(true negatives, false positives, false negatives, true positives) on the test set."""
        tn, fp, fn, tp = (int(v) for v in self.confusion.ravel())
        return tn, fp, fn, tp


def score_on_test(
    name: str, description: str, y_test: np.ndarray, scores: np.ndarray, predictions: np.ndarray,
    *, cv_roc_auc: float | None = None, cv_fold_scores: Mapping[str, list[float]] | None = None,
    params: Mapping[str, Any] | None = None,
) -> MethodResult:
    """Held-out metrics: ROC-AUC and PR-AUC (average precision) from scores, the rest from predictions."""
    return MethodResult(
        name=name, description=description, scores=np.asarray(scores, dtype=float),
        predictions=np.asarray(predictions, dtype=int),
        roc_auc=float(roc_auc_score(y_test, scores)), pr_auc=float(average_precision_score(y_test, scores)),
        balanced_accuracy=float(balanced_accuracy_score(y_test, predictions)),
        confusion=confusion_matrix(y_test, predictions, labels=[NONFACE, FACE]),
        cv_roc_auc=cv_roc_auc, cv_fold_scores=dict(cv_fold_scores or {}), params=dict(params or {}),
    )


def fit_search_and_score(
    name: str, description: str, search: GridSearchCV, X_train: np.ndarray, y_train: np.ndarray,
    X_test: np.ndarray, y_test: np.ndarray,
) -> MethodResult:
    """Fit a grid search on the training set and score its refitted best model on the test set."""
    search = clone(search).fit(X_train, y_train)
    model = search.best_estimator_
    scores = model.decision_function(X_test) if hasattr(model, "decision_function") else (
        model.predict_proba(X_test)[:, 1])
    best, results = search.best_index_, search.cv_results_
    folds = search.n_splits_
    fold_scores = {metric: [float(results[f"split{i}_test_{metric}"][best]) for i in range(folds)]
                   for metric in ("roc_auc", "balanced_accuracy")}
    params = {key.split("__")[-1]: value for key, value in sorted(search.best_params_.items())}
    return score_on_test(name, description, y_test, scores, model.predict(X_test),
                         cv_roc_auc=float(results["mean_test_roc_auc"][best]), cv_fold_scores=fold_scores,
                         params=params)


def rank_auc(face_scores: np.ndarray, nonface_scores: np.ndarray) -> np.ndarray:
    """ROC-AUC along the last axis (Mann-Whitney U / (n_faces * n_nonfaces); ties count half)."""
    u = mannwhitneyu(face_scores, nonface_scores, axis=-1, method="asymptotic").statistic
    return np.asarray(u, dtype=float) / (face_scores.shape[-1] * nonface_scores.shape[-1])


@dataclass(frozen=True)
class AUCIntervals:
    """Bootstrap intervals of each method's test ROC-AUC and of the gain ``pair[0] - pair[1]``."""

    per_method: dict[str, Interval]
    gain: Interval
    pair: tuple[str, str]
    seed: int

    def settings(self) -> dict[str, Any]:
        """How the intervals were made, for the record."""
        return {"resamples": self.gain.resamples, "level": self.gain.level, "seed": self.seed,
                "method": "percentile", "unit": "test image",
                "scheme": "faces and non-faces resampled separately (paired=False over the two classes); "
                          "every method and the gain on the same resamples"}


def auc_intervals(
    y_test: np.ndarray, scores: Mapping[str, np.ndarray], pair: tuple[str, str], *, resamples: int, level: float,
    seed: int,
) -> AUCIntervals:
    """Intervals for each method's ROC-AUC and for the paired difference ``pair[0] - pair[1]``."""
    names = list(scores)
    matrix = np.column_stack([np.asarray(scores[name], dtype=float) for name in names])
    groups = (matrix[y_test == FACE], matrix[y_test == NONFACE])  # (n_faces, methods), (n_nonfaces, methods)

    def auc_of(j: int):
        return lambda faces, nonfaces: rank_auc(faces[..., j], nonfaces[..., j])

    def boot(statistic) -> Interval:
        return bootstrap(groups, statistic, paired=False, resamples=resamples, level=level, seed=seed)

    first, second = auc_of(names.index(pair[0])), auc_of(names.index(pair[1]))
    return AUCIntervals(
        per_method={name: boot(auc_of(j)) for j, name in enumerate(names)},
        gain=boot(lambda faces, nonfaces: first(faces, nonfaces) - second(faces, nonfaces)),
        pair=pair, seed=seed,
    )
