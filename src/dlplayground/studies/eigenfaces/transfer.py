"""Per-source and leave-one-source-out evaluation: train against one negative source, test against each.

In every outer fold (``splits``), with that fold's non-faces chosen from the training faces only
(``matching.fold_negatives``), each trained method is fitted once per *training set* -- the training faces
against one negative source, and against all sources pooled -- and scores every test image. The AUC of the
held-out faces against the held-out images of each negative source is one cell of a matrix (rows: the
training negatives; columns: the test negatives):

* the diagonal (trained and tested against the same source) is the usual *within-source* AUC;
* the off-diagonal cells are *cross-source*: the model never saw that kind of non-face, so it can only succeed
  if it learned something about faces rather than about what sets its training negatives apart;
* the pooled row gives each source's AUC when every source was in training (the per-source AUC).

The distance-from-face-space detector, trained on the training faces only, scores the same test images.

Everything fitted in a fold sees only that fold's training images: the PCA (whitened, k by the variance
rule on that training set -- unsupervised, so the inner CV sees projections of its own validation images but
never a label of them, and never a test image), the hyper-parameter search and the matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from dlplayground.progress import progress
from dlplayground.studies.eigenfaces.classifiers import (
    DFFS,
    EIGENFACES,
    RAW_PIXELS,
    TRAINED_METHODS,
    eigenface_search,
    fit_search_and_score,
    inner_grids,
    scaled_logistic_search,
)
from dlplayground.studies.eigenfaces.config import SearchGrids
from dlplayground.studies.eigenfaces.face_space import FaceSpace
from dlplayground.studies.eigenfaces.images import FACE, FACES
from dlplayground.studies.eigenfaces.matching import fold_negatives
from dlplayground.studies.eigenfaces.splits import Split
from dlplayground.studies.eigenfaces.variance import fit_whitened_pca

ALL_SOURCES = "all sources"
"""The training-set name of the pooled row: the training faces against every negative source."""


@dataclass(frozen=True, kw_only=True)
class TransferSettings:
    """What the evaluation needs beyond the data: the PCA rule, the grids, the negative quota and the seed."""

    variance: float
    grids: SearchGrids
    nonfaces_per_face: float
    match: bool
    seed: int


@dataclass(frozen=True)
class FoldInfo:
    """One outer fold as it ran: its position and the images it trained and tested on (after the quota)."""

    repeat: int
    fold: int
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class TransferRecord:
    """Every per-fold AUC of the evaluation, and what each search chose.

    ``auc[m, t, s, f]``: method ``methods[m]`` trained against ``trains[t]``, AUC of the fold-``f`` test faces
    against the fold-``f`` test images of negative source ``sources[s]``. ``dffs_auc[s, f]``: the same for the
    distance-from-face-space detector (faces only).
    """

    methods: tuple[str, ...]
    trains: tuple[str, ...]
    sources: tuple[str, ...]
    auc: np.ndarray
    dffs_auc: np.ndarray
    folds: tuple[FoldInfo, ...]
    params: dict[str, dict[str, list[dict[str, Any]]]]
    """``params[method][train]``: the chosen hyper-parameters in each fold (with ``k`` and the inner-CV AUC)."""
    first_repeat_scores: dict[str, np.ndarray] = field(repr=False)
    """Out-of-fold scores of every image in repeat 0 (NaN where a fold left the image out), per method trained
    against all sources, and for ``DFFS``: every image scored once, by a model that never saw it."""

    def cell(self, method: str, train: str, source: str) -> np.ndarray:
        """The per-fold AUCs of one cell."""
        return self.auc[self.methods.index(method), self.trains.index(train), self.sources.index(source)]


def _auc(scores: np.ndarray, faces: np.ndarray, negatives: np.ndarray) -> float:
    labels = np.concatenate([np.ones(faces.sum()), np.zeros(negatives.sum())])
    return float(roc_auc_score(labels, np.concatenate([scores[faces], scores[negatives]])))


def _fit_method(method: str, X: np.ndarray, stats: np.ndarray, labels: np.ndarray, train: np.ndarray,
                test: np.ndarray, settings: TransferSettings) -> tuple[np.ndarray, dict[str, Any]]:
    y = labels[train]
    grids = inner_grids(settings.grids, y)
    if method == EIGENFACES:
        pca = fit_whitened_pca(X[train], settings.variance, settings.seed)
        k = int(pca.n_components_)
        fitted = fit_search_and_score(eigenface_search(k, grids, settings.seed), pca.transform(X[train]), y,
                                      pca.transform(X[test]))
        params = {"k": k, **fitted.params}
        if "gamma" in params:  # the grid's multiple of 1/k, comparable across training sets of different k
            params["gamma_x_k"] = params["gamma"] * k
    else:
        features = X if method == RAW_PIXELS else stats
        fitted = fit_search_and_score(scaled_logistic_search(grids, settings.seed), features[train], y,
                                      features[test])
        params = dict(fitted.params)
    return fitted.scores, {**params, "inner_cv_roc_auc": fitted.cv_roc_auc}


def run_transfer(
    X: np.ndarray, stats: np.ndarray, labels: np.ndarray, sources: Sequence[str], splits: Sequence[Split],
    settings: TransferSettings, *, methods: Sequence[str] = TRAINED_METHODS,
) -> TransferRecord:
    """Fit and score every method on every training set of every split (module docstring).

    ``X`` are the standardised pixels (rows = images), ``stats`` the trivial statistics, ``labels`` 1 = face,
    ``sources`` each image's source (``FACES`` for faces).
    """
    sources = np.asarray(sources, dtype=object)
    negatives = tuple(dict.fromkeys(s for s in sources if s != FACES))
    trains = (*negatives, ALL_SOURCES)
    auc = np.full((len(methods), len(trains), len(negatives), len(splits)), np.nan)
    dffs_auc = np.full((len(negatives), len(splits)), np.nan)
    params: dict[str, dict[str, list[dict[str, Any]]]] = {m: {t: [] for t in trains} for m in methods}
    first = {m: np.full(len(labels), np.nan) for m in (*methods, DFFS)}
    infos = []
    for f, split in enumerate(splits):
        rng = np.random.default_rng([settings.seed, split.repeat, split.fold])
        train, test = fold_negatives(sources, stats, split.train, split.test, ratio=settings.nonfaces_per_face,
                                     match=settings.match, rng=rng, faces=FACES)
        infos.append(FoldInfo(split.repeat, split.fold, train, test))
        progress(f"repeat {split.repeat + 1} fold {split.fold + 1} ({f + 1}/{len(splits)}): {len(train)} training, "
                 f"{len(test)} test images; {len(methods)} methods x {len(trains)} training sets")
        test_faces = sources[test] == FACES
        for t, name in enumerate(trains):
            chosen = train if name == ALL_SOURCES else train[np.isin(sources[train], [FACES, name])]
            for m, method in enumerate(methods):
                scores, chosen_params = _fit_method(method, X, stats, labels, chosen, test, settings)
                params[method][name].append(chosen_params)
                for s, negative in enumerate(negatives):
                    auc[m, t, s, f] = _auc(scores, test_faces, sources[test] == negative)
                if name == ALL_SOURCES and split.repeat == 0:
                    first[method][test] = scores
        space = FaceSpace.fit(X[train[labels[train] == FACE]], settings.variance, settings.seed)
        scores = space.score(X[test])
        for s, negative in enumerate(negatives):
            dffs_auc[s, f] = _auc(scores, test_faces, sources[test] == negative)
        if split.repeat == 0:
            first[DFFS][test] = scores
    return TransferRecord(tuple(methods), trains, negatives, auc, dffs_auc, tuple(infos), params, first)
