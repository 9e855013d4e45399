"""What the run records: the labelled headline metrics, and the raw values behind every table and figure.

Metrics are unrounded (the report rounds), each declared with its label (``results.Metrics``); an interval is a
``[low, high]`` pair under ``<key>_ci``. ``raw_record`` keeps every
scored post's label and each model's pooled prediction, each fold's selection with every candidate's inner
scores, every Longformer candidate's losses, streams and class mix, the token lengths and the
precision/process measurements, so a reader can re-derive any table or figure, or re-analyse, without
re-running.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlplayground.results import Metrics
from dlplayground.stats import Interval
from dlplayground.studies.gods.analysis import Findings
from dlplayground.studies.gods.comparison import BootstrapPlan
from dlplayground.studies.gods.efficiency import EfficiencyRow
from dlplayground.studies.gods.folds import NestedPlan
from dlplayground.studies.gods.runs import FULL, MAJORITY, SHORT, TFIDF, CandidateRun, FamilyOutcome
from dlplayground.studies.gods.verdict import fastest_other, speed_call, speed_reference

_METRIC_KEYS = {FULL: "longformer", SHORT: "longformer_short", TFIDF: "tfidf_logreg", MAJORITY: "majority"}
_SECOND_KEYS = {TFIDF: "tfidf", SHORT: "short", MAJORITY: "majority"}


def _pair(interval: Interval) -> tuple[float, float]:
    return interval.low, interval.high


def headline_metrics(findings: Findings, efficiency: Sequence[EfficiencyRow] = (), *, world_size: int,
                     precision: str) -> Metrics:
    """The result's labelled metrics (keys stable across runs; an interval under ``<key>_ci``).

    Each model's held-out accuracy and macro-F1, every paired difference the verdict reads, the data's scale
    and, when the precision/process table ran, the reference's speed and every other cell's speed ratio. The
    key numbers are the ones the answer reads: both accuracies, the Longformer-vs-TF-IDF difference, the
    long-context difference (when the twin ran), the share of posts the twin truncates and the speed ratio of
    the cell the answer names: 4 to 6 numbers.
    """
    m = Metrics()
    lengths = findings.lengths
    for key, model in findings.models.items():
        name = _METRIC_KEYS[key]
        level = f"{100 * model.accuracy.level:g} % interval"
        m.add(f"accuracy_{name}", model.accuracy.estimate, f"Held-out accuracy, {model.name}; {level}",
              percent=True, ci=_pair(model.accuracy), key_number=key in (FULL, TFIDF))
        m.add(f"macro_f1_{name}", model.macro_f1.estimate, f"Held-out macro-F1, {model.name}; {level}",
              ci=_pair(model.macro_f1))
    pairs = {TFIDF: "Longformer minus TF-IDF",
             SHORT: f"full context ({lengths.full_length} tokens) minus first {lengths.short_length} tokens",
             MAJORITY: "Longformer minus the majority class"}
    for c in findings.comparisons:
        d = c.difference
        interval = f"{100 * d.level:.1f} % simultaneous interval"
        key = f"{c.metric}_difference_vs_{_SECOND_KEYS[c.second]}"
        if c.metric == "accuracy":
            m.add(key, d.estimate, f"Accuracy, {pairs[c.second]}, in percentage points ({interval})", percent=True,
                  ci=_pair(d), key_number=c.second in (TFIDF, SHORT))
        else:
            m.add(key, d.estimate, f"Macro-F1, {pairs[c.second]} ({interval})", ci=_pair(d))
    m.add("share_posts_beyond_short", lengths.share_beyond_short,
          f"Held-out posts longer than the short twin's {lengths.short_length} tokens", percent=True,
          key_number=True)
    m.add("posts_beyond_full", lengths.beyond_full,
          f"Held-out posts longer than the full context's {lengths.full_length} tokens", unit="posts")
    m.add("longest_post_tokens", lengths.longest, "Longest held-out post", unit="tokens")
    m.add("held_out_posts", findings.n, "Posts scored held out (each once)", unit="posts")
    m.add("folds", findings.folds, "Outer folds (1: a separate held-out file)", unit="folds")
    m.add("world_size", world_size, "Processes (DDP ranks) that trained the comparison", unit="processes")
    m.add("precision", precision, "Training precision of the comparison")
    reference, named = speed_reference(efficiency), fastest_other(efficiency)
    if reference is not None:
        m.add("examples_per_s_fp32_1_process", reference.examples_per_s,
              "Training speed, fp32 in one process (fold 1)", unit="examples/s")
        for row in efficiency:
            if row.measured and row is not reference:
                ratio, _ = speed_call(row, reference)
                m.add(f"speed_ratio_{row.precision}_{row.world_size}_process", ratio,
                      f"Training speed, {row.label}, relative to fp32 in one process", unit="x",
                      key_number=row is named)
    return m


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
