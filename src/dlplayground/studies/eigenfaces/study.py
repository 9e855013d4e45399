"""Eigenfaces: can PCA features tell a face from a non-face -- or only one data set from another?

**Question.** Project grey-scale images onto their principal components ("eigenfaces"), keep enough
components to explain a target share of the variance, and train a linear or kernel classifier on the
whitened projections. Does that separate faces from non-faces on held-out images -- and does it do so
because it learned what faces look like, or because the face images and the non-face images come from
different sources that differ in brightness, contrast or sharpness?

**Method.**

1. Data. Faces from ``--faces DIR`` (a folder of images, Kaggle-style; a sub-folder named ``non_face``,
   ``background`` or ``negative`` supplies non-faces) and/or ``--olivetti PATH``; non-faces from
   ``--cifar DIR`` (CIFAR-10 python batches, read with a restricted unpickler). With no paths, the
   offline default is scikit-image's ``lfw_subset`` (100 faces, 100 non-faces) plus non-face patches cut
   from scikit-image's sample photographs -- announced in the output. Every image, whatever its source,
   is converted to grey with the same BT.601 weights, centre-cropped to a square and resized to
   ``--image-size`` pixels with the same anti-aliased resize, then standardised per image (zero mean,
   unit contrast) before any PCA or classifier sees it.
   Non-faces are drawn from a larger *pool* and, unless ``--no-match``, the ones kept
   (``--nonfaces-per-face`` per face) are those whose trivial statistics best match the faces'
   (case-control matching). Without that, faces and non-faces from different sources differ so much in
   brightness, contrast and sharpness that any classifier looks good: on the offline data, those
   statistics alone separate faces from the unmatched pool with ROC-AUC about 0.97.
2. A stratified held-out test set (``--test-fraction``), untouched until the final scores.
3. PCA fitted on the training images; ``k`` = the smallest number of components whose cumulative
   explained variance reaches ``--variance``. A sweep over other targets (cross-validated ROC-AUC on the
   training set) shows what the choice costs; it does not pick ``k``.
4. Whitened PCA(k) + logistic regression, and + an RBF SVC (both class-balanced), hyper-parameters by
   stratified k-fold CV on the sum of ROC-AUC and balanced accuracy (AUC alone would accept a model that
   ranks well but thresholds everything into one class); the one with the better CV ROC-AUC is the
   headline classifier.
5. Baselines: logistic regression on raw pixels (no PCA); the *shortcut* baseline -- logistic regression
   and a random forest on eight trivial, position-free statistics of each image (mean, std, 5th/95th
   percentile, dark and bright clipping, sharpness, histogram entropy), computed before the per-image
   standardisation so brightness and contrast are available to it; and Turk & Pentland's
   distance-from-face-space detector (reconstruction error under eigenfaces fitted on faces only).
6. Test-set ROC-AUC, PR-AUC, balanced accuracy and confusion matrices, with 95% intervals from a
   stratified bootstrap of the test set; the classifier's gain over the strongest shortcut baseline
   (picked by its *test* AUC, which favours the shortcut) gets a paired-bootstrap interval.

**How to read the result.** The verdict answers the question: the classifier beats the shortcut only
if the paired interval of the AUC gain excludes zero. A high shortcut AUC means the two classes differ
in trivial ways; a classifier can then score well without knowing anything about faces, so its accuracy
alone is no evidence. The "which trivial statistic" table shows which statistic gives the sources away
after matching, and the metric ``unmatched_pool_shortcut_cv_roc_auc`` how much it gave away before. The
figures show the mean face and eigenfaces, the explained-variance curve with the chosen ``k``, ROC and
precision-recall curves, and the test images the classifier gets wrong.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from threadpoolctl import threadpool_limits

from dlplayground.errors import UserInputError
from dlplayground.results import Figure, StudyResult, Table
from dlplayground.seeding import numpy_rng
from dlplayground.studies.eigenfaces.pipeline import (
    FACE,
    MIN_PER_CLASS,
    NONFACE,
    SHORTCUT_FEATURES,
    BootstrapAUC,
    DataRequest,
    Dataset,
    DistanceFromFaceSpace,
    LabelledImages,
    MethodResult,
    SearchConfig,
    VarianceCurve,
    bootstrap_auc,
    evaluate,
    evaluate_search,
    load_data,
    max_components_in_cv,
    pca_logistic,
    pca_svc,
    raw_pixel_logistic,
    shortcut_features,
    shortcut_forest,
    shortcut_logistic,
    single_feature_auc,
    standardise_images,
    variance_curve,
    variance_sweep,
)
from dlplayground.studies.runner import common_parser, progress, run_experiment

matplotlib.use("Agg")  # figures are files; never open a window

STUDY = "eigenfaces"
QUESTION = ("Do whitened-PCA (eigenface) features let a classifier tell faces from non-faces on held-out "
            "images, beyond what trivial image statistics of the data sources reveal?")
SWEEP_TARGETS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
QUICK_SWEEP_TARGETS = (0.6, 0.8, 0.9, 0.95, 0.99)


# ---------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__)
    data = parser.add_argument_group("data (no paths: offline scikit-image data, announced)")
    data.add_argument("--faces", type=Path, default=None, metavar="DIR",
                      help="folder of face images (any depth, any common format); images under a folder named "
                           "non_face/background/negative are non-faces")
    data.add_argument("--olivetti", type=Path, default=None, metavar="PATH",
                      help="scikit-learn's olivetti_py3.pkz, or the data home holding it (faces)")
    data.add_argument("--cifar", type=Path, default=None, metavar="DIR",
                      help="CIFAR-10 python batches: cifar-10-batches-py/, its parent, or cifar-10-python.tar.gz "
                           "(non-faces)")
    study = parser.add_argument_group("study")
    study.add_argument("--variance", type=float, default=0.95,
                       help="explained-variance target that picks the number of PCA components (default 0.95)")
    study.add_argument("--image-size", type=int, default=24, metavar="PX",
                       help="side of the square grey images every source is resized to (default 24)")
    study.add_argument("--test-fraction", type=float, default=0.25,
                       help="share of each class held out for the final test (default 0.25)")
    study.add_argument("--max-per-class", type=int, default=2000, metavar="N",
                       help="random subset of at most N images per class (default 2000)")
    study.add_argument("--nonfaces-per-face", type=float, default=2.0, metavar="R",
                       help="cap the non-face class at R x the number of faces (default 2)")
    study.add_argument("--patches", type=int, default=2000, metavar="N",
                       help="offline default only: candidate non-face patches cut from scikit-image sample "
                            "photos, before matching (default 2000)")
    study.add_argument("--no-match", action="store_true",
                       help="keep a random subset of the non-face pool instead of the one matched to the faces "
                            "on trivial statistics (shows the raw source confound)")
    return parser


def validate(args: argparse.Namespace) -> None:
    """Reject bad numbers before any data is read."""
    if not (0.0 < args.variance <= 1.0) or math.isnan(args.variance):
        raise UserInputError(f"--variance must be in (0, 1] (a share of explained variance), got {args.variance}")
    if not 8 <= args.image_size <= 128:
        raise UserInputError(f"--image-size must be between 8 and 128 pixels, got {args.image_size}")
    if not (0.1 <= args.test_fraction <= 0.5):
        raise UserInputError(f"--test-fraction must be between 0.1 and 0.5, got {args.test_fraction}")
    if args.max_per_class < MIN_PER_CLASS:
        raise UserInputError(f"--max-per-class must be >= {MIN_PER_CLASS}, got {args.max_per_class}")
    if not args.nonfaces_per_face > 0 or math.isinf(args.nonfaces_per_face):
        raise UserInputError(f"--nonfaces-per-face must be a positive number, got {args.nonfaces_per_face}")
    if args.patches < 0:
        raise UserInputError(f"--patches must be >= 0, got {args.patches}")
    for flag, path in (("--faces", args.faces), ("--olivetti", args.olivetti), ("--cifar", args.cifar)):
        if path is not None and not Path(path).expanduser().exists():
            raise UserInputError(f"{flag} {str(path)!r}: no such file or folder")


def request_of(args: argparse.Namespace) -> DataRequest:
    return DataRequest(faces=args.faces, olivetti=args.olivetti, cifar=args.cifar, image_size=args.image_size,
                       max_per_class=args.max_per_class, nonfaces_per_face=args.nonfaces_per_face,
                       patches=args.patches, match=not args.no_match)


# ---------------------------------------------------------------------------------------------- study
class Outcome(NamedTuple):
    """Everything the figures, tables and verdict are made from."""

    data: LabelledImages
    test_idx: np.ndarray
    curve_all: VarianceCurve
    n_components: int
    """k used by the PCA classifiers: the rule's pick, capped so PCA fits in every CV training fold."""
    curve_faces: VarianceCurve
    sweep: list[tuple[float, int, float]]
    methods: dict[str, MethodResult]
    headline: str
    shortcut: str
    dffs: DistanceFromFaceSpace
    boot: BootstrapAUC
    feature_aucs: list[list[object]]
    pool_shortcut_cv_auc: float
    """CV ROC-AUC of the shortcut forest on faces vs. a random sample of the unmatched non-face pool."""


