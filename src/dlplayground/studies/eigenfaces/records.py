"""What the run records: the headline metrics and the raw values behind every figure and table.

Metrics are raw numbers (spreads as ``[low, high]``); ``raw_record`` holds every per-fold AUC of every cell, the
images every fold trained and tested on, every search's choice and repeat 0's out-of-fold scores, so a reader
can re-derive any figure or re-analyse without re-running.
"""

from __future__ import annotations

from typing import Any

from dlplayground.data.nonfaces import SHIFTED_CROPS
from dlplayground.studies.eigenfaces.analysis import EigenfacesOutcome
from dlplayground.studies.eigenfaces.assembly import FaceDataset
from dlplayground.studies.eigenfaces.classifiers import SHORTCUT
from dlplayground.studies.eigenfaces.config import EigenfacesConfig
from dlplayground.studies.eigenfaces.verdict import CONFOUND_AUC, DETECT_AUC, answer


def _pair(cell) -> list[float] | None:
    return None if cell is None else [cell.low, cell.high]


def headline_metrics(out: EigenfacesOutcome, dataset: FaceDataset) -> dict[str, Any]:
    """The numbers the verdict rests on, unrounded."""
    summary = out.summary
    c = summary.classifier
    worst = c.worst_cross
    pooled_low = min(c.pooled.items(), key=lambda item: item[1].mean)
    dffs_low = min(summary.dffs.items(), key=lambda item: item[1].mean)
    shortcut = summary.baselines.get(SHORTCUT)
    hard = c.pooled.get(SHIFTED_CROPS)
    metrics: dict[str, Any] = {
        "answer": answer(c),
        "worst_cross_source": f"{worst[0][0]} -> {worst[0][1]}" if worst else None,
        "worst_cross_source_auc": worst[1].mean if worst else None,
        "worst_cross_source_spread": _pair(worst[1]) if worst else None,
        "mean_cross_source_auc": c.cross.mean if c.cross else None,
        "mean_within_source_auc": c.within.mean,
        "source_gap": c.gap.mean if c.gap else None,
        "source_gap_spread": _pair(c.gap),
        "lowest_auc_per_source": pooled_low[1].mean, "lowest_auc_per_source_source": pooled_low[0],
        "hard_negative_auc": hard.mean if hard else None, "hard_negative_spread": _pair(hard),
        "dffs_lowest_auc": dffs_low[1].mean,
        "shortcut_highest_auc_per_source": max(cell.mean for cell in shortcut.pooled.values()) if shortcut else None,
        "n_faces": out.data.n_faces, "outer_folds": summary.n_folds,
        "faces_grouped_by": "subject" if dataset.grouped_by_subject else "image",
    }
    return metrics


def raw_record(out: EigenfacesOutcome, dataset: FaceDataset, config: EigenfacesConfig) -> dict[str, Any]:
    """Plain-JSON raw values: per-fold AUCs, fold membership, chosen hyper-parameters, out-of-fold scores."""
    record, data = out.record, out.data
    return {
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
