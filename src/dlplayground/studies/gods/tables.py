"""The report's tables, raw values only (the report rounds when it renders).

Scores per model, per run, the class mix each sampler fed to training, the confusion matrices of the best
Longformer run and of TF-IDF, the data counts, and the settings the run actually used.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlplayground.results import Table
from dlplayground.studies.gods.amp import PrecisionPlan
from dlplayground.studies.gods.analysis import ScoreSummary, class_mix
from dlplayground.studies.gods.config import GodsLongformerConfig
from dlplayground.studies.gods.encoding import EncodedSplits
from dlplayground.studies.gods.metrics import ClassificationScores
from dlplayground.studies.gods.runs import StrategyRun
from dlplayground.studies.gods.splits import GodsSplits


def score_table(summaries: Sequence[ScoreSummary], names: Sequence[str], n_val: int) -> Table:
    """Mean and sd of the validation scores per model, with the per-class recalls."""
    return Table(
        "Validation scores at the natural class priors (mean and sd over seeds)",
        ["model", "accuracy", "accuracy sd", "macro-F1", "macro-F1 sd", *[f"recall {n}" for n in names],
         "train s per run"],
        [[s.name, s.accuracy, s.accuracy_sd, s.macro_f1, s.macro_f1_sd, *s.recall, s.train_s] for s in summaries],
        note=f"{n_val} validation examples; one example is {1 / n_val:.3f} of accuracy. Baselines are "
             "deterministic (no sd). Per-class recall is the share of that class predicted correctly.",
    )


def run_table(runs: Sequence[StrategyRun]) -> Table:
    """One row per (strategy, seed) run."""
    return Table("Per-run scores", ["strategy", "seed", "accuracy", "macro-F1", "final loss", "train s"],
                 [[r.strategy, r.seed, r.scores.accuracy, r.scores.macro_f1, r.log.losses[-1], r.log.seconds]
                  for r in runs])


def class_mix_table(runs: Sequence[StrategyRun], strategies: Sequence[str], splits: GodsSplits) -> Table:
    """What each sampler actually fed the model, against the training split's natural prior."""
    names = splits.label_names
    rows = [["natural prior (training split)", *[n / len(splits.train) for n in splits.counts_per_class(splits.train)]]]
    rows += [[strategy, *class_mix(runs, strategy)] for strategy in strategies]
    return Table("Class mix fed to training (share of examples drawn, pooled over ranks and seeds)",
                 ["sampler", *names], rows,
                 note="'none' and 'weighted-loss' see the natural mix; 'oversample' and 'undersample' "
                      "should be close to 1/k each.")


def confusion_table(title: str, scores: ClassificationScores) -> Table:
    """Counts, true class per row, predicted class per column."""
    names = scores.label_names
    return Table(title, ["true \\ predicted", *names],
                 [[n, *row] for n, row in zip(names, scores.confusion, strict=True)])


def data_table(splits: GodsSplits) -> Table:
    """Examples per split and class (the test file has no labels)."""
    names = splits.label_names
    return Table("Data", ["split", "examples", *names], [
        ["train", len(splits.train), *splits.counts_per_class(splits.train)],
        ["validation", len(splits.val), *splits.counts_per_class(splits.val)],
        ["test (unlabelled)", len(splits.test) if splits.test is not None else 0, *[None for _ in names]],
    ])


def settings_table(
    config: GodsLongformerConfig, encoded: EncodedSplits, plan: PrecisionPlan, world_size: int, backend: str,
    device: str,
) -> Table:
    """The settings this run actually used, including what only the run knows (ranks, tokens, backend)."""
    dropout: float | str = "checkpoint's" if config.dropout is None else config.dropout
    return Table("Run settings", ["setting", "value"], [
        ["model", encoded.model_label],
        ["tokenizer vocabulary", encoded.vocab_size],
        ["max tokens per text", encoded.max_length],
        ["ranks (world size)", world_size],
        ["backend", backend],
        ["device", device],
        ["precision", plan.name + (" + GradScaler" if plan.use_grad_scaler else "")],
        ["steps per run", config.steps],
        ["global batch", config.batch_size],
        ["batch per rank", config.batch_size // world_size],
        ["peak learning rate", config.learning_rate],
        ["dropout", dropout],
        ["seeds per strategy", config.repeats],
    ])