def run_study(args: argparse.Namespace, dataset: Dataset) -> Outcome:
    seed = args.seed
    data = dataset.data
    config = SearchConfig.quick() if args.quick else SearchConfig()
    idx = np.arange(len(data.labels))
    train_idx, test_idx = train_test_split(idx, test_size=args.test_fraction, stratify=data.labels,
                                           random_state=seed)
    y_train, y_test = data.labels[train_idx], data.labels[test_idx]
    smallest = int(np.bincount(y_train).min())
    if smallest < config.folds:
        config = SearchConfig(**{**config.__dict__, "folds": max(2, smallest)})
    X = standardise_images(data.images)
    X_train, X_test = X[train_idx], X[test_idx]
    stats = shortcut_features(data.images)

    progress(f"PCA on {len(train_idx)} training images ({data.size}x{data.size} px)")
    curve_all = variance_curve(X_train, args.variance, seed)
    k = min(curve_all.n_components, max_components_in_cv(len(X_train), X_train.shape[1], config.folds))
    capped = f" (rule gives {curve_all.n_components}; capped to fit the CV folds)" if k < curve_all.n_components else ""
    progress(f"explained variance {args.variance:.0%} -> k = {k} components{capped}; sweeping other targets")
    targets = (*(QUICK_SWEEP_TARGETS if args.quick else SWEEP_TARGETS), args.variance)
    sweep = variance_sweep(X_train, y_train, curve_all, targets, config, seed)

    methods: dict[str, MethodResult] = {}
    specs = [
        ("PCA + logistic", f"whitened PCA (k={k}) + logistic regression", pca_logistic(k, config, seed), X),
        ("PCA + SVC", f"whitened PCA (k={k}) + RBF SVC", pca_svc(k, config, seed), X),
        ("raw pixels + logistic", "logistic regression on all standardised pixels, no PCA",
         raw_pixel_logistic(config, seed), X),
        ("shortcut: logistic", "logistic regression on 8 trivial image statistics", shortcut_logistic(config, seed),
         stats),
        ("shortcut: forest", "random forest on 8 trivial image statistics", shortcut_forest(config, seed), stats),
    ]
    for name, description, search, features in specs:
        progress(f"fitting {name} (CV {config.folds}-fold)")
        methods[name], _ = evaluate_search(name, description, search, features[train_idx], y_train,
                                           features[test_idx], y_test)
    progress("fitting distance-from-face-space detector (eigenfaces of training faces only)")
    dffs = DistanceFromFaceSpace(target=args.variance, seed=seed, folds=config.folds).fit(X_train, y_train)
    methods["distance from face space"] = evaluate(
        "distance from face space",
        f"reconstruction error under eigenfaces of training faces (k={dffs.curve.n_components})",
        y_test, dffs.score(X_test), dffs.predict(X_test), params=f"threshold={dffs.threshold:.3g}",
    )
    headline = max(("PCA + logistic", "PCA + SVC"), key=lambda m: methods[m].cv_roc_auc or 0.0)
    shortcut = max(("shortcut: logistic", "shortcut: forest"), key=lambda m: methods[m].roc_auc)
    rng = numpy_rng(seed + 1)
    boot = bootstrap_auc(y_test, {m: r.scores for m, r in methods.items()}, (headline, shortcut),
                         200 if args.quick else 2000, rng)

    feature_aucs: list[list[object]] = []
    for j, name in enumerate(SHORTCUT_FEATURES):
        auc, direction = single_feature_auc(stats[train_idx, j], y_train)
        faces_mean = float(stats[train_idx][y_train == FACE, j].mean())
        nonfaces_mean = float(stats[train_idx][y_train == NONFACE, j].mean())
        feature_aucs.append([name, round(auc, 3), direction, round(faces_mean, 4), round(nonfaces_mean, 4)])
    side = np.sqrt(data.original_shapes[:, 0] * data.original_shapes[:, 1])
    auc, direction = single_feature_auc(side[train_idx], y_train)
    feature_aucs.append(["original side px (metadata; no model sees it)", round(auc, 3), direction,
                         round(float(side[train_idx][y_train == FACE].mean()), 1),
                         round(float(side[train_idx][y_train == NONFACE].mean()), 1)])
    feature_aucs.sort(key=lambda row: -float(row[1]))

    # The confound check: how well would trivial statistics separate faces from the pool as drawn?
    pool_X = np.concatenate([stats[data.labels == FACE], dataset.unmatched_features])
    pool_y = np.concatenate([np.full(data.n_faces, FACE), np.full(len(dataset.unmatched_features), NONFACE)])
    pool_auc = float(cross_val_score(shortcut_forest(config, seed).estimator, pool_X, pool_y, scoring="roc_auc",
                                     cv=StratifiedKFold(config.folds, shuffle=True, random_state=seed)).mean())
    return Outcome(data, test_idx, curve_all, k, dffs.curve, sweep, methods, headline, shortcut, dffs, boot,
                   feature_aucs, pool_auc)


