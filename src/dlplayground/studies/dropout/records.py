"""What the result records besides its tables: the headline metrics and the raw values behind the figures.

Metrics are raw numbers (intervals as ``[low, high]``); the raw values are every model's measurements with
their per-pass accuracies and per-level pruning curves, every correlation with its bootstrap bookkeeping
(resamples, valid resamples, level), and the bootstrap settings, so a reader can re-derive any figure or
re-analyse without re-running.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlplayground.studies.dropout.analysis import PRIMARY, GroupCorrelation, PairResult
from dlplayground.studies.dropout.config import DropoutStudyConfig
from dlplayground.studies.dropout.measurement import MemberResult


def metric_key(target: str) -> str:
    """A target's name as a metric-key fragment: ``prunability (one-shot)`` -> ``prunability_one_shot``."""
    return target.replace(" ", "_").replace("(", "").replace(")", "").replace("-", "_")


def headline_metrics(results: Sequence[MemberResult], pairs: Sequence[PairResult], statuses: dict[str, str],
                     config: DropoutStudyConfig, measuring_s: float, threads_used: int) -> dict[str, Any]:
    """The population's size and spread, and the primary predictor's correlations and status per target."""
    metrics: dict[str, Any] = {
        "models": len(results), "training_and_measuring_s": measuring_s, "torch_threads_used": threads_used,
        "kd_temperature": config.kd_temperature, "kd_alpha": config.kd_alpha,
        "tolerance_points": config.tolerance_points, "passes": config.passes,
        "bootstrap_resamples": config.bootstrap_resamples,
        "mean_test_accuracy": float(np.mean([r.test_accuracy for r in results])),
        "gap_min": min(r.gap for r in results), "gap_max": max(r.gap for r in results),
    }
    for p in pairs:
        if p.predictor == PRIMARY:
            key = metric_key(p.target)
            metrics[f"spearman_{key}"] = p.spearman.estimate
            metrics[f"spearman_{key}_ci"] = p.spearman.ci
            metrics[f"partial_{key}"] = p.partial.estimate
            metrics[f"partial_{key}_ci"] = p.partial.ci
            metrics[f"partial_all_{key}"] = p.partial_all.estimate
            metrics[f"verdict_{key}"] = statuses[p.target]
    return metrics


def raw_values(results: Sequence[MemberResult], pairs: Sequence[PairResult],
               groups: Sequence[GroupCorrelation], config: DropoutStudyConfig) -> dict[str, Any]:
    """Every model's raw measurements, every correlation in full, and the bootstrap settings."""
    return {
        "bootstrap": {
            "resamples": config.bootstrap_resamples, "level": config.ci_level, "unit": "model (paired)",
            "seed": config.seed,
            "seed_rule": "pair (predictor j, target k): seed + 100 j + k, shared by its four correlations; "
                         "within-group: seed + k",
        },
        "members": [r.raw() for r in results],
        "correlations": [
            {"predictor": p.predictor, "target": p.target, "spearman": p.spearman.to_dict(),
             "kendall": p.kendall.to_dict(), "partial_given_train_dropout": p.partial.to_dict(),
             "partial_given_all_factors": p.partial_all.to_dict()} for p in pairs
        ],
        "within_group": [{"group": g.group, "target": g.target, "spearman": g.spearman.to_dict()} for g in groups],
    }
