"""The eigenfaces study's data assembly and analysis: the PCA rule, the models, and honest evaluation.

``experiments/eigenfaces.py`` tells the story and draws the figures; this module holds the parts worth
testing on their own:

* ``load_data`` -- faces and non-faces from the user's paths (or the announced offline default), every
  source through the same grey conversion and resize, non-faces picked from a larger pool by
  ``match_statistics`` so trivial statistics stop giving the class away;

* ``standardise_images`` -- per-image zero mean / unit contrast, applied to every class alike, so the
  classifiers cannot separate the classes by brightness or contrast alone;
* ``components_for_variance`` -- the explained-variance rule: the smallest k whose cumulative explained
  variance ratio reaches the target;
* ``shortcut_features`` -- trivial, position-free image statistics (brightness, contrast, clipping,
  sharpness, histogram entropy) for the baseline that asks "is the data *source* enough?";
* the models: whitened PCA + logistic regression or RBF SVC (hyper-parameters by stratified CV),
  logistic regression on raw pixels, the shortcut baselines, and the classic distance-from-face-space
  detector (reconstruction error under eigenfaces fitted on faces only);
* ``evaluate`` and ``bootstrap_auc`` -- held-out ROC-AUC, PR-AUC, balanced accuracy, the confusion
  matrix, and a stratified (paired) bootstrap for confidence intervals.

Label convention: 1 = face (the positive class), 0 = non-face.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from dlplayground.data.image_folder import load_face_folder, rgb_to_grey, to_square
from dlplayground.data.nonfaces import offline_nonfaces
from dlplayground.errors import UserInputError

FACE, NONFACE = 1, 0
CONTRAST_FLOOR = 0.02
"""Per-image std floor (grey units in [0, 1], about 5 of 255 levels): a flat patch is not blown up to
unit contrast out of its sensor noise."""


# ------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class LabelledImages:
    """The study's data: grey images of one size, labels (1 = face), and where each image came from.

    ``origins`` names each image's source (e.g. ``lfw_subset faces``, ``skimage:brick``, ``cifar:cat``);
    ``original_shapes`` its (height, width) before resizing -- both for the shortcut analysis.
    """

    images: np.ndarray
    labels: np.ndarray
    origins: tuple[str, ...]
    original_shapes: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 3 or self.images.shape[1] != self.images.shape[2]:
            raise ValueError(f"images must be (n, s, s), got {self.images.shape}")
        if self.labels.shape != (n,) or len(self.origins) != n or self.original_shapes.shape != (n, 2):
            raise ValueError("labels, origins and original_shapes need one entry per image")
        if not set(np.unique(self.labels)) <= {FACE, NONFACE}:
            raise ValueError("labels must be 0 (non-face) or 1 (face)")

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def n_faces(self) -> int:
        return int(np.sum(self.labels == FACE))

    @property
    def n_nonfaces(self) -> int:
        return int(np.sum(self.labels == NONFACE))


def standardise_images(images: np.ndarray, floor: float = CONTRAST_FLOOR) -> np.ndarray:
    """Flatten ``(n, h, w)`` images and give each zero mean and unit std (std floored at ``floor``)."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    centred = flat - flat.mean(axis=1, keepdims=True)
    scale = np.maximum(flat.std(axis=1, keepdims=True), floor)
    return centred / scale


# ------------------------------------------------------------------------------------- the PCA rule
def components_for_variance(explained_variance_ratio: Sequence[float] | np.ndarray, target: float) -> int:
    """Smallest k with ``sum(ratio[:k]) >= target`` (all components if the target is never reached).

    A tiny tolerance absorbs floating-point round-off in the cumulative sum (a target of exactly 1.0 is
    then met by the full set rather than never).
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"explained-variance target must be in (0, 1], got {target}")
    cumulative = np.cumsum(np.asarray(explained_variance_ratio, dtype=np.float64))
    reached = np.nonzero(cumulative >= target - 1e-12)[0]
    return int(reached[0] + 1) if reached.size else len(cumulative)


@dataclass(frozen=True)
class VarianceCurve:
    """The explained-variance ratios of a PCA fitted with every component, and the rule's pick."""

    ratios: np.ndarray
    target: float
    n_components: int

    @property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(self.ratios)


