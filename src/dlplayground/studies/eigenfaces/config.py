"""The eigenfaces study's resolved settings: data paths, the PCA rule's target, CV grids, bootstrap.

``EigenfacesConfig`` is what ``study.resolve`` builds from the command line and what the envelope records:
every default that depends on ``--quick`` (CV folds and grids, sweep targets, bootstrap resamples) is
filled in, so the record says what ran. ``None`` appears only for a data path that was not given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlplayground.studies.runner import StudyConfig

SWEEP_TARGETS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
QUICK_SWEEP_TARGETS = (0.6, 0.8, 0.9, 0.95, 0.99)
BOOTSTRAP_RESAMPLES = 2000
QUICK_BOOTSTRAP_RESAMPLES = 200
CI_LEVEL = 0.95


@dataclass(frozen=True, kw_only=True)
class SearchGrids:
    """Cross-validation folds and hyper-parameter grids of the classifiers; ``quick`` shrinks them for CI."""

    folds: int = 5
    """Stratified CV folds on the training set (fewer when the smaller class has fewer images)."""
    logistic_C: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    """Inverse regularisation strengths tried for every logistic regression."""
    svc_C: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    """RBF SVC margin penalties tried."""
    svc_gamma_scale: tuple[float, ...] = (0.1, 1.0, 10.0)
    """RBF gamma as multiples of 1/k: whitened components have unit variance, so |x|^2 ~ k."""
    forest_trees: int = 200
    """Trees in the shortcut random forest."""

    @classmethod
    def quick(cls) -> SearchGrids:
        return cls(folds=3, logistic_C=(0.1, 1.0), svc_C=(1.0, 10.0), svc_gamma_scale=(1.0,), forest_trees=50)


@dataclass(frozen=True, kw_only=True)
class EigenfacesConfig(StudyConfig):
    """Every setting of one eigenfaces run, resolved (recorded in ``result.json`` as ``config``)."""

    faces: Path | None
    """``--faces``: folder of face images (a labelled layout also supplies non-faces); None: not given."""
    olivetti: Path | None
    """``--olivetti``: scikit-learn's Olivetti cache file or the data home holding it; None: not given."""
    cifar: Path | None
    """``--cifar``: CIFAR-10 python batches (non-faces); None: not given."""
    variance: float
    """Explained-variance target: k = the fewest PCA components whose cumulative share exceeds it."""
    image_size_px: int
    """Side of the square grey images every source is resized to."""
    test_fraction: float
    """Share of each class held out for the final test."""
    max_per_class: int
    """At most this many images per class (a seeded random subset)."""
    nonfaces_per_face: float
    """Non-faces kept per face."""
    patches: int
    """Offline default only: candidate non-face patches cut from scikit-image's sample photographs."""
    match: bool
    """Keep the non-faces whose trivial statistics match the faces' (else a random subset of the pool)."""
    sweep_targets: tuple[float, ...]
    """Explained-variance targets of the diagnostic sweep (sorted; include ``variance``)."""
    search: SearchGrids
    """CV folds and hyper-parameter grids."""
    bootstrap_resamples: int
    """Resamples of the test-set bootstrap (faces and non-faces resampled separately)."""
    ci_level: float
    """Level of every bootstrap interval."""
