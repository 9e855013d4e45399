"""The resolved configuration of one ``gods_longformer`` run, as recorded in its ``result.json``.

``study.resolve`` builds it from the flags: every default that depends on ``--quick`` or on ``--model`` is
filled in (the context lengths from the model's own windows) and every number is checked, so the record says
exactly what ran. ``None`` means only "not given" (no test file, no checkpoint), never "the default".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlplayground.studies.gods.longformer import CheckpointRef, ScratchSpec
from dlplayground.studies.runner import StudyConfig


@dataclass(frozen=True, kw_only=True)
class GodsLongformerConfig(StudyConfig):
    """The GODS Longformer study's own settings on top of the common ones."""

    train_csv: Path | None
    """Competition training CSV (``id, title, content, target``); None: the packaged illustrative sample."""
    test_csv: Path | None
    """Competition test CSV (``id, title, content``) to write ``submission.csv`` for; None: no test file."""
    holdout_csv: Path | None
    """Labelled held-out CSV (train format); None: stratified ``folds``-fold cross-validation of the training file."""
    folds: int
    """Outer folds (each labelled post is held out once); 1 when ``holdout_csv`` is the held-out set."""
    inner_fraction: float
    """Share of each fold's development posts (per class) held back to select candidates on."""
    checkpoint: CheckpointRef | None
    """Longformer checkpoint to fine-tune; None: the small model of ``scratch``, trained from scratch."""
    scratch: ScratchSpec | None
    """The from-scratch model and its BPE vocabulary; None when ``checkpoint`` is fine-tuned instead."""
    dropout: float | None
    """Hidden and attention dropout; None only with a checkpoint, whose own dropout is then kept."""
    context_window: int
    """The model's context window in tokens (its position table): 4096 for longformer-base."""
    attention_window: int
    """The model's local attention window in tokens: 512 for longformer-base."""
    full_length: int
    """Tokens the full-context model reads per post (``--max-length``, at most ``context_window``)."""
    short_length: int
    """Tokens the short-context twin reads per post (``--short-length``; default one attention window)."""
    strategies: tuple[str, ...]
    """Imbalance strategies among the Longformer's candidates, in order (``sampler.IMBALANCE_STRATEGIES``)."""
    repeats: int
    """Repeats per strategy: each (strategy, repeat) is one candidate with its own random streams."""
    precision: str
    """Compute precision of the comparison, ``--precision auto`` resolved for the device: fp32, fp16 or bf16."""
    steps: int
    """Optimizer steps per candidate, the same for every candidate."""
    batch_size: int
    """Global batch per step, over all ranks."""
    learning_rate: float
    """Peak AdamW learning rate (linear warm-up over 10 % of the steps, then linear decay)."""
    resamples: int
    """Bootstrap resamples per interval."""
    level: float
    """Confidence level of the family of paired differences (each at the simultaneous level)."""
    efficiency: bool
    """Measure the precision x processes table (``efficiency``)."""
    efficiency_steps: int
    """Optimizer steps per configuration of that table."""
    dist_timeout_s: float
    """Process-group timeout under torchrun: how long a collective waits for a missing rank."""
