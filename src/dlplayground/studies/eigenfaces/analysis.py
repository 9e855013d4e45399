"""The analysis, in the order the study's method describes it: grouped splits, the per-source and
leave-one-source-out evaluation, its summary, and the diagnostics drawn from the first fold (eigenfaces,
explained-variance curve and sweep, which trivial statistic separates the faces from each source).

It returns everything the verdict, figures, tables and the record are made from (``EigenfacesOutcome``);
it draws and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlplayground.progress import progress
from dlplayground.studies.eigenfaces.classifiers import EIGENFACES, inner_grids
from dlplayground.studies.eigenfaces.config import EigenfacesConfig
from dlplayground.studies.eigenfaces.evaluation import TransferSummary, summarise
from dlplayground.studies.eigenfaces.face_space import FaceSpace
from dlplayground.studies.eigenfaces.images import FACE, FACES, LabelledImages, standardise_images
from dlplayground.studies.eigenfaces.shortcut import FeatureSeparation, feature_separation, shortcut_features
from dlplayground.studies.eigenfaces.splits import grouped_splits
from dlplayground.studies.eigenfaces.transfer import TransferRecord, TransferSettings, run_transfer
from dlplayground.studies.eigenfaces.variance import SweepPoint, VarianceCurve, variance_curve, variance_sweep


@dataclass(frozen=True)
class EigenfacesOutcome:
    """Everything the figures, tables, verdict and record are made from."""

    data: LabelledImages
    stats: np.ndarray
    """Trivial statistics of every image (``shortcut_features``), before standardisation."""
    record: TransferRecord
    summary: TransferSummary
    face_space: FaceSpace
    """Eigenfaces of the first fold's training faces (the distance-from-face-space model of that fold)."""
    curve_all: VarianceCurve
    """Explained variance of the first fold's pooled training set (faces and every negative source)."""
    sweep: list[SweepPoint]
    feature_aucs: dict[str, list[FeatureSeparation]]
    """Per negative source: each trivial statistic's power to separate the first fold's training faces from it."""
    headline: str = EIGENFACES


def analyse_faces_vs_nonfaces(data: LabelledImages, config: EigenfacesConfig) -> EigenfacesOutcome:
    """Run the study's method on the assembled data (see the study's docstring)."""
    seed = config.seed
    X = standardise_images(data.images)
    stats = shortcut_features(data.images)
    sources = np.asarray(data.sources, dtype=object)
    splits = grouped_splits(sources, np.asarray(data.groups, dtype=object), folds=config.outer_folds,
                            repeats=config.outer_repeats, seed=seed)
    progress(f"{config.outer_repeats} x {config.outer_folds}-fold grouped cross-validation, stratified by source: "
             f"{len(splits)} outer folds; negative sources: {', '.join(data.negative_sources)}")
    settings = TransferSettings(variance=config.variance, grids=config.search,
                                nonfaces_per_face=config.nonfaces_per_face, match=config.match, seed=seed)
    record = run_transfer(X, stats, data.labels, data.sources, splits, settings)
    summary = summarise(record, config.spread_level, EIGENFACES)

    first = record.folds[0]
    train, y_train = first.train, data.labels[first.train]
    progress("diagnostics on the first fold's training set: eigenfaces, explained variance, sweep")
    face_space = FaceSpace.fit(X[train[y_train == FACE]], config.variance, seed)
    curve_all = variance_curve(X[train], config.variance, seed)
    sweep = variance_sweep(X[train], y_train, curve_all, config.sweep_targets, inner_grids(config.search, y_train),
                           seed)
    feature_aucs = {}
    for source in data.negative_sources:
        rows = train[np.isin(sources[train], [FACES, source])]
        feature_aucs[source] = feature_separation(stats[rows], data.original_shapes[rows], data.labels[rows])
    return EigenfacesOutcome(data=data, stats=stats, record=record, summary=summary, face_space=face_space,
                             curve_all=curve_all, sweep=sweep, feature_aucs=feature_aucs)