def variance_curve(X: np.ndarray, target: float, seed: int = 0) -> VarianceCurve:
    """Fit a full PCA on ``X`` (rows = images) and apply ``components_for_variance``."""
    pca = PCA(svd_solver="full", random_state=seed).fit(X)
    ratios = pca.explained_variance_ratio_
    return VarianceCurve(ratios=ratios, target=target, n_components=components_for_variance(ratios, target))


# ------------------------------------------------------------------------------------ shortcut stats
SHORTCUT_FEATURES = ("mean", "std", "p05", "p95", "dark_fraction", "bright_fraction", "sharpness", "entropy")
"""Trivial statistics: none encodes *where* a pixel is, only how bright, contrasted, clipped, sharp
(a resizing/blur artefact) or varied the image is -- what a data set's *source* changes."""


def shortcut_features(images: np.ndarray) -> np.ndarray:
    """``(n, h, w)`` grey images in [0, 1] -> ``(n, len(SHORTCUT_FEATURES))`` trivial statistics."""
    flat = images.reshape(len(images), -1)
    p05, p95 = np.percentile(flat, [5, 95], axis=1)
    sharpness = 0.5 * (np.abs(np.diff(images, axis=1)).mean(axis=(1, 2))
                       + np.abs(np.diff(images, axis=2)).mean(axis=(1, 2)))
    bins = np.clip((flat * 32).astype(int), 0, 31)
    counts = np.stack([np.bincount(row, minlength=32) for row in bins]) / flat.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(counts > 0, counts * np.log2(counts), 0.0), axis=1)
    return np.column_stack([
        flat.mean(axis=1), flat.std(axis=1), p05, p95, (flat < 0.05).mean(axis=1), (flat > 0.95).mean(axis=1),
        sharpness, entropy,
    ])


