"""What the run records: the few headline metrics, and the raw values behind every table and figure.

Metrics are unrounded (the report rounds); an interval is a ``[low, high]`` pair. ``raw_record`` keeps every
scored post's label and each model's pooled prediction, each fold's selection with every candidate's inner
scores, every Longformer candidate's losses, streams and class mix, the token lengths and the
precision/process measurements, so a reader can re-derive any table or figure, or re-analyse, without
re-running.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlplayground.studies.gods.analysis import Findings
from dlplayground.studies.gods.comparison import BootstrapPlan
from dlplayground.studies.gods.efficiency import EfficiencyRow
from dlplayground.studies.gods.folds import NestedPlan
from dlplayground.studies.gods.runs import FULL, MAJORITY, SHORT, TFIDF, CandidateRun, FamilyOutcome

_METRIC_KEYS = {FULL: "longformer", SHORT: "longformer_short", TFIDF: "tfidf_logreg", MAJORITY: "majority"}


def headline_metrics(findings: Findings, *, world_size: int, precision: str) -> dict[str, Any]:
    """The result's metrics: each model's held-out accuracy, the differences the verdict reads, the data's scale."""
    metrics: dict[str, Any] = {}
    for key, model in findings.models.items():
        name = _METRIC_KEYS[key]
        metrics[f"accuracy_{name}"] = model.accuracy.estimate
        if key in (FULL, TFIDF):
            metrics[f"accuracy_{name}_interval"] = [model.accuracy.low, model.accuracy.high]
            metrics[f"macro_f1_{name}"] = model.macro_f1.estimate
    for second, label in ((TFIDF, "tfidf"), (SHORT, "short")):
        c = findings.comparison(FULL, second, "accuracy")
        if c is not None:
            metrics[f"accuracy_difference_vs_{label}"] = c.difference.estimate
            metrics[f"accuracy_difference_vs_{label}_interval"] = [c.difference.low, c.difference.high]
    metrics.update(share_posts_beyond_short=findings.lengths.share_beyond_short, held_out_posts=findings.n,
                   folds=findings.folds, world_size=world_size, precision=precision)
    return metrics


def raw_record(
    findings: Findings, plan: NestedPlan, scored_ids: Sequence[str], label_names: Sequence[str],
    outcomes: Sequence[FamilyOutcome], runs: Sequence[CandidateRun], efficiency: Sequence[EfficiencyRow],
    bootstrap: BootstrapPlan, root_seed: int,
) -> dict[str, Any]:
    """Everything the tables and figures come from, as plain JSON."""
    fold_of = [f.index for f in plan.folds for _ in f.held_out]
    return {
        "label_names": list(label_names),
        "root_seed": root_seed,
        "bootstrap": bootstrap.to_dict(),
        "scored": {"ids": list(scored_ids), "truth": list(findings.truth), "fold": fold_of},
        "models": {key: m.to_dict() for key, m in findings.models.items()},
        "comparisons": [c.to_dict() for c in findings.comparisons],
        "token_lengths": findings.lengths.to_dict(),
        "selections": [o.to_dict() for o in outcomes],
        "candidates": [r.to_dict() for r in runs],
        "efficiency": [r.to_dict() for r in efficiency],
    }
