"""The study's tables, as raw values: numbers unrounded, intervals as ``[low, high]`` (the report rounds).

One row per model with every measurement (any other analysis can start from it), every predictor x target
pair with its correlations, the primary predictor within each group, and the resolved settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlplayground.results import Table
from dlplayground.studies.dropout.analysis import PRIMARY, GroupCorrelation, PairResult
from dlplayground.studies.dropout.config import MIN_POPULATION, DropoutStudyConfig
from dlplayground.studies.dropout.measurement import MemberResult

MEMBER_COLUMNS = [
    "model", "group", "width", "label noise", "train n", "weight decay", "train dropout", "train steps",
    "epochs", "seed",
    "train acc", "test acc", "gap", "AUC native", "AUC inserted", "weight norm", "random-prune robustness",
    "prune sparsity (one-shot)", "prune sparsity (fine-tuned)", "student acc (KD)", "student acc (labels only)",
    "distillability", "distillation gain", "random score", "seconds",
]
CORRELATION_COLUMNS = [
    "predictor", "target", "n", "spearman", "spearman CI", "spearman p", "kendall", "kendall CI",
    "partial spearman | train dropout", "partial CI", "partial p", "partial spearman | all factors",
    "all-factors CI",
]


def member_table(results: Sequence[MemberResult]) -> Table:
    rows = []
    for r in results:
        m = r.member
        rows.append([
            m.index, m.group, m.width, m.label_noise, r.n_train, m.weight_decay, m.dropout, m.train_steps,
            r.epochs, m.seed, r.train_accuracy, r.test_accuracy, r.gap, r.native.auc, r.inserted.auc,
            r.weight_norm, r.random_prune_robustness, r.prune_sparsity, r.prune_sparsity_finetuned,
            r.student_accuracy, r.student_scratch_accuracy, r.distillability, r.distillation_gain, r.random_score,
            r.elapsed_s,
        ])
    return Table("Population: one row per model", MEMBER_COLUMNS, rows,
                 note="train acc is on the labels the model was trained on (noisy ones included); test acc on "
                      "clean held-out labels; epochs = train steps x batch / train n; distillability = student "
                      "acc (KD) / test acc; distillation gain = student acc (KD) - student acc (labels only). "
                      "Per-pass and per-level curves are in the result's raw values.")


def correlation_table(pairs: Sequence[PairResult], config: DropoutStudyConfig) -> Table:
    rows = [[p.predictor, p.target, p.spearman.n, p.spearman.estimate, p.spearman.ci, p.spearman.p_value,
             p.kendall.estimate, p.kendall.ci, p.partial.estimate, p.partial.ci, p.partial.p_value,
             p.partial_all.estimate, p.partial_all.ci] for p in pairs]
    return Table(
        "Correlations of each predictor with each target", CORRELATION_COLUMNS, rows,
        note=f"{config.bootstrap_resamples} paired bootstrap resamples, {config.ci_level:.0%} percentile CIs. "
             "'All factors' = training dropout, label noise, training fraction, weight decay, width, training "
             "steps and group indicators. The gap is expected to correlate negatively if it predicts anything (a "
             "larger gap = worse generalisation). The random score shows what chance produces at this n.")


def within_group_table(correlations: Sequence[GroupCorrelation]) -> Table:
    rows = [[g.group, g.target, g.spearman.n, g.spearman.estimate, g.spearman.ci, g.spearman.p_value]
            for g in correlations]
    return Table(f"'{PRIMARY}' within each dataset/architecture group",
                 ["group", "target", "n", "spearman", "spearman CI", "spearman p"], rows,
                 note=f"Groups with fewer than {MIN_POPULATION} models are omitted; pooled correlations can be "
                      "driven by differences between groups, these cannot.")


def settings_table(config: DropoutStudyConfig) -> Table:
    """The resolved config, one setting per row, for the reader of the report.

    Scalars are the raw values; a sequence (levels, grids) is listed as text of its exact values, since a list
    cell would read as a ``[low, high]`` interval. The machine-readable record is the envelope's config.
    """
    rows = [[name, ", ".join(str(v) for v in value) if isinstance(value, list) else value]
            for name, value in config.to_dict().items()]
    return Table("Settings", ["setting", "value"], rows,
                 note="The same values as the config recorded in result.json; sequences listed in order.")
