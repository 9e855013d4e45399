"""Turk & Pentland's distance-from-face-space detector: eigenfaces fitted on faces only, no non-face training.

A face is close to the span of the eigenfaces; the score is minus the squared reconstruction error, so larger =
more face-like. It answers a different question from the classifiers: how far does a model of faces alone get?
Having never seen a non-face, it cannot have learned what sets one negative source apart, so its AUC against
each source is a cross-source number by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from dlplayground.studies.eigenfaces.variance import VarianceCurve, variance_curve


@dataclass(frozen=True)
class FaceSpace:
    """Eigenfaces of a set of faces: k by the explained-variance rule (at most n_faces - 1), and the curve."""

    pca: PCA
    curve: VarianceCurve

    @classmethod
    def fit(cls, faces: np.ndarray, target: float, seed: int = 0) -> FaceSpace:
        curve = variance_curve(faces, target, seed)
        k = max(1, min(curve.n_components, len(faces) - 1))
        return cls(PCA(n_components=k, svd_solver="full", random_state=seed).fit(faces), curve)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Minus the squared reconstruction error of each row of ``X`` (larger = closer to face space)."""
        recon = self.pca.inverse_transform(self.pca.transform(X))
        return -np.sum((X - recon) ** 2, axis=1)