def match_statistics(
    face_features: np.ndarray, candidate_features: np.ndarray, n_select: int, rng: np.random.Generator,
) -> np.ndarray:
    """Indices of ``n_select`` candidates whose trivial statistics resemble the faces' (greedy matching).

    Case-control matching: features are z-scored with the faces' mean and spread; faces are visited in
    random order, round after round, and each takes its nearest still-unused candidate (Euclidean), until
    ``n_select`` are taken. The chosen non-faces then have about the faces' distribution of brightness,
    contrast, clipping, sharpness and entropy, so those statistics stop predicting the class and a
    classifier has to use the image's structure. With fewer candidates than ``n_select`` all are returned.
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


def single_feature_auc(feature: np.ndarray, labels: np.ndarray) -> tuple[float, str]:
    """How well one statistic alone separates the classes: max(AUC, 1 - AUC) and which way faces lie."""
    if np.ptp(feature) == 0:
        return 0.5, "constant"
    auc = float(roc_auc_score(labels, feature))
    return (auc, "faces higher") if auc >= 0.5 else (1.0 - auc, "faces lower")


# ------------------------------------------------------------------------------------------ models
@dataclass(frozen=True)
class SearchConfig:
    """Cross-validation and hyper-parameter grids; ``quick`` shrinks them for CI smoke runs."""

    folds: int = 5
    logistic_C: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    svc_C: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    svc_gamma_scale: tuple[float, ...] = (0.1, 1.0, 10.0)
    """RBF gamma as multiples of 1/k: whitened components have unit variance, so |x|^2 ~ k."""
    forest_trees: int = 200

    @classmethod
    def quick(cls) -> SearchConfig:
        return cls(folds=3, logistic_C=(0.1, 1.0), svc_C=(1.0, 10.0), svc_gamma_scale=(1.0,), forest_trees=50)


def _cv(config: SearchConfig, seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=seed)


def _logistic(C: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=5000, class_weight="balanced")


SCORING = ("roc_auc", "balanced_accuracy")


def _auc_and_balanced_accuracy(cv_results: Mapping[str, np.ndarray]) -> int:
    """Refit rule: the candidate with the best CV ROC-AUC + balanced accuracy.

    ROC-AUC alone ignores the decision threshold: an RBF SVC with a tiny kernel width can rank every
    image correctly yet call them all non-faces (balanced accuracy 0.5). Adding balanced accuracy picks
    models whose predictions, not only their rankings, are good.
    """
    total = np.asarray(cv_results["mean_test_roc_auc"]) + np.asarray(cv_results["mean_test_balanced_accuracy"])
    return int(np.argmax(np.nan_to_num(total, nan=-np.inf)))


def _search(estimator, grid: Mapping[str, list], config: SearchConfig, seed: int) -> GridSearchCV:
    return GridSearchCV(estimator, dict(grid), scoring=list(SCORING), refit=_auc_and_balanced_accuracy,
                        cv=_cv(config, seed))


def whitened_pca(n_components: int, seed: int) -> PCA:
    """PCA keeping ``n_components``, whitened (unit variance per component); full SVD, deterministic."""
    return PCA(n_components=n_components, whiten=True, svd_solver="full", random_state=seed)


def pca_logistic(n_components: int, config: SearchConfig, seed: int) -> GridSearchCV:
    """Whitened PCA (k fixed by the variance rule) + logistic regression; C by CV (ROC-AUC + balanced acc.)."""
    pipe = Pipeline([("pca", whitened_pca(n_components, seed)),
                     ("clf", _logistic())])
    return _search(pipe, {"clf__C": list(config.logistic_C)}, config, seed)


def pca_svc(n_components: int, config: SearchConfig, seed: int) -> GridSearchCV:
    """Whitened PCA + RBF support-vector classifier, C and gamma chosen by CV (ROC-AUC + balanced accuracy)."""
    pipe = Pipeline([("pca", whitened_pca(n_components, seed)),
                     ("clf", SVC(kernel="rbf", class_weight="balanced"))])
    grid = {"clf__C": list(config.svc_C), "clf__gamma": [g / n_components for g in config.svc_gamma_scale]}
    return _search(pipe, grid, config, seed)


def raw_pixel_logistic(config: SearchConfig, seed: int) -> GridSearchCV:
    """The no-PCA baseline: logistic regression on every (standardised) pixel."""
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _logistic())])
    return _search(pipe, {"clf__C": list(config.logistic_C)}, config, seed)


def shortcut_logistic(config: SearchConfig, seed: int) -> GridSearchCV:
    """Logistic regression on ``shortcut_features``."""
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _logistic())])
    return _search(pipe, {"clf__C": list(config.logistic_C)}, config, seed)


def shortcut_forest(config: SearchConfig, seed: int) -> GridSearchCV:
    """A random forest on ``shortcut_features``: catches non-linear combinations (e.g. dark *and* smooth)."""
    forest = RandomForestClassifier(n_estimators=config.forest_trees, random_state=seed, n_jobs=1,
                                    class_weight="balanced")
    return _search(forest, {"min_samples_leaf": [1, 5]}, config, seed)


def max_components_in_cv(n_train: int, n_features: int, folds: int) -> int:
    """The most components a PCA can keep when fitted inside every CV training fold (with a margin of 2 for
    stratified folds of unequal size): a larger k from the variance rule is capped to this."""
    return max(1, min(n_features, n_train - -(-n_train // folds) - 2))


def variance_sweep(
    X: np.ndarray, y: np.ndarray, curve: VarianceCurve, targets: Sequence[float], config: SearchConfig, seed: int,
) -> list[tuple[float, int, float]]:
    """(target, k, CV ROC-AUC of whitened PCA(k) + logistic regression with C = 1) for each target.

    Diagnostic only: k for the headline models comes from the rule, never from this sweep. k is capped by
    ``max_components_in_cv``.
    """
    rows = []
    cap = max_components_in_cv(len(X), X.shape[1], config.folds)
    for target in sorted(set(targets)):
        k = min(components_for_variance(curve.ratios, target), cap)
        pipe = Pipeline([("pca", whitened_pca(k, seed)), ("clf", _logistic())])
        scores = cross_val_score(pipe, X, y, scoring="roc_auc", cv=_cv(config, seed))
        rows.append((float(target), k, float(scores.mean())))
    return rows


@dataclass
class DistanceFromFaceSpace:
    """Turk & Pentland's detector: a face is close to the span of the eigenfaces (fitted on faces only).

    The score is minus the squared reconstruction error, so larger = more face-like. The decision
    threshold is set on training data only: out-of-fold errors for the training faces (a face's own
    error would be optimistically small) and errors for the training non-faces, at the threshold that
    maximises balanced accuracy.
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
        self.threshold = best_threshold(labels, scores)
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


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (predict face when score >= t) maximising balanced accuracy on (labels, scores)."""
    candidates = np.unique(scores)
    pos, neg = labels == 1, labels == 0
    best, best_t = -1.0, float(candidates[0])
    for t in candidates:
        pred = scores >= t
        bacc = 0.5 * (pred[pos].mean() + (~pred[neg]).mean())
        if bacc > best:
            best, best_t = bacc, float(t)
    return best_t


# ---------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class MethodResult:
    """One method's held-out performance; ``scores`` are continuous (larger = more face-like)."""

    name: str
    description: str
    scores: np.ndarray
    predictions: np.ndarray
    roc_auc: float
    pr_auc: float
    balanced_accuracy: float
    confusion: np.ndarray
    cv_roc_auc: float | None = None
    params: str = ""

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """(true negatives, false positives, false negatives, true positives) on the test set."""
        tn, fp, fn, tp = (int(v) for v in self.confusion.ravel())
        return tn, fp, fn, tp


