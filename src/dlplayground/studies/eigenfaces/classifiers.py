"""The models: whitened PCA + logistic regression or RBF SVC, and the no-PCA and shortcut baselines.

Every model is a ``GridSearchCV`` over stratified folds, scored on ROC-AUC *and* balanced accuracy and
refitted on the candidate with the best sum of the two (``auc_plus_balanced_accuracy``). All are class-
balanced, so a larger non-face class cannot win by calling everything a non-face.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from dlplayground.studies.eigenfaces.config import SearchGrids

SCORING = ("roc_auc", "balanced_accuracy")


def stratified_folds(grids: SearchGrids, seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=grids.folds, shuffle=True, random_state=seed)


def balanced_logistic(C: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=5000, class_weight="balanced")


def auc_plus_balanced_accuracy(cv_results: Mapping[str, np.ndarray]) -> int:
    """Refit rule: the candidate with the best CV ROC-AUC + balanced accuracy.

    ROC-AUC alone ignores the decision threshold: an RBF SVC with a tiny kernel width can rank every
    image correctly yet call them all non-faces (balanced accuracy 0.5). Adding balanced accuracy picks
    models whose predictions, not only their rankings, are good.
    """
    total = np.asarray(cv_results["mean_test_roc_auc"]) + np.asarray(cv_results["mean_test_balanced_accuracy"])
    return int(np.argmax(np.nan_to_num(total, nan=-np.inf)))


def _search(estimator, grid: Mapping[str, list], grids: SearchGrids, seed: int) -> GridSearchCV:
    return GridSearchCV(estimator, dict(grid), scoring=list(SCORING), refit=auc_plus_balanced_accuracy,
                        cv=stratified_folds(grids, seed))


def whitened_pca(n_components: int, seed: int) -> PCA:
    """PCA keeping ``n_components``, whitened (unit variance per component); full SVD, deterministic."""
    return PCA(n_components=n_components, whiten=True, svd_solver="full", random_state=seed)


def pca_logistic(n_components: int, grids: SearchGrids, seed: int) -> GridSearchCV:
    """Whitened PCA (k fixed by the variance rule) + logistic regression; C by CV."""
    pipe = Pipeline([("pca", whitened_pca(n_components, seed)), ("clf", balanced_logistic())])
    return _search(pipe, {"clf__C": list(grids.logistic_C)}, grids, seed)


def pca_svc(n_components: int, grids: SearchGrids, seed: int) -> GridSearchCV:
    """Whitened PCA + RBF support-vector classifier, C and gamma chosen by CV."""
    pipe = Pipeline([("pca", whitened_pca(n_components, seed)),
                     ("clf", SVC(kernel="rbf", class_weight="balanced"))])
    grid = {"clf__C": list(grids.svc_C), "clf__gamma": [g / n_components for g in grids.svc_gamma_scale]}
    return _search(pipe, grid, grids, seed)


def raw_pixel_logistic(grids: SearchGrids, seed: int) -> GridSearchCV:
    """The no-PCA baseline: logistic regression on every (standardised) pixel."""
    pipe = Pipeline([("scale", StandardScaler()), ("clf", balanced_logistic())])
    return _search(pipe, {"clf__C": list(grids.logistic_C)}, grids, seed)


def shortcut_logistic(grids: SearchGrids, seed: int) -> GridSearchCV:
    """Logistic regression on the trivial image statistics (``shortcut.shortcut_features``)."""
    pipe = Pipeline([("scale", StandardScaler()), ("clf", balanced_logistic())])
    return _search(pipe, {"clf__C": list(grids.logistic_C)}, grids, seed)


def shortcut_forest(grids: SearchGrids, seed: int) -> GridSearchCV:
    """A random forest on the trivial statistics: catches non-linear combinations (e.g. dark *and* smooth)."""
    forest = RandomForestClassifier(n_estimators=grids.forest_trees, random_state=seed, n_jobs=1,
                                    class_weight="balanced")
    return _search(forest, {"min_samples_leaf": [1, 5]}, grids, seed)
