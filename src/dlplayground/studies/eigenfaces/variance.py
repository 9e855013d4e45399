"""The explained-variance rule that picks k, the curve behind it, and the sweep that shows what k costs.

k is scikit-learn's own rule: ``PCA(n_components=target)`` keeps the fewest components whose cumulative
explained-variance share exceeds ``target``. The full curve is kept for the figure and the diagnostic sweep,
which scores other targets by cross-validation on the training set but never picks k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

from dlplayground.studies.eigenfaces.classifiers import balanced_logistic, stratified_folds, whitened_pca
from dlplayground.studies.eigenfaces.config import SearchGrids

ROUND_OFF = 1e-12
"""A target of 1.0 ("all the variance") is asked of scikit-learn as 1 - ROUND_OFF: it takes a share strictly
inside (0, 1), and components that only carry floating-point round-off are not worth whitening."""


def _share(target: float) -> float:
    if not 0.0 < target <= 1.0:
        raise ValueError(f"explained-variance target must be in (0, 1], got {target}")
    return min(float(target), 1.0 - ROUND_OFF)


def n_components_for_variance(X: np.ndarray, target: float, seed: int = 0) -> int:
    """The number of components ``PCA(n_components=target)`` keeps on ``X`` (rows = images)."""
    return int(PCA(n_components=_share(target), svd_solver="full", random_state=seed).fit(X).n_components_)


def fit_whitened_pca(X: np.ndarray, target: float, seed: int = 0) -> PCA:
    """Whitened PCA fitted on ``X`` keeping the components the explained-variance rule picks for ``target``."""
    return whitened_pca(_share(target), seed).fit(X)


@dataclass(frozen=True)
class VarianceCurve:
    """The explained-variance ratios of a PCA fitted with every component, and the rule's pick."""

    ratios: np.ndarray
    target: float
    n_components: int

    @property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(self.ratios)


def variance_curve(X: np.ndarray, target: float, seed: int = 0) -> VarianceCurve:
    """The full explained-variance curve of ``X`` and the k the rule picks for ``target``."""
    ratios = PCA(svd_solver="full", random_state=seed).fit(X).explained_variance_ratio_
    return VarianceCurve(ratios=ratios, target=target, n_components=n_components_for_variance(X, target, seed))


def max_components_in_cv(n_train: int, n_features: int, folds: int) -> int:
    """The most components a PCA can keep when fitted inside every CV training fold (with a margin of 2 for
    stratified folds of unequal size): a larger k from the variance rule is capped to this."""
    return max(1, min(n_features, n_train - -(-n_train // folds) - 2))


@dataclass(frozen=True)
class SweepPoint:
    """One explained-variance target of the sweep: its k and the per-fold CV ROC-AUC at that k."""

    target: float
    n_components: int
    explained_variance: float
    """Cumulative explained-variance share at ``n_components``."""
    fold_roc_aucs: tuple[float, ...]

    @property
    def cv_roc_auc(self) -> float:
        return float(np.mean(self.fold_roc_aucs))


def variance_sweep(
    X: np.ndarray, y: np.ndarray, curve: VarianceCurve, targets: Sequence[float], grids: SearchGrids, seed: int,
) -> list[SweepPoint]:
    """Whitened PCA(k) + logistic regression (C = 1) scored by CV for each target's k (capped to fit the folds).

    Diagnostic only: k for the headline models comes from the rule, never from this sweep.
    """
    points = []
    cap = max_components_in_cv(len(X), X.shape[1], grids.folds)
    for target in sorted(set(targets)):
        k = min(n_components_for_variance(X, target, seed), cap)
        pipe = Pipeline([("pca", whitened_pca(k, seed)), ("clf", balanced_logistic())])
        scores = cross_val_score(pipe, X, y, scoring="roc_auc", cv=stratified_folds(grids, seed))
        points.append(SweepPoint(float(target), k, float(curve.cumulative[k - 1]), tuple(float(s) for s in scores)))
    return points
