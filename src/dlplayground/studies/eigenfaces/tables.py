"""The study's tables, as raw values (the report rounds when it renders; spreads are [low, high] pairs).

Short tables first (AUC per negative source, the data), long ones last (the full leave-one-source-out table
folds away in the report).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from dlplayground.results import Table
from dlplayground.studies.eigenfaces.analysis import EigenfacesOutcome
from dlplayground.studies.eigenfaces.assembly import FaceDataset
from dlplayground.studies.eigenfaces.classifiers import RAW_PIXELS, SHORTCUT
from dlplayground.studies.eigenfaces.evaluation import MethodTransfer
from dlplayground.studies.eigenfaces.images import FACE, FACES, LabelledImages
from dlplayground.studies.eigenfaces.shortcut import SHORTCUT_FEATURES
from dlplayground.studies.eigenfaces.transfer import ALL_SOURCES

SWEEP_TITLE = "Explained-variance sweep (diagnostic)"
PER_SOURCE_TITLE = "Face vs. no-face AUC per negative source"
BASELINES_TITLE = "Every method's AUC per negative source"
TRANSFER_TITLE = "Leave-one-source-out AUC: every method, every cell"


def _pair(cell) -> list[float]:
    return [cell.low, cell.high]


def per_source_table(out: EigenfacesOutcome) -> Table:
    """One row per negative source: the eigenface classifier's AUC against it when trained against all sources,
    against it alone (within source), and the worst of the models trained against one other source."""
    summary = out.summary
    c = summary.classifier
    fold_sizes = np.array([[np.sum(np.asarray(out.data.sources, dtype=object)[f.test] == s) for s in c.sources]
                           for f in out.record.folds])
    rows = []
    for j, source in enumerate(c.sources):
        incoming = [cell for (a, b), cell in c.cross_cells.items() if b == source]
        worst = min(incoming, key=lambda cell: cell.mean) if incoming else None
        rows.append([source, float(fold_sizes[:, j].mean()), c.pooled[source].mean, _pair(c.pooled[source]),
                     c.cells[(source, source)].mean, worst.mean if worst else None, _pair(worst) if worst else None])
    return Table(
        PER_SOURCE_TITLE,
        ["negative source", "test images / fold", "all sources", f"{summary.level:.0%} spread", "within",
         "worst cross", "its spread"],
        rows,
        note=(f"Eigenface classifier. Mean over {summary.n_folds} grouped outer folds of the AUC of the held-out faces "
              "against the held-out images of this source. 'all sources': trained against every source; 'within': "
              "trained against this one only; 'worst cross': the lowest of the models trained against one other "
              "source, with its spread at the simultaneous level the answer reads. Spreads are percentiles of the "
              "per-fold AUCs, not intervals for the mean."),
    )


def baselines_table(out: EigenfacesOutcome) -> Table:
    """One row per negative source: every method's AUC against it (trained against all sources)."""
    summary = out.summary
    rows = []
    for source in summary.sources:
        baseline = [summary.baselines[name].pooled[source].mean if name in summary.baselines else None
                    for name in (RAW_PIXELS, SHORTCUT)]
        rows.append([source, summary.classifier.pooled[source].mean, *baseline, summary.dffs[source].mean])
    return Table(
        BASELINES_TITLE, ["negative source", "eigenfaces", "raw pixels", "shortcut", "face space"], rows,
        note=(f"Mean AUC over {summary.n_folds} grouped outer folds. Eigenfaces, raw pixels (logistic regression) and "
              "the shortcut (logistic regression on trivial image statistics) trained against all sources; face "
              "space: distance from face space, fitted on the training faces only."),
    )


def transfer_table(out: EigenfacesOutcome) -> Table:
    """Every cell of every method's matrix (long: folds away)."""
    summary = out.summary
    methods: list[MethodTransfer] = [summary.classifier, *summary.baselines.values()]
    rows = []
    for method in methods:
        for (train, test), cell in method.cells.items():
            kind = "all sources" if train == ALL_SOURCES else ("within" if train == test else "cross-source")
            rows.append([method.method, train, test, kind, cell.mean, _pair(cell), len(cell.values)])
    for test, cell in summary.dffs.items():
        rows.append(["distance from face space", "faces only", test, "cross-source", cell.mean, _pair(cell),
                     len(cell.values)])
    return Table(TRANSFER_TITLE, ["method", "trained against", "tested on", "kind", "mean AUC",
                                  f"{summary.level:.0%} spread", "folds"], rows,
                 note="Spread: percentile interval of the per-fold AUCs (not an interval for the mean).")


