"""What the run records: the headline metrics and the raw values behind every figure and table.

Metrics are raw numbers (intervals as ``[low, high]``); ``raw_record`` holds the per-image test scores,
per-fold CV scores, the explained-variance curves, the sweep, the confound check's folds and the bootstrap
settings, so a reader can re-derive any figure or re-analyse without re-running.
"""

from __future__ import annotations

from typing import Any

from dlplayground.studies.eigenfaces.analysis import (
    DFFS,
    PCA_LOGISTIC,
    PCA_SVC,
    RAW_PIXELS,
    EigenfacesOutcome,
)
from dlplayground.studies.eigenfaces.assembly import FaceDataset


def headline_metrics(out: EigenfacesOutcome, dataset: FaceDataset) -> dict[str, Any]:
    """The numbers the verdict rests on, unrounded."""
    data = out.data
    best, short = out.methods[out.headline], out.methods[out.shortcut]
    ci, gain = out.intervals.per_method[out.headline], out.intervals.gain
    _, false_positives, false_negatives, _ = best.counts
    k = out.n_components
    return {
        "n_faces": data.n_faces, "n_nonfaces": data.n_nonfaces, "n_test": len(out.test_idx),
        "image_size_px": data.size, "variance_target": out.curve_all.target, "n_components": k,
        "n_components_rule": out.curve_all.n_components,
        "n_components_faces_only": out.curve_faces.n_components,
        "explained_variance_at_k": float(out.curve_all.cumulative[k - 1]),
        "classifier": out.headline, "classifier_roc_auc": best.roc_auc, "classifier_roc_auc_ci": [ci.low, ci.high],
        "classifier_pr_auc": best.pr_auc, "classifier_balanced_accuracy": best.balanced_accuracy,
        "shortcut_baseline": out.shortcut, "shortcut_roc_auc": short.roc_auc,
        "shortcut_balanced_accuracy": short.balanced_accuracy,
        "auc_gain_over_shortcut": gain.estimate, "auc_gain_ci": [gain.low, gain.high],
        "raw_pixel_roc_auc": out.methods[RAW_PIXELS].roc_auc,
        "pca_logistic_roc_auc": out.methods[PCA_LOGISTIC].roc_auc,
        "pca_svc_roc_auc": out.methods[PCA_SVC].roc_auc,
        "dffs_roc_auc": out.methods[DFFS].roc_auc,
        "false_positives": false_positives, "false_negatives": false_negatives,
        "nonfaces_matched": "yes" if dataset.matched else "no", "nonface_pool_size": dataset.pool_size,
        "unmatched_pool_shortcut_cv_roc_auc": out.pool_shortcut_cv_auc,
    }


def raw_record(out: EigenfacesOutcome, dataset: FaceDataset) -> dict[str, Any]:
    """Plain-JSON raw values: per-image scores, per-fold CV scores, curves, sweep, bootstrap settings."""
    test = out.test_idx
    return {
        "split": {"train_indices": out.train_idx.tolist(), "test_indices": test.tolist()},
        "test_images": {
            "index": test.tolist(), "label": out.y_test.tolist(),
            "origin": [out.data.origins[i] for i in test],
            "scores": {name: r.scores.tolist() for name, r in out.methods.items()},
            "predictions": {name: r.predictions.tolist() for name, r in out.methods.items()},
        },
        "cv": {
            "folds": out.folds,
            "methods": {name: {"params": r.params, "mean_roc_auc": r.cv_roc_auc, **{
                f"fold_{metric}": scores for metric, scores in r.cv_fold_scores.items()}}
                for name, r in out.methods.items()},
        },
        "bootstrap": {
            **out.intervals.settings(), "pair": list(out.intervals.pair),
            "roc_auc": {name: interval.to_dict() for name, interval in out.intervals.per_method.items()},
            "gain": out.intervals.gain.to_dict(),
        },
        "explained_variance": {
            "target": out.curve_all.target, "k_rule": out.curve_all.n_components, "k_used": out.n_components,
            "ratios_all_training_images": out.curve_all.ratios.tolist(),
            "k_faces_only": out.curve_faces.n_components,
            "ratios_training_faces_only": out.curve_faces.ratios.tolist(),
        },
        "sweep": [{"target": p.target, "k": p.n_components, "explained_variance": p.explained_variance,
                   "fold_roc_auc": list(p.fold_roc_aucs)} for p in out.sweep],
        "distance_from_face_space": {"threshold": out.dffs.threshold, "k": out.curve_faces.n_components},
        "unmatched_pool_shortcut": {"fold_roc_auc": list(out.pool_shortcut_fold_aucs),
                                    "nonfaces_sampled": len(dataset.unmatched_features),
                                    "pool_size": dataset.pool_size},
    }
