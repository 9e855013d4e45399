"""The study's tables, as raw values (the report rounds when it renders; intervals are [low, high] pairs)."""

from __future__ import annotations

import numpy as np

from dlplayground.results import Table
from dlplayground.studies.eigenfaces.analysis import EigenfacesOutcome
from dlplayground.studies.eigenfaces.images import FACE, NONFACE, LabelledImages
from dlplayground.studies.eigenfaces.shortcut import SHORTCUT_FEATURES

SWEEP_TITLE = "Explained-variance sweep (diagnostic; k comes from the --variance rule)"


def methods_table(out: EigenfacesOutcome) -> Table:
    """Test-set performance of every method, with its bootstrap interval and its CV score."""
    level = out.intervals.gain.level
    rows = []
    for name, r in out.methods.items():
        ci = out.intervals.per_method[name]
        tn, fp, fn, tp = r.counts
        rows.append([name, r.roc_auc, [ci.low, ci.high], r.pr_auc, r.balanced_accuracy, tn, fp, fn, tp,
                     r.cv_roc_auc, r.description])
    return Table(
        "Held-out test set: faces (positive) vs. non-faces", [
            "method", "ROC-AUC", f"{level:.0%} CI", "PR-AUC", "balanced acc.", "TN", "FP", "FN", "TP", "CV ROC-AUC",
            "what it is"], rows,
        note=(f"CI: stratified bootstrap of the test set ({out.intervals.gain.resamples} resamples; faces and "
              "non-faces resampled separately). TN/FP/FN/TP: confusion matrix at each method's own threshold (0.5 "
              "probability, SVC decision 0, DFFS threshold set on training data). CV ROC-AUC: best "
              "cross-validated score on the training set."),
    )


def hyperparameter_table(out: EigenfacesOutcome) -> Table:
    """The hyper-parameters each grid search chose (and the detector's threshold), one per row."""
    rows = [[name, key, value] for name, r in out.methods.items() for key, value in r.params.items()]
    return Table("Chosen hyper-parameters", ["method", "hyper-parameter", "value"], rows,
                 note=(f"Chosen by stratified {out.folds}-fold CV on the training set (ROC-AUC + balanced accuracy); "
                       "the distance-from-face-space threshold maximises balanced accuracy on training data."))


def sweep_table(out: EigenfacesOutcome) -> Table:
    """The explained-variance sweep: each target's k and CV ROC-AUC."""
    n_train = len(out.train_idx)
    return Table(
        SWEEP_TITLE, ["variance target", "k", "cumulative variance at k", "CV ROC-AUC (PCA(k) + logistic, C=1)"],
        [[p.target, p.n_components, p.explained_variance, p.cv_roc_auc] for p in out.sweep],
        note=f"PCA fitted on the {n_train} training images; {out.curve_all.target:.0%} -> k = {out.n_components} of "
             f"{len(out.curve_all.ratios)}.",
    )


def feature_table(out: EigenfacesOutcome) -> Table:
    """Which trivial statistic gives the class away on its own (training set)."""
    return Table(
        "Which trivial statistic separates the classes (training set)",
        ["statistic", "ROC-AUC alone", "direction", "mean, faces", "mean, non-faces"],
        [[f.statistic, f.roc_auc, f.direction, f.faces_mean, f.nonfaces_mean] for f in out.feature_aucs],
        note="ROC-AUC of one statistic as a score, max(AUC, 1 - AUC). Near 0.5: the statistic says nothing "
             "about the class; near 1: it gives the source away.",
    )


def data_table(data: LabelledImages, stats: np.ndarray) -> Table:
    """Images per class and origin, their original sizes and their mean trivial statistics."""
    mean, std, sharp = (SHORTCUT_FEATURES.index(n) for n in ("mean", "std", "sharpness"))
    origins = np.asarray(data.origins, dtype=object)
    rows = []
    for label, name in ((FACE, "face"), (NONFACE, "non-face")):
        mask = data.labels == label
        for origin in sorted(set(origins[mask])):
            sel = mask & (origins == origin)
            shapes = data.original_shapes[sel]
            size_text = (f"{shapes[:, 0].min()}x{shapes[:, 1].min()}" if (shapes == shapes[0]).all()
                         else f"{shapes.min()}-{shapes.max()} px")
            rows.append([name, origin, int(sel.sum()), size_text, float(stats[sel, mean].mean()),
                         float(stats[sel, std].mean()), float(stats[sel, sharp].mean())])
    return Table(
        "Data by class and origin", ["class", "origin", "images", "original size", "mean brightness",
                                      "mean contrast (std)", "mean sharpness"], rows,
        note=(f"All images: grey (BT.601), centre-cropped square, resized to {data.size}x{data.size}; models see "
              "them standardised per image. Brightness, contrast and sharpness are measured before that step."),
    )
