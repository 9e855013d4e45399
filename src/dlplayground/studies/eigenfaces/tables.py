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

SWEEP_TITLE = "Explained-variance sweep (diagnostic; k comes from the --variance rule)"
PER_SOURCE_TITLE = "AUC per negative source"
TRANSFER_TITLE = "Leave-one-source-out: every method, every training and test source"


def _pair(cell) -> list[float]:
    return [cell.low, cell.high]


def per_source_table(out: EigenfacesOutcome) -> Table:
    """One row per negative source: each method's AUC when trained against all sources, and the classifier's
    within-source and worst cross-source AUC against it."""
    summary = out.summary
    c = summary.classifier
    fold_sizes = np.array([[np.sum(np.asarray(out.data.sources, dtype=object)[f.test] == s) for s in c.sources]
                           for f in out.record.folds])
    rows = []
    for j, source in enumerate(c.sources):
        incoming = [cell for (a, b), cell in c.cross_cells.items() if b == source]
        worst = min(incoming, key=lambda cell: cell.mean) if incoming else None
        baseline = {name: summary.baselines[name].pooled[source].mean if name in summary.baselines else None
                    for name in (RAW_PIXELS, SHORTCUT)}
        rows.append([source, int(np.sum(out.data.source_mask(source))), float(fold_sizes[:, j].mean()),
                     c.pooled[source].mean, _pair(c.pooled[source]), c.cells[(source, source)].mean,
                     worst.mean if worst else None, _pair(worst) if worst else None,
                     baseline[RAW_PIXELS], baseline[SHORTCUT], summary.dffs[source].mean])
    level = f"{summary.level:.0%}"
    return Table(
        PER_SOURCE_TITLE,
        ["negative source", "candidates", "test images per fold", "classifier AUC (all sources)", f"{level} spread",
         "within source", "worst cross-source (trained elsewhere)", "its spread (simultaneous)", "raw pixels",
         "shortcut", "distance from face space"],
        rows,
        note=(f"Mean over {summary.n_folds} grouped outer folds of the AUC of the held-out faces against the held-out "
              "images of this source. 'all sources': trained against every source; 'within source': trained against "
              "this one only; 'worst cross-source': the lowest of the models trained against one other source. "
              "Baselines trained against all sources; distance from face space on faces only."),
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
    return Table(TRANSFER_TITLE, ["method", "trained against", "tested against", "kind", "mean AUC",
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
    return Table("Chosen hyper-parameters", ["method", "trained against", "choice", "folds",
                                             "median k (PCA components)", "mean inner-CV ROC-AUC"], rows,
                 note=("Chosen in every outer fold by stratified inner CV on that fold's training set (ROC-AUC + "
                       "balanced accuracy); k by the explained-variance rule on that training set."))


def sweep_table(out: EigenfacesOutcome) -> Table:
    """The explained-variance sweep: each target's k and inner-CV ROC-AUC."""
    return Table(
        SWEEP_TITLE, ["variance target", "k", "cumulative variance at k", "CV ROC-AUC (PCA(k) + logistic, C=1)"],
        [[p.target, p.n_components, p.explained_variance, p.cv_roc_auc] for p in out.sweep],
        note=(f"PCA fitted on the first fold's pooled training set; {out.curve_all.target:.0%} -> k = "
              f"{out.curve_all.n_components} of {len(out.curve_all.ratios)}."),
    )


def feature_table(out: EigenfacesOutcome) -> Table:
    """Which trivial statistic gives each source away on its own (first fold's training faces vs. that source)."""
    rows = [[source, f.statistic, f.roc_auc, f.direction, f.faces_mean, f.nonfaces_mean]
            for source, features in out.feature_aucs.items() for f in features]
    return Table(
        "Which trivial statistic separates the faces from each source (first fold's training set)",
        ["negative source", "statistic", "ROC-AUC alone", "direction", "mean, faces", "mean, non-faces"], rows,
        note="ROC-AUC of one statistic as a score, max(AUC, 1 - AUC). Near 0.5: the statistic says nothing "
             "about the class; near 1: it gives the source away.",
    )


def data_table(data: LabelledImages, stats: np.ndarray, dataset: FaceDataset) -> Table:
    """Images per class, source and origin, their original sizes and their mean trivial statistics."""
    mean, std, sharp = (SHORTCUT_FEATURES.index(n) for n in ("mean", "std", "sharpness"))
    origins = np.asarray(data.origins, dtype=object)
    rows = []
    for source in (FACES, *data.negative_sources):
        mask = data.source_mask(source)
        for origin in sorted(set(origins[mask])):
            sel = mask & (origins == origin)
            shapes = data.original_shapes[sel]
            size_text = (f"{shapes[:, 0].min()}x{shapes[:, 1].min()}" if (shapes == shapes[0]).all()
                         else f"{shapes.min()}-{shapes.max()} px")
            label = "face" if data.labels[np.argmax(sel)] == FACE else "non-face"
            rows.append([label, source, origin, int(sel.sum()), len(set(np.asarray(data.groups)[sel])), size_text,
                         float(stats[sel, mean].mean()), float(stats[sel, std].mean()),
                         float(stats[sel, sharp].mean())])
    return Table(
        "Data by source and origin", ["class", "source", "origin", "images", "groups", "original size",
                                       "mean brightness", "mean contrast (std)", "mean sharpness"], rows,
        note=(f"All images: grey (BT.601), centre-cropped square, resized to a {dataset.frame_px} px frame whose "
              f"centre {data.size} px window is kept (shifted face crops: a corner window). Models see the windows "
              "standardised per image; brightness, contrast and sharpness are measured before that step. Groups: "
              "the units the splits keep together."),
    )


def study_tables(out: EigenfacesOutcome, dataset: FaceDataset) -> list[Table]:
    """Every table, short ones first."""
    return [per_source_table(out), data_table(out.data, out.stats, dataset), sweep_table(out),
            hyperparameter_table(out), feature_table(out), transfer_table(out)]
