"""Case-control matching: pick the non-faces whose trivial statistics resemble the (training) faces'.

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


def fold_negatives(
    sources: np.ndarray, stats: np.ndarray, train: np.ndarray, test: np.ndarray, *, ratio: float, match: bool,
    rng: np.random.Generator, faces: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The images one fold uses: every face of each side, and of every negative source at most ``ratio`` x that
    side's faces -- matched to the fold's *training* faces (``match``) or a random subset.

    Both the training and the test non-faces are matched to the training faces, never to the test faces, so
    nothing about a test face decides which non-faces it is compared with. ``sources`` names each image's source
    (``faces`` for the faces); ``stats`` are the trivial statistics the matching uses. Returns sorted indices.
    """
    train_faces = train[sources[train] == faces]
    kept_train, kept_test = [train_faces], [test[sources[test] == faces]]
    face_stats = stats[train_faces]
    for source in dict.fromkeys(s for s in sources if s != faces):
        for side, kept in ((train, kept_train), (test, kept_test)):
            pool = side[sources[side] == source]
            n_faces_side = int(np.sum(sources[side] == faces))
            quota = min(len(pool), max(1, int(round(ratio * n_faces_side))))
            if quota < len(pool):
                pick = (match_statistics(face_stats, stats[pool], quota, rng) if match
                        else rng.choice(len(pool), size=quota, replace=False))
                pool = pool[pick]
            kept.append(pool)
    return np.sort(np.concatenate(kept_train)), np.sort(np.concatenate(kept_test))
