"""Case-control matching: pick the non-faces whose trivial statistics resemble the faces'.

Greedy nearest-neighbour matching without replacement, written here because no installed library does
it: scikit-learn's ``NearestNeighbors`` finds neighbours but cannot hand each candidate to one face only.
"""

from __future__ import annotations

import numpy as np


def match_statistics(
    face_features: np.ndarray, candidate_features: np.ndarray, n_select: int, rng: np.random.Generator,
) -> np.ndarray:
    """Indices of ``n_select`` candidates whose trivial statistics resemble the faces' (greedy matching).

    Features are z-scored with the faces' mean and spread; faces are visited in random order, round after
    round, and each takes its nearest still-unused candidate (Euclidean), until ``n_select`` are taken. The
    chosen non-faces then have about the faces' distribution of brightness, contrast, clipping, sharpness
    and entropy, so those statistics stop predicting the class and a classifier has to use the image's
    structure. With fewer candidates than ``n_select`` all are returned.
    """
    n_candidates = len(candidate_features)
    if n_select >= n_candidates:
        return np.arange(n_candidates)
    centre = face_features.mean(axis=0)
    spread = face_features.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    faces = (face_features - centre) / spread
    candidates = (candidate_features - centre) / spread
    used = np.zeros(n_candidates, dtype=bool)
    chosen: list[int] = []
    while len(chosen) < n_select:
        for f in rng.permutation(len(faces)):
            distance = np.sum((candidates - faces[f]) ** 2, axis=1)
            distance[used] = np.inf
            pick = int(np.argmin(distance))
            used[pick] = True
            chosen.append(pick)
            if len(chosen) == n_select:
                break
    return np.sort(np.asarray(chosen))