def hyperparameter_table(out: EigenfacesOutcome) -> Table:
    """What the inner searches chose, counted over the outer folds, per method and training set."""
    rows = []
    for method, by_train in out.record.params.items():
        for train, chosen in by_train.items():
            counts = Counter(", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in p.items() if k not in ("k", "gamma", "inner_cv_roc_auc"))
                             for p in chosen)
            ks = [p["k"] for p in chosen if "k" in p]
            inner = float(np.mean([p["inner_cv_roc_auc"] for p in chosen]))
            for choice, count in counts.most_common():
                rows.append([method, train, choice, count, float(np.median(ks)) if ks else None, inner])
    return Table("Chosen hyper-parameters", ["method", "trained against", "choice", "folds", "median k",
                                             "inner-CV AUC"], rows,
                 note=("Chosen in every outer fold by stratified inner CV on that fold's training set (ROC-AUC + "
                       "balanced accuracy); k (PCA components) by the explained-variance rule on that training set; "
                       "inner-CV AUC: the mean over the folds of the chosen setting's inner-CV ROC-AUC."))


def sweep_table(out: EigenfacesOutcome) -> Table:
    """The explained-variance sweep: each target's k and inner-CV ROC-AUC."""
    return Table(
        SWEEP_TITLE, ["variance target", "k", "variance at k", "inner-CV AUC"],
        [[p.target, p.n_components, p.explained_variance, p.cv_roc_auc] for p in out.sweep],
        note=(f"PCA fitted on the first fold's pooled training set; {out.curve_all.target:.0%} -> k = "
              f"{out.curve_all.n_components} of {len(out.curve_all.ratios)}. Variance at k: cumulative explained "
              "variance. Inner-CV AUC: ROC-AUC of whitened PCA(k) + logistic regression (C=1). A diagnostic: k comes "
              "from the --variance rule, never from this sweep."),
    )


def feature_table(out: EigenfacesOutcome) -> Table:
    """Which trivial statistic gives each source away on its own (first fold's training faces vs. that source)."""
    rows = [[source, f.statistic, f.roc_auc, f.direction, f.faces_mean, f.nonfaces_mean]
            for source, features in out.feature_aucs.items() for f in features]
    return Table(
        "Trivial statistics that separate the faces from each source",
        ["negative source", "statistic", "AUC alone", "direction", "faces mean", "non-faces mean"], rows,
        note="First fold's training set. AUC alone: ROC-AUC of one statistic as a score, max(AUC, 1 - AUC). Near "
             "0.5: the statistic says nothing about the class; near 1: it gives the source away.",
    )


def data_tables(data: LabelledImages, stats: np.ndarray, dataset: FaceDataset) -> list[Table]:
    """Images per class, source and origin with their original sizes; then their mean trivial statistics."""
    mean, std, sharp = (SHORTCUT_FEATURES.index(n) for n in ("mean", "std", "sharpness"))
    origins = np.asarray(data.origins, dtype=object)
    sizes, statistics = [], []
    for source in (FACES, *data.negative_sources):
        mask = data.source_mask(source)
        for origin in sorted(set(origins[mask])):
            sel = mask & (origins == origin)
            shapes = data.original_shapes[sel]
            size_text = (f"{shapes[:, 0].min()}x{shapes[:, 1].min()}" if (shapes == shapes[0]).all()
                         else f"{shapes.min()}-{shapes.max()} px")
            label = "face" if data.labels[np.argmax(sel)] == FACE else "non-face"
            sizes.append([label, source, origin, int(sel.sum()), len(set(np.asarray(data.groups)[sel])), size_text])
            statistics.append([source, origin, float(stats[sel, mean].mean()), float(stats[sel, std].mean()),
                               float(stats[sel, sharp].mean())])
    return [
        Table("Data by source and origin", ["class", "source", "origin", "images", "groups", "original size"], sizes,
              note=(f"All images: grey (BT.601), centre-cropped square, resized to a {dataset.frame_px} px frame "
                    f"whose centre {data.size} px window is kept (shifted face crops: a corner window). Groups: the "
                    "units the splits keep together.")),
        Table("Trivial statistics by source and origin", ["source", "origin", "brightness", "contrast (std)",
                                                           "sharpness"], statistics,
              note=("Means over the images, measured before the per-image standardisation the models see.")),
    ]


def study_tables(out: EigenfacesOutcome, dataset: FaceDataset) -> list[Table]:
    """Every table, short ones first."""
    return [per_source_table(out), baselines_table(out), *data_tables(out.data, out.stats, dataset),
            sweep_table(out), hyperparameter_table(out), feature_table(out), transfer_table(out)]
