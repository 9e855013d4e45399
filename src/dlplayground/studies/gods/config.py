"""The resolved configuration of one ``gods_longformer`` run, as recorded in its ``result.json``.

``study.resolve`` builds it from the flags: every default that depends on ``--quick`` or on ``--model`` is
filled in and every number is checked, so the record says exactly what ran. ``None`` means only "not
given" (no test file, no checkpoint), never "the default".
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
    val_csv: Path | None
    """Labelled validation CSV; None: a stratified ``val_fraction`` split of the training file."""
    val_fraction: float
    """Share of each class held out for validation when no ``val_csv`` is given."""
    checkpoint: CheckpointRef | None
    """Longformer checkpoint to fine-tune; None: the small model of ``scratch``, trained from scratch."""
    scratch: ScratchSpec | None
    """The from-scratch model and its BPE vocabulary; None when ``checkpoint`` is fine-tuned instead."""
    dropout: float | None
    """Hidden and attention dropout; None only with a checkpoint, whose own dropout is then kept."""
    max_length: int
    """Tokens per text after truncation (a checkpoint's position table may lower it further)."""
    strategies: tuple[str, ...]
    """Imbalance strategies compared, in order (``sampler.IMBALANCE_STRATEGIES``)."""
    precision: str
    """Compute precision, ``--precision auto`` resolved for the device: fp32, fp16 or bf16."""
    steps: int
    """Optimizer steps per run, the same for every strategy."""
    batch_size: int
    """Global batch per step, over all ranks."""
    learning_rate: float
    """Peak AdamW learning rate (linear warm-up over 10 % of the steps, then linear decay)."""
    repeats: int
    """Seeds per strategy (``seed``, ``seed + 1``, ...), for the seed spread."""
    dist_timeout_s: float
    """Process-group timeout under torchrun: how long a collective waits for a missing rank."""
