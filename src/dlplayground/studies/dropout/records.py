"""What the result records besides its tables: the labelled headline metrics and the raw values behind the figures.

Metrics are the few headline numbers, raw (intervals as ``[low, high]``), each declared with its label
(``Metrics``): the population, the core test per main target with its simultaneous interval and status, what
the population can resolve, and the distillation target's spread and reliability. The key numbers (the report's
compact table) are the population and the primary predictor's incremental correlation per main target -- the
numbers the answer is read from -- and the smallest correlation this population resolves. The raw values are
every model's measurements (per-pass accuracies, per-level pruning curves, every student), every correlation
with its bootstrap bookkeeping, the bootstrap settings and the thread count measured in the run, so a reader
can re-derive any figure or re-analyse without re-running.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from dlplayground.results import Metrics
from dlplayground.studies.dropout.analysis import PRIMARY, PairResult, Reliability, SubsetCorrelation
from dlplayground.studies.dropout.config import DropoutStudyConfig
from dlplayground.studies.dropout.measurement import MemberResult
from dlplayground.studies.dropout.verdict import Conclusion, Judgement, VerdictRule

DISTILL_TARGET = "distillation gain"


def metric_key(name: str) -> str:
    """A name as a metric-key fragment: ``prunability (one-shot)`` -> ``prunability_one_shot``."""
    return name.replace(" ", "_").replace("(", "").replace(")", "").replace("-", "_").replace("/", "")


def headline_metrics(results: Sequence[MemberResult], conclusion: Conclusion, reliability: Sequence[Reliability],
                     rule: VerdictRule, measuring_s: float) -> Metrics:
    """The population, the primary predictor's core test per target, power, and the distillation spread."""
    m = Metrics()
    m.add("models", len(results), "Models in the population", unit="models", key_number=True)
    m.add("mean_clean_accuracy", float(np.mean([r.clean_accuracy for r in results])),
          "Mean clean accuracy (validation split)", percent=True)
    m.add("models_within_5_points_of_chance", int(sum(r.clean_accuracy - r.chance_accuracy < 0.05 for r in results)),
          "Models within 5 points of chance accuracy", unit="models")
    m.add("training_and_measuring_s", measuring_s, "Time to train and measure every model", unit="s")
    for j in conclusion.judgements:
        if j.predictor == PRIMARY:
            key = metric_key(j.target)
            m.add(f"incremental_{key}", j.estimate,
                  f"Added by eval-dropout to {j.target} (incremental partial rho, {j.level:.2%} CI)",
                  ci=(j.low, j.high), key_number=True)
            m.add(f"verdict_{key}", j.status, f"Status for {j.target} (verdict rule)")
    m.add("covariates_of_core_test", conclusion.covariates,
          "Covariates of the core test (clean accuracy, random-pruning robustness, group indicators)",
          unit="covariates")
    m.add("simultaneous_level", conclusion.level, "Level of each simultaneous interval", percent=True)
    m.add("min_detectable_partial_rho", conclusion.min_detectable,
          f"Smallest incremental |partial rho| this population resolves ({rule.power:.0%} power)", key_number=True)
    m.add("models_needed_for_min_effect", conclusion.models_needed,
          f"Models needed to resolve {rule.min_effect:g} either way ({rule.power:.0%} power)", unit="models")
    for r in reliability:
        if r.measure == DISTILL_TARGET and r.reliability is not None:
            m.add("distillation_gain_sd", r.sd, "Distillation gain, SD across models", percent=True)
            m.add("distillation_gain_reliability", r.reliability.estimate,
                  "Distillation gain, split-half reliability (Spearman-Brown)",
                  ci=(r.reliability.low, r.reliability.high))
    return m


def raw_values(results: Sequence[MemberResult], pairs: Sequence[PairResult], judgements: Sequence[Judgement],
               reliability: Sequence[Reliability], subsets: dict[str, Sequence[SubsetCorrelation]],
               config: DropoutStudyConfig, threads_used: int) -> dict[str, Any]:
    """Every model's raw measurements, every correlation in full, the judgements, and the bootstrap settings."""
    return {
        "torch_threads_used": threads_used,
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
