"""The report's tables, raw values only (the report rounds when it renders; intervals are [low, high] pairs).

In report order: the paired differences the verdict reads (and McNemar's cross-check), the held-out scores and
per-class recalls, the token lengths, the precision/process measurements (speed and memory; accuracy), what
selection chose, what the samplers fed, the data and the settings; the confusion matrices and the long
per-candidate table last. Tables stay narrow (at most seven columns: one row per class where the classes would
otherwise be columns), and what every row would repeat goes to the note.
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
from dlplayground.studies.gods.efficiency import REFERENCE, EfficiencyRow
from dlplayground.studies.gods.folds import NestedPlan
from dlplayground.studies.gods.metrics import ClassificationScores
from dlplayground.studies.gods.runs import FULL, MAJORITY, SHORT, TFIDF, CandidateRun, FamilyOutcome

MIB = 2**20


def _pair(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval.low, interval.high]


def _call(interval: Interval) -> str:
    return {1: "first better", -1: "second better", 0: "not resolved"}[interval.sign]


def _short_names(findings: Findings) -> dict[str, str]:
    """Model names short enough for a column header."""
    lengths = findings.lengths
    return {MAJORITY: "majority", TFIDF: "TF-IDF", SHORT: f"Longformer {lengths.short_length} tok",
            FULL: f"Longformer {lengths.full_length} tok"}


def differences_table(findings: Findings) -> Table:
    """The family of paired differences the verdict reads, each at the simultaneous level."""
    names = {k: m.name for k, m in findings.models.items()}
    rows = [[names[c.first], names[c.second], METRIC_NAMES[c.metric], c.difference.estimate, _pair(c.difference),
             _call(c.difference)] for c in findings.comparisons]
    level = findings.comparisons[0].difference.level if findings.comparisons else float("nan")
    return Table(
        "Paired differences on the held-out posts (first minus second)",
        ["first", "second", "metric", "difference", "interval", "call"], rows,
        note=f"{findings.n} held-out posts, resampled together for both models (paired bootstrap). Each interval is "
             f"at {100 * level:.1f} %, simultaneous over the {len(rows)} rows (Bonferroni), so all hold together at "
             "the run's level; the verdict calls a difference only when its interval excludes 0.",
    )


def mcnemar_table(findings: Findings) -> Table:
    """McNemar's exact test on the accuracy rows: the cross-check of the intervals."""
    names = {k: m.name for k, m in findings.models.items()}
    rows = [[names[c.first], names[c.second], c.only_first, c.only_second, c.p_value, c.p_holm]
            for c in findings.comparisons if c.p_value is not None]
    return Table("McNemar's exact test on the accuracy differences",
                 ["first", "second", "only first right", "only second right", "p", "Holm p"], rows,
                 note="Posts exactly one of the two models gets right; two-sided exact binomial test, Holm-adjusted "
                      "over the rows. A cross-check: the verdict reads the intervals.")


def scores_table(findings: Findings) -> Table:
    """Each model's pooled held-out accuracy and macro-F1 with intervals."""
    rows = [[m.name, m.accuracy.estimate, _pair(m.accuracy), m.macro_f1.estimate, _pair(m.macro_f1)]
            for m in findings.models.values()]
    level = next(iter(findings.models.values())).accuracy.level
    return Table(
        "Held-out scores at the natural class priors",
        ["model", "accuracy", "accuracy interval", "macro-F1", "macro-F1 interval"], rows,
        note=f"{findings.n} held-out posts; one post is {1 / findings.n:.4f} of accuracy. Intervals: {100 * level:g} % "
             "bootstrap over posts. What each fold selected is in 'Selection on the inner validation posts'.",
    )


def recall_table(findings: Findings, label_names: Sequence[str]) -> Table:
    """Per class: its held-out posts and each model's recall (one column per model)."""
    short = _short_names(findings)
    support = [sum(1 for t in findings.truth if t == c) for c in range(len(label_names))]
    rows = [[name, support[c], *[m.scores.recall[c] for m in findings.models.values()]]
            for c, name in enumerate(label_names)]
    return Table("Held-out recall per class", ["class", "posts", *[short[k] for k in findings.models]], rows,
                 note="Recall = share of the class's held-out posts the model labels correctly; accuracy rewards the "
                      "large classes, recall shows the small ones. 'tok' = tokens read.")


def context_table(findings: Findings) -> Table:
    """Token lengths of the held-out posts against the two context lengths."""
    lengths = findings.lengths
    rows: list[list[object]] = [[f"tokens per post, {q}th percentile", v]
                                for q, v in zip(PERCENTILES, lengths.percentiles(), strict=True)]
    rows += [[f"posts longer than {lengths.short_length} tokens", lengths.beyond_short],
             [f"share longer than {lengths.short_length} tokens", lengths.share_beyond_short],
             [f"posts longer than {lengths.full_length} tokens", lengths.beyond_full]]
    if findings.short_ran and lengths.beyond_short:
        mask = lengths.mask_beyond_short()
        short = _short_names(findings)
        for key in (FULL, SHORT):
            m = findings.models[key]
            right = [p == t for p, t, keep in zip(m.predictions, findings.truth, mask, strict=True) if keep]
            rows.append([f"accuracy of {short[key]} on those posts", sum(right) / len(right)])
    return Table("Token lengths of the held-out posts", ["quantity", "value"], rows,
                 note=f"Untruncated tokens per post, special tokens included, measured with the tokenizer of the fold "
                      f"that held the post out. The short twin truncates posts longer than {lengths.short_length} "
                      f"tokens; the full-context model those longer than {lengths.full_length}. The accuracies on the "
                      "truncated posts are descriptive (no interval); 'tok' = tokens read.")


