"""The report's tables, raw values only (the report rounds when it renders; intervals are [low, high] pairs).

In report order: the paired differences the verdict reads, the held-out scores, the token lengths, the
precision/process measurements, what selection chose, what the samplers fed, the data and the settings;
the confusion matrices and the long per-candidate table last.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlplayground.results import Table
from dlplayground.stats import Interval
from dlplayground.studies.gods.amp import PrecisionPlan
from dlplayground.studies.gods.analysis import Findings, class_mix
from dlplayground.studies.gods.comparison import METRIC_NAMES
from dlplayground.studies.gods.config import GodsLongformerConfig
from dlplayground.studies.gods.context import PERCENTILES
from dlplayground.studies.gods.corpus import GodsData
from dlplayground.studies.gods.efficiency import EfficiencyRow
from dlplayground.studies.gods.folds import NestedPlan
from dlplayground.studies.gods.metrics import ClassificationScores
from dlplayground.studies.gods.runs import FULL, SHORT, CandidateRun, FamilyOutcome

MIB = 2**20


def _pair(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval.low, interval.high]


def _call(interval: Interval) -> str:
    return {1: "first better", -1: "second better", 0: "not resolved"}[interval.sign]


def differences_table(findings: Findings) -> Table:
    """The family of paired differences, each at the simultaneous level, with McNemar as a cross-check."""
    names = {k: m.name for k, m in findings.models.items()}
    rows = [[names[c.first], names[c.second], METRIC_NAMES[c.metric], c.difference.estimate, _pair(c.difference),
             c.difference.level, c.only_first, c.only_second, c.p_value, c.p_holm, _call(c.difference)]
            for c in findings.comparisons]
    return Table(
        "Paired differences on the held-out posts (first minus second)",
        ["first", "second", "metric", "difference", "interval", "interval level", "only first right",
         "only second right", "McNemar p", "Holm p", "call"], rows,
        note=f"{findings.n} held-out posts, resampled together for both models (paired bootstrap). Intervals are "
             "simultaneous over the rows (Bonferroni), so all hold together at the run's level; the verdict calls a "
             "difference only when its interval excludes 0. McNemar's exact test (accuracy) is a cross-check, "
             "Holm-adjusted over the accuracy rows.",
    )


def scores_table(findings: Findings, label_names: Sequence[str]) -> Table:
    """Each model's pooled held-out scores with intervals, per-class recall and what each fold selected."""
    rows = [[m.name, m.accuracy.estimate, _pair(m.accuracy), m.macro_f1.estimate, _pair(m.macro_f1),
             *m.scores.recall, "; ".join(m.chosen)] for m in findings.models.values()]
    level = next(iter(findings.models.values())).accuracy.level
    return Table(
        "Held-out scores at the natural class priors",
        ["model", "accuracy", "accuracy interval", "macro-F1", "macro-F1 interval",
         *[f"recall {n}" for n in label_names], "selected per fold"], rows,
        note=f"{findings.n} held-out posts; one post is {1 / findings.n:.4f} of accuracy. Intervals: {100 * level:g} % "
             "bootstrap over posts. The selected candidate of each fold was chosen on that fold's inner "
             "validation posts only.",
    )


def context_table(findings: Findings) -> Table:
    """Token lengths of the held-out posts against the two context lengths."""
    lengths = findings.lengths
    rows: list[list[object]] = [[f"tokens per post, {q}th percentile", v]
                                for q, v in zip(PERCENTILES, lengths.percentiles(), strict=True)]
    rows += [[f"posts longer than {lengths.short_length} tokens (short twin truncates)", lengths.beyond_short],
             [f"share longer than {lengths.short_length} tokens", lengths.share_beyond_short],
             [f"posts longer than {lengths.full_length} tokens (truncated even at full context)", lengths.beyond_full]]
    if findings.short_ran and lengths.beyond_short:
        mask = lengths.mask_beyond_short()
        for key in (FULL, SHORT):
            m = findings.models[key]
            right = [p == t for p, t, keep in zip(m.predictions, findings.truth, mask, strict=True) if keep]
            rows.append([f"accuracy of '{m.name}' on those {lengths.beyond_short} posts", sum(right) / len(right)])
    return Table("Token lengths of the held-out posts", ["quantity", "value"], rows,
                 note="Untruncated tokens per post, special tokens included, measured with the tokenizer of the fold "
                      "that held the post out. The accuracies on the truncated posts are descriptive (no interval).")


def efficiency_table(rows: Sequence[EfficiencyRow], steps: int, batch_size: int) -> Table:
    """The precision x processes measurements."""
    out = []
    for r in rows:
        blocks = r.block_examples_per_s
        rate = r.examples_per_s if r.measured else None
        out.append([r.label, r.backend, r.device, r.status, r.threads_per_rank, rate,
                    min(blocks) if blocks else None, max(blocks) if blocks else None,
                    r.peak_memory_bytes / MIB if r.peak_memory_bytes is not None else None,
                    r.memory_growth_bytes / MIB if r.memory_growth_bytes is not None else None, r.memory_kind or None,
                    r.accuracy.estimate if r.accuracy else None, _pair(r.accuracy),
                    r.accuracy_vs_reference.estimate if r.accuracy_vs_reference else None,
                    _pair(r.accuracy_vs_reference), r.final_loss,
                    r.remeasured_examples_per_s if r.remeasured_block_examples_per_s else None, r.reason or None])
    return Table(
        "Mixed precision and processes: speed, memory and held-out accuracy (fold 1)",
        ["configuration", "backend", "device", "status", "threads per rank", "examples/s", "slowest block",
         "fastest block", "peak memory MiB", "growth in training MiB", "memory measure", "accuracy",
         "accuracy interval", "accuracy minus fp32 x 1", "difference interval", "final loss",
         "re-measured last, examples/s", "reason"], out,
        note=f"{steps} steps of global batch {batch_size} per configuration, each in fresh processes; examples/s over "
             "the steps after warm-up, blocks = consecutive fifths of them. Peak memory is the largest over the ranks "
             "(process_max_rss: the whole process's peak resident set, interpreter included; cuda_max_allocated: the "
             "allocator's peak during training). Accuracy on fold 1's held-out posts; differences from the fp32 "
             "single-process run are paired and simultaneous over the rows. The fp32 single-process reference runs "
             "again after all other cells (fresh processes) to bracket them; the verdict's speed calls use its band "
             "over both runs.",
    )


