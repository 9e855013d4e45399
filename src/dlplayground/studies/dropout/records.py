"""What the result records besides its tables: the headline metrics and the raw values behind the figures.

Metrics are the few headline numbers, raw (intervals as ``[low, high]``): the population, the core test per
main target with its simultaneous interval and status, what the population can resolve, and the distillation
target's reliability. The raw values are every model's measurements (per-pass accuracies, per-level pruning
curves, every student), every correlation with its bootstrap bookkeeping, and the bootstrap settings, so a
reader can re-derive any figure or re-analyse without re-running.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from dlplayground.studies.dropout.analysis import PRIMARY, PairResult, Reliability, SubsetCorrelation
from dlplayground.studies.dropout.config import DropoutStudyConfig
from dlplayground.studies.dropout.measurement import MemberResult
from dlplayground.studies.dropout.verdict import Judgement


def metric_key(name: str) -> str:
    """A name as a metric-key fragment: ``prunability (one-shot)`` -> ``prunability_one_shot``."""
    return name.replace(" ", "_").replace("(", "").replace(")", "").replace("-", "_").replace("/", "")


def headline_metrics(results: Sequence[MemberResult], judgements: Sequence[Judgement],
                     reliability: Sequence[Reliability], power: dict[str, float | int], measuring_s: float,
                     threads_used: int) -> dict[str, Any]:
    """The population's size, the primary predictor's core test per target, power, and the distillation spread."""
    metrics: dict[str, Any] = {
        "models": len(results), "training_and_measuring_s": measuring_s, "torch_threads_used": threads_used,
        "mean_clean_accuracy": float(np.mean([r.clean_accuracy for r in results])),
        "models_within_5_points_of_chance": int(sum(r.clean_accuracy - r.chance_accuracy < 0.05 for r in results)),
    }
    for j in judgements:
        if j.predictor == PRIMARY:
            key = metric_key(j.target)
            metrics[f"incremental_{key}"] = j.estimate
            metrics[f"incremental_{key}_ci"] = [j.low, j.high]
            metrics[f"verdict_{key}"] = j.status
    metrics.update(power)
    for r in reliability:
        if r.measure == "distillation gain" and r.reliability is not None:
            metrics["distillation_gain_sd"] = r.sd
            metrics["distillation_gain_reliability"] = r.reliability.estimate
            metrics["distillation_gain_reliability_ci"] = [r.reliability.low, r.reliability.high]
    return metrics


def raw_values(results: Sequence[MemberResult], pairs: Sequence[PairResult], judgements: Sequence[Judgement],
               reliability: Sequence[Reliability], subsets: dict[str, Sequence[SubsetCorrelation]],
               config: DropoutStudyConfig) -> dict[str, Any]:
    """Every model's raw measurements, every correlation in full, the judgements, and the bootstrap settings."""
    return {
        "bootstrap": {
            "resamples": config.bootstrap_resamples, "level": config.ci_level, "unit": "model (paired)",
            "seed": config.seed,
            "seed_rule": "pair (predictor j, target k): seed + 100 j + k, shared by its four correlations; "
                         "within-group and strata: seed + k; reliability of measure i: seed + i",
        },
        "members": [r.raw() for r in results],
        "correlations": [
            {"predictor": p.predictor, "target": p.target, "spearman": p.spearman.to_dict(),
             "given_clean_accuracy": p.given_clean.to_dict(), "incremental": p.incremental.to_dict(),
             "given_everything": p.given_all.to_dict(), "incremental_simultaneous": list(p.simultaneous),
             "simultaneous_level": p.simultaneous_level} for p in pairs
        ],
        "judgements": [asdict(j) for j in judgements],
        "reliability": [
            {"measure": r.measure, "n": r.n, "min": r.minimum, "median": r.median, "max": r.maximum, "sd": r.sd,
             "distinct": r.distinct,
             "half_correlation": r.half_correlation.to_dict() if r.half_correlation is not None else None,
             "reliability": r.reliability.to_dict() if r.reliability is not None else None} for r in reliability
        ],
        "subsets": {name: [{"subset": c.subset, "target": c.target, "clean_range": list(c.clean_range),
                            "spearman": c.spearman.to_dict()} for c in items] for name, items in subsets.items()},
    }