# -------------------------------------------------------------------------------------------- figures
def _image_grid(ax, image: np.ndarray, title: str, *, signed: bool = False) -> None:
    if signed:
        lim = float(np.abs(image).max()) or 1.0
        ax.imshow(image, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def figure_samples(out: Outcome, path: Path, rng: np.random.Generator) -> None:
    data = out.data
    fig, axes = plt.subplots(2, 10, figsize=(10, 2.8))
    for row, (label, name) in enumerate(((FACE, "faces"), (NONFACE, "non-faces"))):
        members = np.nonzero(data.labels == label)[0]
        pick = rng.choice(members, size=min(10, len(members)), replace=False)
        for c, ax in enumerate(axes[row]):
            if c < len(pick):
                _image_grid(ax, data.images[pick[c]], data.origins[pick[c]].replace("skimage:", "")[:16])
            else:
                ax.axis("off")
        axes[row, 0].text(-0.15, 0.5, name, transform=axes[row, 0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=8)
    fig.suptitle(f"Random images after the shared grey conversion and resize ({data.size}x{data.size})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_eigenfaces(out: Outcome, path: Path) -> None:
    pca = out.dffs.pca
    size = out.data.size
    n_show = min(11, pca.n_components_)
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.4))
    axes = axes.ravel()
    mean_face = pca.mean_.reshape(size, size)
    axes[0].imshow(mean_face, cmap="gray")
    axes[0].set_title("mean face\n(standardised)", fontsize=7)
    axes[0].axis("off")
    for i in range(1, 12):
        if i - 1 < n_show:
            _image_grid(axes[i], pca.components_[i - 1].reshape(size, size),
                        f"eigenface {i}\n{pca.explained_variance_ratio_[i - 1]:.1%} var", signed=True)
        else:
            axes[i].axis("off")
    fig.suptitle("Mean face and top eigenfaces (PCA of the training faces only; red +, blue -)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_variance(out: Outcome, target: float, path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for curve, label in ((out.curve_all, "all training images"), (out.curve_faces, "training faces only")):
        ks = np.arange(1, len(curve.ratios) + 1)
        left.plot(ks, curve.cumulative, label=f"{label} (k={curve.n_components})")
        left.axvline(curve.n_components, ls=":", color=left.lines[-1].get_color())
    left.axhline(target, color="grey", ls="--", lw=1, label=f"target {target:.0%}")
    left.set_xscale("log")
    left.set_xlabel("number of components k")
    left.set_ylabel("cumulative explained variance")
    left.set_title("Explained variance", fontsize=10)
    left.legend(fontsize=8)
    ks = [k for _, k, _ in out.sweep]
    aucs = [a for _, _, a in out.sweep]
    right.plot(ks, aucs, "o-")
    for t, k, a in out.sweep:
        right.annotate(f"{t:.0%}", (k, a), textcoords="offset points", xytext=(2, 4), fontsize=7)
    right.axvline(out.n_components, color="grey", ls="--", lw=1, label="k chosen by the rule")
    right.set_xscale("log")
    right.set_xlabel("number of components k (label: variance target)")
    right.set_ylabel("CV ROC-AUC (training set)")
    right.set_title("Sweep: whitened PCA(k) + logistic regression", fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_roc(out: Outcome, path: Path) -> None:
    y_test = out.data.labels[out.test_idx]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, result in out.methods.items():
        style = "--" if name.startswith("shortcut") else "-"
        fpr, tpr, _ = roc_curve(y_test, result.scores)
        left.plot(fpr, tpr, style, label=f"{name} ({result.roc_auc:.3f})")
        precision, recall, _ = precision_recall_curve(y_test, result.scores)
        right.plot(recall, precision, style, label=f"{name} ({result.pr_auc:.3f})")
    left.plot([0, 1], [0, 1], color="grey", lw=0.8)
    left.set_xlabel("false positive rate (non-faces called faces)")
    left.set_ylabel("true positive rate (faces found)")
    left.set_title("ROC, held-out test set (AUC)", fontsize=10)
    right.axhline(float(np.mean(y_test == FACE)), color="grey", lw=0.8, label="chance")
    right.set_xlabel("recall (faces)")
    right.set_ylabel("precision")
    right.set_title("Precision-recall (average precision)", fontsize=10)
    for ax in (left, right):
        ax.legend(fontsize=7, loc="lower left" if ax is right else "lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_errors(out: Outcome, path: Path) -> tuple[int, int]:
    """False positives and false negatives of the headline classifier (closest calls when there are none)."""
    result = out.methods[out.headline]
    y_test = out.data.labels[out.test_idx]
    images = out.data.images[out.test_idx]
    origins = [out.data.origins[i] for i in out.test_idx]
    wrong_pos = np.nonzero((y_test == NONFACE) & (result.predictions == FACE))[0]
    wrong_neg = np.nonzero((y_test == FACE) & (result.predictions == NONFACE))[0]
    rows = [
        ("non-faces called faces", wrong_pos[np.argsort(-result.scores[wrong_pos])],
         np.argsort(-np.where(y_test == NONFACE, result.scores, -np.inf))),
        ("faces missed", wrong_neg[np.argsort(result.scores[wrong_neg])],
         np.argsort(np.where(y_test == FACE, result.scores, np.inf))),
    ]
    fig, axes = plt.subplots(2, 8, figsize=(10, 3.2))
    for r, (title, errors, closest) in enumerate(rows):
        shown = errors[:8] if len(errors) else closest[:8]
        label = f"{title} ({len(errors)})" if len(errors) else f"{title}: none -- closest calls"
        for c in range(8):
            ax = axes[r, c]
            if c < len(shown):
                i = shown[c]
                _image_grid(ax, images[i], f"{origins[i][:16]}\nscore {result.scores[i]:.2f}")
            else:
                ax.axis("off")
        axes[r, 0].text(-0.15, 0.5, label, transform=axes[r, 0].transAxes, rotation=90, va="center",
                        ha="right", fontsize=7)
    fig.suptitle(f"Test-set errors of {out.headline} (score: decision value; > 0 means face for SVC, "
                 "log-odds for logistic)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return len(wrong_pos), len(wrong_neg)


# ----------------------------------------------------------------------------------------- reporting
def _data_table(data: LabelledImages, stats: np.ndarray) -> Table:
    rows = []
    for label, name in ((FACE, "face"), (NONFACE, "non-face")):
        mask = data.labels == label
        groups = sorted({o for o, m in zip(data.origins, mask, strict=True) if m})
        for origin in groups:
            sel = mask & np.array([o == origin for o in data.origins])
            shapes = data.original_shapes[sel]
            size_text = (f"{shapes[:, 0].min()}x{shapes[:, 1].min()}" if (shapes == shapes[0]).all()
                         else f"{shapes.min()}-{shapes.max()} px")
            rows.append([name, origin, int(sel.sum()), size_text,
                         round(float(stats[sel, 0].mean()), 3), round(float(stats[sel, 1].mean()), 3),
                         round(float(stats[sel, 6].mean()), 4)])
    return Table(
        "Data by class and origin", ["class", "origin", "images", "original size", "mean brightness",
                                      "mean contrast (std)", "mean sharpness"], rows,
        note=(f"All images: grey (BT.601), centre-cropped square, resized to {data.size}x{data.size}; models see "
              "them standardised per image. Brightness, contrast and sharpness are measured before that step."),
    )


def _methods_table(out: Outcome) -> Table:
    rows = []
    for name, r in out.methods.items():
        lo, hi = out.boot.intervals[name]
        tn, fp, fn, tp = r.counts
        rows.append([name, round(r.roc_auc, 3), f"[{lo:.3f}, {hi:.3f}]", round(r.pr_auc, 3),
                     round(r.balanced_accuracy, 3), tn, fp, fn, tp,
                     None if r.cv_roc_auc is None else round(r.cv_roc_auc, 3), r.params, r.description])
    return Table(
        "Held-out test set: faces (positive) vs. non-faces", [
            "method", "ROC-AUC", "95% CI", "PR-AUC", "balanced acc.", "TN", "FP", "FN", "TP", "CV ROC-AUC",
            "hyper-parameters", "what it is"], rows,
        note=(f"CI: stratified bootstrap of the test set ({out.boot.resamples} resamples). TN/FP/FN/TP: confusion "
              "matrix at each method's own threshold (0.5 probability, SVC decision 0, DFFS threshold set on "
              "training data). CV ROC-AUC: best cross-validated score on the training set."),
    )


def _verdict(out: Outcome, args: argparse.Namespace, dataset: Dataset) -> str:
    best, short = out.methods[out.headline], out.methods[out.shortcut]
    raw, dffs = out.methods["raw pixels + logistic"], out.methods["distance from face space"]
    gain, lo, hi = out.boot.difference
    blo, bhi = out.boot.intervals[out.headline]
    head = (f"{out.headline} (whitened PCA, k={out.n_components} components for {args.variance:.0%} variance) "
            f"reaches test ROC-AUC {best.roc_auc:.3f} [{blo:.3f}, {bhi:.3f}], balanced accuracy "
            f"{best.balanced_accuracy:.3f}; the strongest shortcut baseline ({out.shortcut}, trivial image "
            f"statistics only) reaches {short.roc_auc:.3f}.")
    if lo > 0:
        verdict = (f"Yes, on this data the eigenface classifier uses more than the sources' trivial statistics: "
                   f"{head} The gain of {gain:+.3f} AUC has a 95% paired-bootstrap interval [{lo:+.3f}, {hi:+.3f}] "
                   "that excludes 0.")
    elif hi < 0:
        verdict = (f"No: the shortcut beats the eigenface classifier. {head} Gain {gain:+.3f} AUC, 95% interval "
                   f"[{lo:+.3f}, {hi:+.3f}]: trivial statistics of the sources separate the classes better.")
    else:
        verdict = (f"Not shown: {head} The gain of {gain:+.3f} AUC has a 95% interval [{lo:+.3f}, {hi:+.3f}] "
                   "that includes 0, so this data cannot tell face learning from source learning.")
    image_stats = [row for row in out.feature_aucs if "metadata" not in str(row[0])]
    if dataset.matched:
        verdict += (f" The non-faces were matched to the faces on those statistics; before matching they separated "
                    f"faces from the non-face pool with CV ROC-AUC {out.pool_shortcut_cv_auc:.3f}, so an unmatched "
                    "comparison would mostly measure the data source.")
    elif out.pool_shortcut_cv_auc >= 0.8:
        verdict += (f" Caution: the non-faces were not matched and trivial statistics alone separate the sources "
                    f"(CV ROC-AUC {out.pool_shortcut_cv_auc:.3f}; {image_stats[0][0]} best), so accuracy alone "
                    "overstates face detection.")
    if short.roc_auc >= 0.8 and dataset.matched:
        verdict += (f" Even after matching, the shortcut reaches {short.roc_auc:.3f}: the joint statistics still "
                    "differ, so read the gain, not the classifier's AUC.")
    versus_raw = "falls short of" if raw.roc_auc > best.roc_auc else "matches or beats"
    verdict += (f" The PCA classifier {versus_raw} logistic regression on raw pixels ({raw.roc_auc:.3f}, no PCA); "
                f"the distance-from-face-space detector "
                f"(eigenfaces of faces only, no non-faces in training) reaches {dffs.roc_auc:.3f}.")
    return verdict


# ----------------------------------------------------------------------------------------------- body
def body(args: argparse.Namespace, out_dir: Path) -> StudyResult:
    validate(args)
    rng = numpy_rng(args.seed)
    dataset = load_data(request_of(args), rng, announce=progress)
    data, source = dataset.data, dataset.source
    if dataset.fallback:
        progress("using offline data shipped with scikit-image (pass --faces DIR / --olivetti PATH / --cifar DIR "
                 "for real data)")
    progress(f"{data.n_faces} faces, {data.n_nonfaces} non-faces at {data.size}x{data.size} px")
    # The matrices here are small (hundreds of images x hundreds of pixels): BLAS threads only add overhead,
    # and on a shared machine oversubscription made the run several times slower. One thread, same results.
    with threadpool_limits(limits=1):
        out = run_study(args, dataset)

    figure_samples(out, out_dir / "samples.png", numpy_rng(args.seed + 2))
    figure_eigenfaces(out, out_dir / "eigenfaces.png")
    figure_variance(out, args.variance, out_dir / "explained_variance.png")
    figure_roc(out, out_dir / "roc.png")
    n_fp, n_fn = figure_errors(out, out_dir / "errors.png")

    best, short = out.methods[out.headline], out.methods[out.shortcut]
    gain, lo, hi = out.boot.difference
    blo, bhi = out.boot.intervals[out.headline]
    k = out.n_components
    metrics: dict[str, float | int | str | None] = {
        "n_faces": data.n_faces, "n_nonfaces": data.n_nonfaces, "n_test": len(out.test_idx),
        "image_size_px": data.size, "variance_target": args.variance, "n_components": k,
        "n_components_rule": out.curve_all.n_components,
        "n_components_faces_only": out.curve_faces.n_components,
        "explained_variance_at_k": round(float(out.curve_all.cumulative[k - 1]), 4),
        "classifier": out.headline, "classifier_roc_auc": round(best.roc_auc, 4),
        "classifier_roc_auc_ci_low": round(blo, 4), "classifier_roc_auc_ci_high": round(bhi, 4),
        "classifier_pr_auc": round(best.pr_auc, 4), "classifier_balanced_accuracy": round(best.balanced_accuracy, 4),
        "shortcut_baseline": out.shortcut, "shortcut_roc_auc": round(short.roc_auc, 4),
        "shortcut_balanced_accuracy": round(short.balanced_accuracy, 4),
        "auc_gain_over_shortcut": round(gain, 4), "auc_gain_ci_low": round(lo, 4), "auc_gain_ci_high": round(hi, 4),
        "raw_pixel_roc_auc": round(out.methods["raw pixels + logistic"].roc_auc, 4),
        "pca_logistic_roc_auc": round(out.methods["PCA + logistic"].roc_auc, 4),
        "pca_svc_roc_auc": round(out.methods["PCA + SVC"].roc_auc, 4),
        "dffs_roc_auc": round(out.methods["distance from face space"].roc_auc, 4),
        "false_positives": n_fp, "false_negatives": n_fn,
        "nonfaces_matched": "yes" if dataset.matched else "no", "nonface_pool_size": dataset.pool_size,
        "unmatched_pool_shortcut_cv_roc_auc": round(out.pool_shortcut_cv_auc, 4),
    }
    stats = shortcut_features(data.images)
    tables = [
        _methods_table(out),
        Table("Explained-variance sweep (diagnostic; k comes from the --variance rule)",
              ["variance target", "k", "cumulative variance at k", "CV ROC-AUC (PCA(k) + logistic, C=1)"],
              [[t, kk, round(float(out.curve_all.cumulative[kk - 1]), 4), round(a, 4)] for t, kk, a in out.sweep],
              note=f"PCA fitted on the {len(data.labels) - len(out.test_idx)} training images; "
                   f"{args.variance:.0%} -> k = {k} of {len(out.curve_all.ratios)}."),
        Table("Which trivial statistic separates the classes (training set)",
              ["statistic", "ROC-AUC alone", "direction", "mean, faces", "mean, non-faces"], out.feature_aucs,
              note="ROC-AUC of one statistic as a score, max(AUC, 1 - AUC). Near 0.5: the statistic says nothing "
                   "about the class; near 1: it gives the source away."),
        _data_table(data, stats),
    ]
    figures = [
        Figure("Data samples", "samples.png", "Random faces and non-faces after the shared grey conversion, resize."),
        Figure("Mean face and eigenfaces", "eigenfaces.png",
               "PCA of the training faces only (the distance-from-face-space model)."),
        Figure("Explained variance and the component sweep", "explained_variance.png",
               f"Left: cumulative explained variance, target {args.variance:.0%}. Right: CV ROC-AUC against k."),
        Figure("ROC and precision-recall curves", "roc.png", "Held-out test set; dashed: shortcut baselines."),
        Figure("Errors of the classifier", "errors.png",
               f"{out.headline}: highest-scoring non-faces called faces and lowest-scoring faces missed."),
    ]
    return StudyResult(study=STUDY, question=QUESTION, verdict=_verdict(out, args, dataset), data_source=source,
                       metrics=metrics, tables=tables, figures=figures)


def main(argv: Sequence[str] | None = None) -> int:
    return run_experiment(STUDY, build_parser(), body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
