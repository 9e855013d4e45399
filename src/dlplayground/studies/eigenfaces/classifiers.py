"""The models: the eigenface classifier (whitened PCA + logistic regression or RBF SVC), and the raw-pixel and
shortcut baselines.

Every model is a ``GridSearchCV`` over stratified inner folds of its own training set, scored on ROC-AUC *and*
balanced accuracy and refitted on the candidate with the best sum of the two (``auc_plus_balanced_accuracy``).
The eigenface classifier's grid holds both families, so the inner CV -- never a test fold -- picks logistic
regression or the SVC, and their hyper-parameters, for every training set anew. All are class-balanced, so a
larger non-face class cannot win by calling everything a non-face.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from dlplayground.studies.eigenfaces.config import SearchGrids

SCORING = ("roc_auc", "balanced_accuracy")
EIGENFACES = "eigenface classifier"
RAW_PIXELS = "raw pixels + logistic"
SHORTCUT = "shortcut: trivial statistics"
DFFS = "distance from face space"
TRAINED_METHODS = (EIGENFACES, RAW_PIXELS, SHORTCUT)
"""The methods trained against non-faces (one model per training set); ``DFFS`` is trained on faces only."""


def stratified_folds(grids: SearchGrids, seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=grids.folds, shuffle=True, random_state=seed)


def balanced_logistic(C: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=5000, class_weight="balanced")


def whitened_pca(n_components: int | float, seed: int) -> PCA:
    """PCA keeping ``n_components`` (a count, or a variance share), whitened (unit variance per component)."""
    return PCA(n_components=n_components, whiten=True, svd_solver="full", random_state=seed)


def auc_plus_balanced_accuracy(cv_results: Mapping[str, np.ndarray]) -> int:
    """Refit rule: the candidate with the best CV ROC-AUC + balanced accuracy.

    ROC-AUC alone ignores the decision threshold: an RBF SVC with a tiny kernel width can rank every
    image correctly yet call them all non-faces (balanced accuracy 0.5). Adding balanced accuracy picks
    models whose predictions, not only their rankings, are good.
    """
    total = np.asarray(cv_results["mean_test_roc_auc"]) + np.asarray(cv_results["mean_test_balanced_accuracy"])
    return int(np.argmax(np.nan_to_num(total, nan=-np.inf)))


def _search(estimator, grid: Mapping[str, list] | list[Mapping[str, list]], grids: SearchGrids,
            seed: int) -> GridSearchCV:
    grid = [dict(g) for g in grid] if isinstance(grid, list) else dict(grid)
    return GridSearchCV(estimator, grid, scoring=list(SCORING), refit=auc_plus_balanced_accuracy,
                        cv=stratified_folds(grids, seed))


def eigenface_search(n_components: int, grids: SearchGrids, seed: int) -> GridSearchCV:
    """On whitened PCA(k) projections: logistic regression (C) or an RBF SVC (C, gamma), picked by inner CV."""
    grid = [
        {"clf": [balanced_logistic()], "clf__C": list(grids.logistic_C)},
        {"clf": [SVC(kernel="rbf", class_weight="balanced")], "clf__C": list(grids.svc_C),
         "clf__gamma": [g / n_components for g in grids.svc_gamma_scale]},
    ]
    return _search(Pipeline([("clf", balanced_logistic())]), grid, grids, seed)


def scaled_logistic_search(grids: SearchGrids, seed: int) -> GridSearchCV:
    """Standardised features + logistic regression, C by inner CV: the raw-pixel and the shortcut baselines."""
    pipe = Pipeline([("scale", StandardScaler()), ("clf", balanced_logistic())])
    return _search(pipe, {"clf__C": list(grids.logistic_C)}, grids, seed)


@dataclass(frozen=True)
class FittedScores:
    """One model fitted on one training set: its scores on the fold's test images and what the search chose."""

    scores: np.ndarray
    """Continuous scores of the test images (larger = more face-like)."""
    cv_roc_auc: float
    """Inner-CV ROC-AUC of the chosen candidate (training data only)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The chosen hyper-parameters (``family``, ``C``, ``gamma``; ``k`` for the eigenface classifier)."""


def _chosen(search: GridSearchCV) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in sorted(search.best_params_.items()):
        if key == "clf":
            params["family"] = "SVC" if isinstance(value, SVC) else "logistic"
        else:
            params[key.split("__")[-1]] = float(value)
    return params


def fit_search_and_score(search: GridSearchCV, X_train: np.ndarray, y_train: np.ndarray,
                         X_test: np.ndarray) -> FittedScores:
    """Fit a grid search on the training set and score the test images with its refitted best model."""
    search.fit(X_train, y_train)
    scores = search.best_estimator_.decision_function(X_test)
    return FittedScores(np.asarray(scores, dtype=float),
                        float(search.cv_results_["mean_test_roc_auc"][search.best_index_]), _chosen(search))


def inner_grids(grids: SearchGrids, y_train: np.ndarray) -> SearchGrids:
    """The grids with at most as many inner folds as the smaller training class has images (at least 2)."""
    smallest = int(np.bincount(y_train, minlength=2).min())
    return grids if smallest >= grids.folds else replace(grids, folds=max(2, smallest))
