"""Turk & Pentland's distance-from-face-space detector: eigenfaces fitted on faces only, no non-face training.

A face is close to the span of the eigenfaces; the score is minus the squared reconstruction error, so
larger = more face-like. It answers a different question from the classifiers: how far does a model of
faces alone get?
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import roc_curve
from sklearn.model_selection import KFold

from dlplayground.studies.eigenfaces.images import FACE, NONFACE
from dlplayground.studies.eigenfaces.variance import VarianceCurve, variance_curve

TIE_TOLERANCE = 1e-12


def balanced_accuracy_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (face when score >= t) that maximises balanced accuracy on (labels, scores).

    Balanced accuracy is (TPR + 1 - FPR) / 2, so the best threshold on the ROC curve is the one maximising
    TPR - FPR (Youden's J). Among equally good thresholds the lowest is kept.
    """
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    youden = tpr - fpr
    best = np.nonzero(youden >= youden.max() - TIE_TOLERANCE)[0][-1]  # thresholds descend: last = lowest
    return float(thresholds[best])


@dataclass
class DistanceFromFaceSpace:
    """The detector; ``fit`` learns eigenfaces from the training faces and a threshold from training data.

    The threshold uses out-of-fold errors for the training faces (a face's own error would be
    optimistically small) and errors for the training non-faces, at the best balanced accuracy.
    """

    target: float
    seed: int = 0
    folds: int = 5
    pca: PCA | None = field(default=None, repr=False)
    threshold: float = 0.0
    curve: VarianceCurve | None = field(default=None, repr=False)

    def fit(self, X: np.ndarray, y: np.ndarray) -> DistanceFromFaceSpace:
        faces, nonfaces = X[y == FACE], X[y == NONFACE]
        self.curve = variance_curve(faces, self.target, self.seed)
        self.pca = self._fit_faces(faces)
        oof = np.empty(len(faces))
        folds = KFold(min(self.folds, len(faces)), shuffle=True, random_state=self.seed)
        for train, held in folds.split(faces):
            oof[held] = self._score(self._fit_faces(faces[train]), faces[held])
        scores = np.concatenate([oof, self.score(nonfaces)])
        labels = np.concatenate([np.ones(len(faces)), np.zeros(len(nonfaces))])
        self.threshold = balanced_accuracy_threshold(labels, scores)
        return self

    def _fit_faces(self, faces: np.ndarray) -> PCA:
        assert self.curve is not None
        k = min(self.curve.n_components, len(faces) - 1)
        return PCA(n_components=k, svd_solver="full", random_state=self.seed).fit(faces)

    @staticmethod
    def _score(pca: PCA, X: np.ndarray) -> np.ndarray:
        recon = pca.inverse_transform(pca.transform(X))
        return -np.sum((X - recon) ** 2, axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        if self.pca is None:
            raise RuntimeError("DistanceFromFaceSpace.fit first")
        return self._score(self.pca, X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score(X) >= self.threshold).astype(int)