def selection_table(outcomes: Sequence[FamilyOutcome], names: dict[str, str]) -> Table:
    """Per fold and family: the candidate selected, its inner scores, and how many candidates it beat."""
    rows = []
    for o in sorted(outcomes, key=lambda o: (o.fold, o.family)):
        if not o.scores:
            continue
        s = o.scores[o.chosen]
        rows.append([o.fold + 1, names[o.family], o.chosen_label, s.accuracy, s.macro_f1, len(o.scores)])
    return Table("Selection on the inner validation posts", ["fold", "model", "selected", "inner accuracy",
                                                            "inner macro-F1", "candidates"], rows,
                 note="Inner scores are optimistic (the maximum of several candidates); the held-out scores are the "
                      "ones to read.")


def candidates_table(runs: Sequence[CandidateRun], names: dict[str, str]) -> Table:
    """Every Longformer candidate of every fold: its inner scores and training time."""
    return Table("Longformer candidates (inner validation scores)",
                 ["fold", "model", "candidate", "inner accuracy", "inner macro-F1", "final loss", "train s"],
                 [[r.fold + 1, names[r.family], r.candidate.label, r.score.accuracy, r.score.macro_f1, r.log.losses[-1],
                   r.log.seconds] for r in runs])


def class_mix_table(runs: Sequence[CandidateRun], strategies: Sequence[str], data: GodsData,
                    plan: NestedPlan) -> Table:
    """What each sampler fed the model, against the natural prior of the inner training posts."""
    prior = [sum(data.counts(f.inner_train)[c] for f in plan.folds) for c in range(len(data.label_names))]
    rows = [["natural prior (inner training posts)", *[n / sum(prior) for n in prior]]]
    rows += [[s, *class_mix([r.log.seen_per_class for r in runs if r.candidate.strategy == s])]
             for s in strategies if any(r.candidate.strategy == s for r in runs)]
    return Table("Class mix fed to training (share of examples drawn, pooled over ranks, folds and repeats)",
                 ["sampler", *data.label_names], rows,
                 note="'none' and 'weighted-loss' see the natural mix; 'oversample' and 'undersample' should be close "
                      "to 1/k each.")


def confusion_table(title: str, scores: ClassificationScores) -> Table:
    """Counts, true class per row, predicted class per column."""
    names = scores.label_names
    return Table(title, ["true \\ predicted", *names],
                 [[n, *row] for n, row in zip(names, scores.confusion, strict=True)])


def data_table(data: GodsData, plan: NestedPlan) -> Table:
    """Posts per fold, part and class."""
    names = data.label_names
    rows = []
    for f in plan.folds:
        for part, indices in (("inner training", f.inner_train), ("inner validation", f.inner_val),
                              ("held out", f.held_out)):
            rows.append([f.index + 1, part, len(indices), *data.counts(indices)])
    rows.append(["-", "test (unlabelled)", len(data.test) if data.test is not None else 0, *[None for _ in names]])
    return Table("Data per fold", ["fold", "part", "posts", *names], rows)


def settings_table(config: GodsLongformerConfig, model_label: str, vocab_size: int, plan: PrecisionPlan,
                   world_size: int, backend: str, device: str) -> Table:
    """The settings this run actually used, including what only the run knows (ranks, vocabulary, backend)."""
    dropout: float | str = "checkpoint's" if config.dropout is None else config.dropout
    outer = (f"--holdout {config.holdout_csv}" if config.holdout_csv is not None
             else f"stratified {config.folds}-fold cross-validation")
    return Table("Run settings", ["setting", "value"], [
        ["model", model_label],
        ["tokenizer vocabulary", vocab_size],
        ["context window (tokens)", config.context_window],
        ["attention window (tokens)", config.attention_window],
        ["full-context model reads (tokens)", config.full_length],
        ["short-context twin reads (tokens)", config.short_length],
        ["held-out posts from", outer],
        ["inner validation share", config.inner_fraction],
        ["candidates per model per fold", len(config.strategies) * config.repeats],
        ["ranks (world size)", world_size],
        ["backend", backend],
        ["device", device],
        ["precision", plan.name + (" + GradScaler" if plan.use_grad_scaler else "")],
        ["CPU threads per process", config.threads],
        ["steps per candidate", config.steps],
        ["global batch", config.batch_size],
        ["batch per rank", config.batch_size // world_size],
        ["peak learning rate", config.learning_rate],
        ["dropout", dropout],
        ["bootstrap resamples", config.resamples],
        ["family confidence level", config.level],
    ])