def evaluate(
    name: str, description: str, y_test: np.ndarray, scores: np.ndarray, predictions: np.ndarray,
    *, cv_roc_auc: float | None = None, params: str = "",
) -> MethodResult:
    """Held-out metrics: ROC-AUC and PR-AUC (average precision) from scores, the rest from predictions."""
    return MethodResult(
        name=name, description=description, scores=np.asarray(scores, dtype=float),
        predictions=np.asarray(predictions, dtype=int),
        roc_auc=float(roc_auc_score(y_test, scores)), pr_auc=float(average_precision_score(y_test, scores)),
        balanced_accuracy=float(balanced_accuracy_score(y_test, predictions)),
        confusion=confusion_matrix(y_test, predictions, labels=[NONFACE, FACE]),
        cv_roc_auc=cv_roc_auc, params=params,
    )


def evaluate_search(
    name: str, description: str, search: GridSearchCV, X_train: np.ndarray, y_train: np.ndarray,
    X_test: np.ndarray, y_test: np.ndarray,
) -> tuple[MethodResult, GridSearchCV]:
    """Fit a grid search on the training set and score its refitted best model on the test set."""
    search = clone(search).fit(X_train, y_train)
    model = search.best_estimator_
    scores = model.decision_function(X_test) if hasattr(model, "decision_function") else (
        model.predict_proba(X_test)[:, 1])
    params = ", ".join(f"{k.split('__')[-1]}={_fmt(v)}" for k, v in sorted(search.best_params_.items()))
    result = evaluate(name, description, y_test, scores, model.predict(X_test),
                      cv_roc_auc=float(search.cv_results_["mean_test_roc_auc"][search.best_index_]), params=params)
    return result, search


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _rank_auc(pos_scores: np.ndarray, neg_scores: np.ndarray) -> np.ndarray:
    """Row-wise ROC-AUC (Mann-Whitney, ties count half) for (B, n_pos) and (B, n_neg) score arrays."""
    n_pos, n_neg = pos_scores.shape[1], neg_scores.shape[1]
    ranks = rankdata(np.concatenate([pos_scores, neg_scores], axis=1), axis=1)
    return (ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass(frozen=True)
class BootstrapAUC:
    """Percentile intervals (95%) from a stratified bootstrap of the test set, resampled jointly."""

    intervals: dict[str, tuple[float, float]]
    difference: tuple[float, float, float]
    """(mean, low, high) of AUC(first) - AUC(second) over the same resamples (paired)."""
    resamples: int


def bootstrap_auc(
    y_test: np.ndarray, scores: Mapping[str, np.ndarray], pair: tuple[str, str], resamples: int,
    rng: np.random.Generator,
) -> BootstrapAUC:
    """95% intervals for each method's ROC-AUC and for the paired difference ``pair[0] - pair[1]``.

    Faces and non-faces are resampled separately (the test set's class sizes stay fixed), and every
    method sees the same resamples, so the difference's interval accounts for their correlation.
    """
    pos, neg = np.nonzero(y_test == FACE)[0], np.nonzero(y_test == NONFACE)[0]
    pos_idx = rng.choice(pos, size=(resamples, len(pos)))
    neg_idx = rng.choice(neg, size=(resamples, len(neg)))
    aucs = {name: _rank_auc(s[pos_idx], s[neg_idx]) for name, s in scores.items()}
    intervals = {name: (float(np.percentile(a, 2.5)), float(np.percentile(a, 97.5))) for name, a in aucs.items()}
    diff = aucs[pair[0]] - aucs[pair[1]]
    return BootstrapAUC(
        intervals=intervals,
        difference=(float(diff.mean()), float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))),
        resamples=resamples,
    )