def _mib(value: int | None) -> float | None:
    return value / MIB if value is not None else None


def _one(values: set[object]) -> str:
    """The value a column would repeat on every row (the values joined, should they differ)."""
    return ", ".join(sorted(str(v) for v in values if v not in (None, ""))) or "-"


_MEMORY_KINDS = {"process_peak_rss_reset": "the process's peak resident set since just before training, interpreter "
                                          "included",
                 "process_max_rss": "the whole process's peak resident set, interpreter included",
                 "cuda_max_allocated": "the CUDA allocator's peak during training",
                 "mps_driver_allocated": "the memory the MPS driver holds"}


def efficiency_speed_table(rows: Sequence[EfficiencyRow], steps: int, batch_size: int) -> Table:
    """The precision x processes cells: speed and peak memory (the reference's re-measurement in the note)."""
    out = []
    for r in rows:
        blocks = r.block_examples_per_s
        out.append([r.label, r.status, r.examples_per_s if r.measured else None, min(blocks) if blocks else None,
                    max(blocks) if blocks else None, _mib(r.peak_memory_bytes), _mib(r.memory_growth_bytes)])
    done = [r for r in rows if r.measured]
    threads, device = _one({r.threads_per_rank for r in done}), _one({r.device for r in rows})
    backend = _one({r.backend for r in rows if r.world_size > 1})
    kinds = sorted({r.memory_kind for r in done if r.memory_kind})
    memory = "; ".join(f"{kind}: {_MEMORY_KINDS.get(kind, kind)}" for kind in kinds)
    notes = [f"{steps} steps of global batch {batch_size} per configuration on {device}, each in fresh processes "
             f"({threads} CPU thread(s) per process; two processes over {backend}). Examples/s over the steps after "
             "warm-up; blocks are consecutive fifths of them. Peak memory is the largest over the ranks "
             f"({memory or 'not measured'}); growth is what training added."]
    reference = next((r for r in done if (r.precision, r.world_size) == REFERENCE), None)
    if reference is not None and reference.remeasured_block_examples_per_s:
        again = reference.remeasured_block_examples_per_s
        notes.append(f"The fp32 single-process reference ran again after all other cells (fresh processes): "
                     f"{reference.remeasured_examples_per_s:.0f} examples/s, blocks {min(again):.0f} to "
                     f"{max(again):.0f}; the verdict's speed calls use its band over both runs.")
    notes += [f"{r.label} {r.status}: {r.reason}." for r in rows if r.reason]
    return Table("Mixed precision and processes: speed and memory (fold 1)",
                 ["configuration", "status", "examples/s", "slowest block", "fastest block", "peak MiB", "growth MiB"],
                 out, note=" ".join(notes))


def efficiency_accuracy_table(rows: Sequence[EfficiencyRow]) -> Table:
    """The measured cells' held-out accuracy on fold 1 and its paired difference from the reference."""
    out = [[r.label, r.accuracy.estimate if r.accuracy else None, _pair(r.accuracy),
            r.accuracy_vs_reference.estimate if r.accuracy_vs_reference else None, _pair(r.accuracy_vs_reference),
            r.final_loss] for r in rows if r.measured]
    return Table("Mixed precision and processes: held-out accuracy (fold 1)",
                 ["configuration", "accuracy", "interval", "minus fp32 x 1", "difference interval", "final loss"], out,
                 note="Accuracy on fold 1's held-out posts after the configuration's training; the differences from "
                      "the fp32 single-process run are paired and simultaneous over the rows.")


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
    """What each sampler fed the model, against the natural prior of the inner training posts (one row per class)."""
    prior = [sum(data.counts(f.inner_train)[c] for f in plan.folds) for c in range(len(data.label_names))]
    ran = [s for s in strategies if any(r.candidate.strategy == s for r in runs)]
    mixes = [class_mix([r.log.seen_per_class for r in runs if r.candidate.strategy == s]) for s in ran]
    rows = [[name, prior[c] / sum(prior), *[mix[c] for mix in mixes]] for c, name in enumerate(data.label_names)]
    return Table("Class mix fed to training (share of examples drawn)", ["class", "natural prior", *ran], rows,
                 note="Pooled over ranks, folds and repeats; the prior is that of the inner training posts. 'none' "
                      "and 'weighted-loss' see the natural mix; 'oversample' and 'undersample' should be close to 1/k "
                      "each.")


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
