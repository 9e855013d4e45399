"""The analysis, in the order the study's method describes it: split, PCA rule, sweep, models, baselines,
detector, intervals, and the two confound checks (which statistic gives the class away; how much the
unmatched pool gave away).

It returns everything the verdict, figures, tables and the record are made from (``EigenfacesOutcome``);
it draws and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import cross_val_score, train_test_split

from dlplayground.progress import progress
from dlplayground.studies.eigenfaces.assembly import FaceDataset
from dlplayground.studies.eigenfaces.classifiers import (
    pca_logistic,
    pca_svc,
    raw_pixel_logistic,
    shortcut_forest,
    shortcut_logistic,
    stratified_folds,
)
from dlplayground.studies.eigenfaces.config import EigenfacesConfig
from dlplayground.studies.eigenfaces.evaluation import (
    AUCIntervals,
    MethodResult,
    auc_intervals,
    fit_search_and_score,
    score_on_test,
)
from dlplayground.studies.eigenfaces.face_space import DistanceFromFaceSpace
from dlplayground.studies.eigenfaces.images import FACE, NONFACE, LabelledImages, standardise_images
from dlplayground.studies.eigenfaces.shortcut import FeatureSeparation, feature_separation, shortcut_features
from dlplayground.studies.eigenfaces.variance import (
    SweepPoint,
    VarianceCurve,
    max_components_in_cv,
    variance_curve,
    variance_sweep,
)

PCA_LOGISTIC, PCA_SVC = "PCA + logistic", "PCA + SVC"
RAW_PIXELS = "raw pixels + logistic"
SHORTCUT_LOGISTIC, SHORTCUT_FOREST = "shortcut: logistic", "shortcut: forest"
DFFS = "distance from face space"
CLASSIFIERS = (PCA_LOGISTIC, PCA_SVC)
SHORTCUTS = (SHORTCUT_LOGISTIC, SHORTCUT_FOREST)


@dataclass(frozen=True)
class EigenfacesOutcome:
    """Everything the figures, tables, verdict and record are made from."""

    data: LabelledImages
    stats: np.ndarray
    """Trivial statistics of every image (``shortcut_features``), before standardisation."""
    train_idx: np.ndarray
    test_idx: np.ndarray
    folds: int
    """CV folds actually used (the configured number, fewer if the smaller training class is smaller)."""
    curve_all: VarianceCurve
    n_components: int
    """k used by the PCA classifiers: the rule's pick, capped so PCA fits in every CV training fold."""
    curve_faces: VarianceCurve
    sweep: list[SweepPoint]
    methods: dict[str, MethodResult]
    headline: str
    """The PCA classifier with the better CV ROC-AUC."""
    shortcut: str
    """The shortcut baseline with the better *test* ROC-AUC (favours the shortcut)."""
    dffs: DistanceFromFaceSpace
    intervals: AUCIntervals
    feature_aucs: list[FeatureSeparation]
    pool_shortcut_fold_aucs: tuple[float, ...]
    """Per-fold CV ROC-AUC of the shortcut forest on faces vs. a random sample of the unmatched pool."""

    @property
    def y_test(self) -> np.ndarray:
        return self.data.labels[self.test_idx]

    @property
    def pool_shortcut_cv_auc(self) -> float:
        return float(np.mean(self.pool_shortcut_fold_aucs))


def analyse_faces_vs_nonfaces(dataset: FaceDataset, config: EigenfacesConfig) -> EigenfacesOutcome:
    """Run the study's method on the assembled data (see the study's docstring, steps 2-6)."""
    seed = config.seed
    data = dataset.data
    train_idx, test_idx = train_test_split(np.arange(len(data.labels)), test_size=config.test_fraction,
                                           stratify=data.labels, random_state=seed)
    y_train, y_test = data.labels[train_idx], data.labels[test_idx]
    grids = config.search
    smallest = int(np.bincount(y_train).min())
    if smallest < grids.folds:
        grids = replace(grids, folds=max(2, smallest))
    X = standardise_images(data.images)
    X_train, X_test = X[train_idx], X[test_idx]
    stats = shortcut_features(data.images)

    progress(f"PCA on {len(train_idx)} training images ({data.size}x{data.size} px)")
    curve_all = variance_curve(X_train, config.variance, seed)
    k = min(curve_all.n_components, max_components_in_cv(len(X_train), X_train.shape[1], grids.folds))
    capped = f" (rule gives {curve_all.n_components}; capped to fit the CV folds)" if k < curve_all.n_components else ""
    progress(f"explained variance {config.variance:.0%} -> k = {k} components{capped}; sweeping other targets")
    sweep = variance_sweep(X_train, y_train, curve_all, config.sweep_targets, grids, seed)

    specs = [
        (PCA_LOGISTIC, f"whitened PCA (k={k}) + logistic regression", pca_logistic(k, grids, seed), X),
        (PCA_SVC, f"whitened PCA (k={k}) + RBF SVC", pca_svc(k, grids, seed), X),
        (RAW_PIXELS, "logistic regression on all standardised pixels, no PCA", raw_pixel_logistic(grids, seed), X),
        (SHORTCUT_LOGISTIC, "logistic regression on 8 trivial image statistics", shortcut_logistic(grids, seed),
         stats),
        (SHORTCUT_FOREST, "random forest on 8 trivial image statistics", shortcut_forest(grids, seed), stats),
    ]
    methods: dict[str, MethodResult] = {}
    for name, description, search, features in specs:
        progress(f"fitting {name} (CV {grids.folds}-fold)")
        methods[name] = fit_search_and_score(name, description, search, features[train_idx], y_train,
                                             features[test_idx], y_test)
    progress("fitting distance-from-face-space detector (eigenfaces of training faces only)")
    dffs = DistanceFromFaceSpace(target=config.variance, seed=seed, folds=grids.folds).fit(X_train, y_train)
    methods[DFFS] = score_on_test(
        DFFS, f"reconstruction error under eigenfaces of training faces (k={dffs.curve.n_components})",
        y_test, dffs.score(X_test), dffs.predict(X_test), params={"threshold": dffs.threshold},
    )
    headline = max(CLASSIFIERS, key=lambda m: methods[m].cv_roc_auc or 0.0)
    shortcut = max(SHORTCUTS, key=lambda m: methods[m].roc_auc)
    intervals = auc_intervals(y_test, {m: r.scores for m, r in methods.items()}, (headline, shortcut),
                              resamples=config.bootstrap_resamples, level=config.ci_level, seed=seed + 1)
    feature_aucs = feature_separation(stats[train_idx], data.original_shapes[train_idx], y_train)

    # The confound check: how well would trivial statistics separate faces from the pool as drawn?
    pool_X = np.concatenate([stats[data.labels == FACE], dataset.unmatched_features])
    pool_y = np.concatenate([np.full(data.n_faces, FACE), np.full(len(dataset.unmatched_features), NONFACE)])
    pool_aucs = cross_val_score(shortcut_forest(grids, seed).estimator, pool_X, pool_y, scoring="roc_auc",
                                cv=stratified_folds(grids, seed))
    return EigenfacesOutcome(
        data=data, stats=stats, train_idx=train_idx, test_idx=test_idx, folds=grids.folds, curve_all=curve_all,
        n_components=k, curve_faces=dffs.curve, sweep=sweep, methods=methods, headline=headline,
        shortcut=shortcut, dffs=dffs, intervals=intervals, feature_aucs=feature_aucs,
        pool_shortcut_fold_aucs=tuple(float(a) for a in pool_aucs),
    )
