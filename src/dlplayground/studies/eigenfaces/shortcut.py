"""Trivial image statistics: what a data set's *source* changes, for the shortcut baseline and the matching.

None of the statistics encodes *where* a pixel is, only how bright, contrasted, clipped, sharp (a
resizing/blur artefact) or varied the image is. If they alone separate faces from non-faces, a classifier
can score well without knowing anything about faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import entropy
from sklearn.metrics import roc_auc_score

from dlplayground.studies.eigenfaces.images import FACE, NONFACE

SHORTCUT_FEATURES = ("mean", "std", "p05", "p95", "dark_fraction", "bright_fraction", "sharpness", "entropy")
HISTOGRAM_BINS = 32


def shortcut_features(images: np.ndarray) -> np.ndarray:
    """``(n, h, w)`` grey images in [0, 1] -> ``(n, len(SHORTCUT_FEATURES))`` trivial statistics.

    Sharpness is the mean absolute difference of neighbouring pixels; entropy (bits) that of a 32-bin
    grey-level histogram.
    """
    flat = images.reshape(len(images), -1)
    p05, p95 = np.percentile(flat, [5, 95], axis=1)
    sharpness = 0.5 * (np.abs(np.diff(images, axis=1)).mean(axis=(1, 2))
                       + np.abs(np.diff(images, axis=2)).mean(axis=(1, 2)))
    bins = np.clip((flat * HISTOGRAM_BINS).astype(int), 0, HISTOGRAM_BINS - 1)
    counts = np.stack([np.bincount(row, minlength=HISTOGRAM_BINS) for row in bins])
    return np.column_stack([
        flat.mean(axis=1), flat.std(axis=1), p05, p95, (flat < 0.05).mean(axis=1), (flat > 0.95).mean(axis=1),
        sharpness, entropy(counts, base=2, axis=1),
    ])


def single_feature_auc(feature: np.ndarray, labels: np.ndarray) -> tuple[float, str]:
    """How well one statistic alone separates the classes: max(AUC, 1 - AUC) and which way faces lie."""
    if np.ptp(feature) == 0:
        return 0.5, "constant"
    auc = float(roc_auc_score(labels, feature))
    return (auc, "faces higher") if auc >= 0.5 else (1.0 - auc, "faces lower")


@dataclass(frozen=True)
class FeatureSeparation:
    """One statistic's power to give the class away on the training set."""

    statistic: str
    roc_auc: float
    """max(AUC, 1 - AUC) of the statistic used as a score."""
    direction: str
    faces_mean: float
    nonfaces_mean: float


ORIGINAL_SIDE = "original side px (metadata; no model sees it)"


def feature_separation(stats: np.ndarray, original_shapes: np.ndarray, labels: np.ndarray) -> list[FeatureSeparation]:
    """Each trivial statistic, and the images' original size (metadata), ranked by single-statistic AUC."""
    columns = [(name, stats[:, j]) for j, name in enumerate(SHORTCUT_FEATURES)]
    columns.append((ORIGINAL_SIDE, np.sqrt(original_shapes[:, 0] * original_shapes[:, 1])))
    rows = []
    for name, values in columns:
        auc, direction = single_feature_auc(values, labels)
        rows.append(FeatureSeparation(name, auc, direction, float(values[labels == FACE].mean()),
                                      float(values[labels == NONFACE].mean())))
    return sorted(rows, key=lambda row: -row.roc_auc)
