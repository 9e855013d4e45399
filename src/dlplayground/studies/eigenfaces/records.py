"""What the run records: the headline metrics and the raw values behind every figure and table.

Metrics are raw numbers, each declared with its label (spreads as ``[low, high]`` under ``<key>_ci``);
``raw_record`` holds the rule's answer code, every per-fold AUC of every cell, the images every fold trained and
tested on, every search's choice and repeat 0's out-of-fold scores, so a reader can re-derive any figure or
re-analyse without re-running.
"""

from __future__ import annotations

from typing import Any

from dlplayground.data.nonfaces import SHIFTED_CROPS
from dlplayground.results import Metrics
from dlplayground.studies.eigenfaces.analysis import EigenfacesOutcome
from dlplayground.studies.eigenfaces.assembly import FaceDataset
from dlplayground.studies.eigenfaces.classifiers import SHORTCUT
from dlplayground.studies.eigenfaces.config import EigenfacesConfig
from dlplayground.studies.eigenfaces.verdict import CONFOUND_AUC, DETECT_AUC, answer, source_share


def headline_metrics(out: EigenfacesOutcome, dataset: FaceDataset) -> Metrics:
    """The numbers the answer rests on, unrounded, each with its label; spreads (``<key>_ci``) are percentile
    intervals of per-fold AUCs (``evaluation``), not intervals for the mean. The key numbers: the lowest and
    mean cross-source AUC, the within-source AUC, the gap between them, the AUC against the hard negatives and
    the number of faces (with one negative source, which has no cross-source cells: its AUC instead)."""
    summary = out.summary
    c = summary.classifier
    level = f"{summary.level:.0%}"
    m = Metrics()
    worst = c.worst_cross
    if worst is not None:
        (a, b), cell = worst
        m.add("worst_cross_source_auc", cell.mean,
              f"Lowest cross-source AUC (trained against one source, tested on another; {cell.level:.1%} spread "
              "over folds)", ci=(cell.low, cell.high), key_number=True)
        m.add("worst_cross_source", f"{a} -> {b}", "Lowest cross-source cell (trained against -> tested on)")
    if c.cross is not None:
        m.add("mean_cross_source_auc", c.cross.mean, f"Mean cross-source AUC ({level} spread over folds)",
              ci=(c.cross.low, c.cross.high), key_number=True)
    m.add("mean_within_source_auc", c.within.mean,
          f"Mean within-source AUC (trained and tested on the same source; {level} spread over folds)",
          ci=(c.within.low, c.within.high), key_number=True)
    if c.gap is not None:
        m.add("source_gap", c.gap.mean,
              f"AUC lost on an unseen negative source (within minus cross, paired by fold; {level} spread)",
              ci=(c.gap.low, c.gap.high), key_number=True)
    hard = c.pooled.get(SHIFTED_CROPS)
    if hard is not None:
        m.add("hard_negative_auc", hard.mean,
              f"AUC against shifted face crops, the hard negatives (trained against all sources; {level} spread)",
              ci=(hard.low, hard.high), key_number=True)
    low_source, low_cell = min(c.pooled.items(), key=lambda item: item[1].mean)
    m.add("lowest_auc_per_source", low_cell.mean,
          f"Lowest AUC per negative source, trained against all sources ({level} spread)",
          ci=(low_cell.low, low_cell.high), key_number=worst is None)
    m.add("lowest_auc_per_source_source", low_source, "Negative source with that lowest AUC")
    shortcut = summary.baselines.get(SHORTCUT)
    if shortcut is not None:
        m.add("shortcut_highest_auc_per_source", max(cell.mean for cell in shortcut.pooled.values()),
              "Shortcut baseline (trivial image statistics): highest AUC per negative source")
    m.add("dffs_lowest_auc", min(cell.mean for cell in summary.dffs.values()),
          "Distance-from-face-space detector (faces only): lowest AUC per negative source")
    m.add("n_faces", out.data.n_faces, "Face images", unit="images", key_number=True)
    m.add("outer_folds", summary.n_folds, "Grouped outer folds (repeats x folds)", unit="folds")
    m.add("faces_grouped_by", "subject" if dataset.grouped_by_subject else "image",
          "Faces kept on one side of every split by (subject or image)")
    return m


def raw_record(out: EigenfacesOutcome, dataset: FaceDataset, config: EigenfacesConfig) -> dict[str, Any]:
    """Plain-JSON raw values: per-fold AUCs, fold membership, chosen hyper-parameters, out-of-fold scores."""
    record, data = out.record, out.data
    return {
        "answer": answer(out.summary.classifier), "source_share": source_share(out.summary.classifier),
        "images": {"label": data.labels.tolist(), "source": list(data.sources), "group": list(data.groups),
                   "origin": list(data.origins)},
        "folds": [{"repeat": f.repeat, "fold": f.fold, "train_indices": f.train.tolist(),
                   "test_indices": f.test.tolist()} for f in record.folds],
        "fold_auc": {
            method: {train: {source: record.auc[m, t, s].tolist() for s, source in enumerate(record.sources)}
                     for t, train in enumerate(record.trains)}
            for m, method in enumerate(record.methods)
        },
        "fold_auc_distance_from_face_space": {source: record.dffs_auc[s].tolist()
                                              for s, source in enumerate(record.sources)},
        "chosen": record.params,
        "first_repeat_out_of_fold_scores": {m: scores.tolist() for m, scores in record.first_repeat_scores.items()},
        "summary": {
            "classifier": _method_record(out.summary.classifier),
            "baselines": {name: _method_record(m) for name, m in out.summary.baselines.items()},
            "distance_from_face_space": {s: cell.to_dict() for s, cell in out.summary.dffs.items()},
        },
        "negative_sources": list(out.summary.sources),
        "spread": {"level": out.summary.level, "method": "percentile of per-fold AUCs", "unit": "outer test fold",
                   "cross_source_level": next(iter(out.summary.classifier.cross_cells.values())).level
                   if out.summary.classifier.cross_cells else None,
                   "cross_source_cells": "Bonferroni-adjusted level (simultaneous_level)"},
        "thresholds": {"detect_auc": DETECT_AUC, "confound_auc": CONFOUND_AUC},
        "cv": {"outer_folds": config.outer_folds, "outer_repeats": config.outer_repeats,
               "scheme": "StratifiedGroupKFold, stratified by source, grouped by subject / face image / photograph",
               "inner_folds": config.search.folds},
        "explained_variance": {
            "target": out.curve_all.target, "k_first_fold": out.curve_all.n_components,
            "ratios_first_fold_training_set": out.curve_all.ratios.tolist(),
            "k_faces_only": out.face_space.curve.n_components,
            "ratios_first_fold_training_faces": out.face_space.curve.ratios.tolist(),
        },
        "sweep": [{"target": p.target, "k": p.n_components, "explained_variance": p.explained_variance,
                   "fold_roc_auc": list(p.fold_roc_aucs)} for p in out.sweep],
        "frame_px": dataset.frame_px,
    }


def _method_record(method) -> dict[str, Any]:
    return {
        "cells": [{"train": t, "test": s, **cell.to_dict()} for (t, s), cell in method.cells.items()],
        "cross_cells": [{"train": t, "test": s, **cell.to_dict()} for (t, s), cell in method.cross_cells.items()],
        "within": method.within.to_dict(),
        "cross": method.cross.to_dict() if method.cross else None,
        "gap": method.gap.to_dict() if method.gap else None,
    }