# ----------------------------------------------------------------------------------------- data assembly
MIN_PER_CLASS = 10
POOL_FACTOR = 10
"""Non-face candidates drawn per non-face kept, for the matching (CIFAR-10)."""


@dataclass(frozen=True)
class DataRequest:
    """Where the study's images come from and how many to keep (the experiment's data flags)."""

    faces: Path | None = None
    """``--faces``: a folder of face images (a labelled layout also supplies non-faces)."""
    olivetti: Path | None = None
    """``--olivetti``: scikit-learn's Olivetti cache file or data home."""
    cifar: Path | None = None
    """``--cifar``: CIFAR-10 python batches (non-faces)."""
    image_size: int = 24
    max_per_class: int = 2000
    nonfaces_per_face: float = 2.0
    patches: int = 2000
    """Offline default only: candidate patches from scikit-image's sample photographs."""
    match: bool = True
    """Keep the non-faces whose trivial statistics match the faces' (else a random subset of the pool)."""


@dataclass
class Part:
    """Images of one class from one source, already grey and resized."""

    images: np.ndarray
    label: int
    origins: tuple[str, ...]
    original_shapes: np.ndarray
    source: str
    is_fallback: bool


def _subset(part: Part, limit: int, rng: np.random.Generator) -> Part:
    if len(part.images) <= limit:
        return part
    keep = np.sort(rng.choice(len(part.images), size=limit, replace=False))
    return Part(part.images[keep], part.label, tuple(part.origins[i] for i in keep), part.original_shapes[keep],
                part.source, part.is_fallback)


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack([to_square(img, size) for img in images]) if len(images) else np.empty((0, size, size))


def _face_parts(request: DataRequest, rng: np.random.Generator) -> tuple[list[Part], list[Part]]:
    from dlplayground.data.olivetti import load_face_images, load_olivetti

    size = request.image_size
    faces: list[Part] = []
    nonfaces: list[Part] = []
    if request.faces is not None:
        folder = load_face_folder(request.faces, size, limit=request.max_per_class, rng=rng)
        f = folder.faces
        faces.append(Part(f.images, FACE, ("faces folder",) * len(f.images), f.original_shapes,
                          f"{len(f.images)} faces from {str(folder.root)} ({folder.layout}; {f.n_resized} resized "
                          f"to {size}x{size})", False))
        if folder.nonfaces is not None:
            n = folder.nonfaces
            nonfaces.append(Part(n.images, NONFACE, ("faces folder non-faces",) * len(n.images), n.original_shapes,
                                 f"{len(n.images)} non-faces from {str(folder.root)}", False))
    if request.olivetti is not None or request.faces is None:
        loaded = load_olivetti(request.olivetti) if request.olivetti is not None else load_face_images(None)
        origin = "lfw_subset faces" if loaded.is_fallback else "olivetti"
        shapes = np.tile(np.asarray(loaded.images.shape[1:]), (len(loaded.images), 1))
        faces.append(Part(_resize_all(loaded.images, size), FACE, (origin,) * len(loaded.images), shapes,
                          loaded.source, loaded.is_fallback))
    return faces, nonfaces


def _cifar_part(request: DataRequest, limit: int, rng: np.random.Generator) -> Part:
    from dlplayground.data.cifar10 import load_cifar10

    cifar = load_cifar10(request.cifar)
    keep = np.sort(rng.choice(len(cifar.images), size=min(limit, len(cifar.images)), replace=False))
    grey = rgb_to_grey(cifar.images[keep])
    origins = tuple(f"cifar:{cifar.label_names[i]}" for i in cifar.labels[keep])
    shapes = np.tile(np.asarray(cifar.images.shape[1:3]), (len(keep), 1))
    return Part(_resize_all(grey, request.image_size), NONFACE, origins, shapes,
                f"{len(keep)} of {cifar.source}", False)


