"""Every (seed, strategy) training run of the study, the same runs in the same order on every rank.

Each run seeds torch with its seed before building the model, so all ranks start from the same weights
(DDP also broadcasts rank 0's) and a strategy's runs differ from another's only in how the data is fed.
The validation split is the same for every run: seeds vary initialisation and sampling, not the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from dlplayground.progress import progress
from dlplayground.studies.gods.amp import PrecisionPlan
from dlplayground.studies.gods.config import GodsLongformerConfig
from dlplayground.studies.gods.distributed import DistContext
from dlplayground.studies.gods.encoding import EncodedSplits
from dlplayground.studies.gods.longformer import attention_window_of, build_classifier
from dlplayground.studies.gods.metrics import ClassificationScores, classification_scores
from dlplayground.studies.gods.splits import GodsSplits
from dlplayground.studies.gods.train import TrainConfig, TrainLog, predict_classes, train_classifier


@dataclass
class StrategyRun:
    """One (strategy, seed) training run and what it scored."""

    strategy: str
    repeat: int
    seed: int
    log: TrainLog
    scores: ClassificationScores
    """On the validation split."""
    test_predictions: list[int]
    """Class index per test text (empty without a test file)."""

    def to_dict(self) -> dict[str, Any]:
        """The raw record of the run (for ``StudyResult.raw``): scores, per-step losses, class mix fed."""
        return {"strategy": self.strategy, "repeat": self.repeat, "seed": self.seed, **self.scores.to_dict(),
                "losses": list(self.log.losses), "train_s": self.log.seconds,
                "seen_per_class": list(self.log.seen_per_class)}


def train_strategies(
    config: GodsLongformerConfig, splits: GodsSplits, encoded: EncodedSplits, *, ctx: DistContext,
    device: torch.device, plan: PrecisionPlan,
) -> list[StrategyRun]:
    """Train and score every (repeat, strategy) run; call on every rank with the same arguments."""
    y_train, y_val = splits.targets(splits.train), splits.targets(splits.val)
    k = len(splits.label_names)
    runs: list[StrategyRun] = []
    total = config.repeats * len(config.strategies)
    every = max(1, config.steps // 4)
    for repeat in range(config.repeats):
        seed = config.seed + repeat
        for strategy in config.strategies:
            torch.manual_seed(seed)  # the same initial weights on every rank (DDP also broadcasts them)
            model = build_classifier(config.scratch, config.checkpoint, encoded.tokenizer, splits.label_names,
                                     encoded.max_length, config.dropout)
            window = attention_window_of(model)
            recipe = TrainConfig(steps=config.steps, global_batch_size=config.batch_size,
                                 learning_rate=config.learning_rate, imbalance=strategy, seed=seed)
            label = f"run {len(runs) + 1}/{total} ({strategy}, seed {seed})"

            def report(step: int, loss: float, *, _label: str = label) -> None:
                if ctx.is_main and ((step + 1) % every == 0 or step + 1 == config.steps):
                    progress(f"{_label}: step {step + 1}/{config.steps}, loss {loss:.3f}")

            log = train_classifier(model, encoded.train, y_train, k, recipe, ctx=ctx, plan=plan, device=device,
                                   pad_id=encoded.pad_id, window=window, on_step=report)
            shared = {"ctx": ctx, "plan": plan, "device": device, "pad_id": encoded.pad_id, "window": window}
            val_pred = predict_classes(model, encoded.val, **shared)
            test_pred = predict_classes(model, encoded.test, **shared) if encoded.test else []
            scores = classification_scores(y_val, val_pred, splits.label_names)
            if ctx.is_main:
                progress(f"{label}: validation accuracy {scores.accuracy:.3f}, macro-F1 {scores.macro_f1:.3f}, "
                         f"{log.seconds:.1f} s")
            runs.append(StrategyRun(strategy, repeat, seed, log, scores, test_pred))
    return runs
