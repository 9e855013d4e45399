"""The eigenfaces study's resolved settings: data paths, the face window, the PCA rule's target, the
cross-validation plan and the inner grids.

``EigenfacesConfig`` is what ``study.resolve`` builds from the command line and what the envelope records:
every default that depends on ``--quick`` (outer folds and repeats, inner grids, sweep targets) is filled in,
so the record says what ran. ``None`` appears only for a data path that was not given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlplayground.studies.runner import StudyConfig

SWEEP_TARGETS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
QUICK_SWEEP_TARGETS = (0.6, 0.8, 0.9, 0.95, 0.99)
OUTER_FOLDS, OUTER_REPEATS = 5, 4
QUICK_OUTER_FOLDS, QUICK_OUTER_REPEATS = 3, 2
SPREAD_LEVEL = 0.95


@dataclass(frozen=True, kw_only=True)
class SearchGrids:
    """Inner cross-validation folds and hyper-parameter grids; ``quick`` shrinks them for CI."""

    folds: int = 3
    """Stratified inner CV folds on each outer training set (fewer when the smaller class has fewer images)."""
    logistic_C: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    """Inverse regularisation strengths tried for every logistic regression."""
    svc_C: tuple[float, ...] = (1.0, 10.0, 100.0)
    """RBF SVC margin penalties tried."""
    svc_gamma_scale: tuple[float, ...] = (0.03, 0.3, 3.0)
    """RBF gamma as multiples of 1/k: whitened components have unit variance, so |x|^2 ~ k."""

    @classmethod
    def quick(cls) -> SearchGrids:
        return cls(folds=3, logistic_C=(0.1, 1.0), svc_C=(1.0, 10.0), svc_gamma_scale=(1.0,))


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
    """Side of the square grey window every model sees."""
    window_share: float
    """The face window's share of its frame's side: every image is resized to a frame of
    round(image_size_px / window_share) px and its centre window kept; shifted face crops are the corners."""
    max_per_class: int
    """At most this many faces, and at most this many candidates per negative source (seeded random subsets)."""
    nonfaces_per_face: float
    """Non-faces of each negative source per face, in every training and every test fold."""
    crops_per_face: int
    """Shifted face crops (hard negatives) cut from each face frame, 1-4 distinct corners; 0: none."""
    patches: int
    """Offline default only: candidate non-face patches cut from scikit-image's sample photographs."""
    match: bool
    """Cut a negative source down to its quota by matching trivial statistics to the *training* faces of each
    fold (else at random)."""
    outer_folds: int
    """Folds of the stratified grouped cross-validation that scores every model."""
    outer_repeats: int
    """Repeats of that cross-validation, each with a fresh seeded shuffle of the groups."""
    spread_level: float
    """Level of the percentile spread of per-fold AUCs (and, Bonferroni-adjusted, of the verdict's cells)."""
    sweep_targets: tuple[float, ...]
    """Explained-variance targets of the diagnostic sweep (sorted; include ``variance``)."""
    search: SearchGrids
    """Inner CV folds and hyper-parameter grids."""