@dataclass
class Dataset:
    """The assembled data and how it was made (sources, matching, the confound check's sample)."""

    data: LabelledImages
    source: str
    fallback: bool
    matched: bool
    pool_size: int
    unmatched_features: np.ndarray
    """Trivial statistics of a random subset of the non-face pool, as many as were kept: the confound check."""


def load_data(
    request: DataRequest, rng: np.random.Generator, announce: Callable[[str], None] = lambda message: None,
) -> Dataset:
    """Assemble faces and non-faces from the paths given (or the offline default); announce each source.

    The non-face *pool* (CIFAR-10 images, a labelled folder's non-faces, or the offline patches) is larger
    than needed; if ``request.match``, the kept non-faces are those whose trivial statistics best match
    the faces' (``match_statistics``), otherwise a random subset.
    """
    faces, pool_parts = _face_parts(request, rng)
    n_faces = sum(len(p.images) for p in faces)
    if n_faces < MIN_PER_CLASS:
        raise UserInputError(
            f"only {n_faces} face images ({'; '.join(p.source for p in faces)}); the study needs at least "
            f"{MIN_PER_CLASS} per class"
        )
    merged_faces = _subset(_merge(faces), request.max_per_class, rng)
    n_faces = len(merged_faces.images)
    wanted = max(MIN_PER_CLASS, min(request.max_per_class, int(round(request.nonfaces_per_face * n_faces))))
    if request.cifar is not None:
        pool_limit = wanted if not request.match else max(POOL_FACTOR * wanted, 2000)
        pool_parts.append(_cifar_part(request, pool_limit, rng))
    if not pool_parts:
        offline = offline_nonfaces(request.image_size, request.patches, rng)
        pool_parts.append(Part(offline.images, NONFACE, offline.origins, offline.original_shapes, offline.source,
                               True))
    for part in faces:
        announce(f"faces: {part.source}")
    for part in pool_parts:
        announce(f"non-face pool: {part.source}")
    pool = _merge(pool_parts)
    if len(pool.images) < MIN_PER_CLASS:
        raise UserInputError(
            f"only {len(pool.images)} non-face images ({'; '.join(p.source for p in pool_parts)}); the study "
            f"needs at least {MIN_PER_CLASS} per class"
        )
    pool_stats = shortcut_features(pool.images)
    n_keep = min(wanted, len(pool.images))
    random_keep = np.sort(rng.choice(len(pool.images), size=n_keep, replace=False))
    matched = bool(request.match) and len(pool.images) > wanted
    if matched:
        keep = match_statistics(shortcut_features(merged_faces.images), pool_stats, n_keep, rng)
        how = f"{n_keep} of {len(pool.images)} matched to the faces on trivial statistics"
    else:
        keep = random_keep
        how = f"random {n_keep} of {len(pool.images)}" if n_keep < len(pool.images) else f"all {n_keep}"
    announce(f"non-faces kept: {how}")
    nonfaces = Part(pool.images[keep], NONFACE, tuple(pool.origins[i] for i in keep), pool.original_shapes[keep],
                    pool.source, pool.is_fallback)
    data = LabelledImages(
        images=np.concatenate([merged_faces.images, nonfaces.images]),
        labels=np.concatenate([np.full(n_faces, FACE), np.full(n_keep, NONFACE)]),
        origins=merged_faces.origins + nonfaces.origins,
        original_shapes=np.concatenate([merged_faces.original_shapes, nonfaces.original_shapes]),
    )
    fallback = merged_faces.is_fallback or pool.is_fallback
    source = (f"faces: {merged_faces.source} | non-faces ({how}): {pool.source}")
    return Dataset(data=data, source=source, fallback=fallback, matched=matched, pool_size=len(pool.images),
                   unmatched_features=pool_stats[random_keep])


def _merge(parts: Sequence[Part]) -> Part:
    return Part(
        np.concatenate([p.images for p in parts]), parts[0].label,
        tuple(o for p in parts for o in p.origins), np.concatenate([p.original_shapes for p in parts]),
        "; ".join(p.source for p in parts), any(p.is_fallback for p in parts),
    )
