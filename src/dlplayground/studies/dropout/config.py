"""The dropout study's resolved configuration: every setting that sizes the run, as recorded in ``result.json``.

``DropoutStudyConfig`` holds the common flags (``StudyConfig``), the study's own flags and the fixed design
(factor levels, training and compression settings), all resolved: ``study.resolve`` fills in the defaults
that depend on ``--quick`` (``FULL_SIZES`` / ``QUICK_SIZES``) and checks every value before a model is
trained. The constants say why the population has the sizes it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlplayground.errors import UserInputError
from dlplayground.studies.runner import StudyConfig

STUDY = "dropout_overfitting"
DATASETS = ("digits", "breast_cancer")
DATASET_CHOICES = (*DATASETS, "both")
# Eight models is the floor at which the statistics are computable at all: the partial correlation keeps
# n - 3 = 5 degrees of freedom, and a bootstrap resample of n models holds about 0.63 n distinct ones (5 of 8).
# It is a smoke-test floor, not a sample size for a verdict: detecting a Spearman correlation of 0.5 with 80 %
# power at the 5 % level needs about 30 models, hence the default of 40 and no verdict below 20.
MIN_POPULATION = 8
MIN_POPULATION_FOR_VERDICT = 20
DEFAULT_POPULATION = 40
QUICK_POPULATION = 8
DEFAULT_RATES = "0.1,0.2,0.3,0.4,0.5,0.6,0.7"
QUICK_RATES = "0.25,0.5"
DEFAULT_PASSES, QUICK_PASSES = 10, 3
DEFAULT_BOOTSTRAP, QUICK_BOOTSTRAP = 2000, 200
MIN_BOOTSTRAP = 100  # fewer resamples leave the 2.5 % / 97.5 % percentiles resting on two or three values

# The sizes --quick shrinks (everything else is the same in a quick run).
FULL_SIZES: dict[str, Any] = {
    "width_levels": (32, 64, 128, 256),
    "train_steps_levels": (150, 400, 1000),
    "prune_sparsities": (0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99),
    "finetune_steps": 25,
    "random_prune_sparsities": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    "random_prune_draws": 2,
    "student_steps": 500,  # a KD student converges slower than one on hard labels; 250 left it short
}
QUICK_SIZES: dict[str, Any] = {
    "width_levels": (16, 32, 64),
    "train_steps_levels": (30, 80),
    "prune_sparsities": (0.3, 0.6, 0.8, 0.9),
    "finetune_steps": 5,
    "random_prune_sparsities": (0.2, 0.5),
    "random_prune_draws": 1,
    "student_steps": 40,
}


@dataclass(frozen=True, kw_only=True)
class DropoutStudyConfig(StudyConfig):
    """Everything that sizes the dropout study, resolved from the flags (quick or default) and validated."""

    datasets: tuple[str, ...]
    """Datasets the population is trained on (``digits``, ``breast_cancer``)."""
    population: int
    """Number of models."""
    rates: tuple[float, ...]
    """Evaluation-time dropout rates, sorted, each in [0, 1)."""
    passes: int
    """Stochastic forward passes per evaluation dropout rate."""
    bootstrap_resamples: int
    """Bootstrap resamples per confidence interval (models resampled, paired)."""
    ci_level: float = 0.95
    """Confidence level of every bootstrap interval."""
    kd_temperature: float
    """Distillation temperature T."""
    kd_alpha: float
    """Weight of the soft (KL) term in the distillation loss, in [0, 1]."""
    tolerance_points: float
    """Test-accuracy drop, in percentage points, that prunability allows."""

    # the factor levels the population is drawn from (each used equally often)
    label_noise_levels: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)
    """Fractions of training labels flipped to a random other class."""
    train_fraction_levels: tuple[float, ...] = (0.15, 0.3, 0.6, 1.0)
    """Fractions of the training split a model trains on."""
    weight_decay_levels: tuple[float, ...] = (0.0, 0.01, 0.1, 1.0)
    """AdamW decoupled weight decay."""
    width_levels: tuple[int, ...]
    """Hidden units of the MLPs (the CNNs' stage widths are scaled from it)."""
    dropout_levels: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5)
    """Training dropout rates."""
    train_steps_levels: tuple[int, ...]
    """Optimiser steps of training (epochs = steps x batch / training-set size follow)."""

    learning_rate: float = 3e-3
    """AdamW learning rate for the models and the students."""
    finetune_learning_rate: float = 1e-3
    """AdamW learning rate of the brief fine-tuning after pruning."""
    batch_size: int = 64
    """Minibatch size of every training loop."""

    # the targets
    prune_sparsities: tuple[float, ...]
    """Grid of global magnitude-pruning sparsities for prunability."""
    finetune_steps: int
    """Fine-tuning steps after pruning (prunability, fine-tuned)."""
    random_prune_sparsities: tuple[float, ...]
    """Sparsities of the random-pruning baseline."""
    random_prune_draws: int
    """Random masks per sparsity of the random-pruning baseline."""
    student_steps: int
    """Training steps of the distilled (and the labels-only) student."""


def parse_rates(text: str) -> tuple[float, ...]:
    """``--rates``: comma-separated dropout rates in [0, 1), at least one > 0; sorted and de-duplicated."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise UserInputError(f"--rates {text!r}: expected comma-separated dropout rates in [0, 1), e.g. '0.1,0.3'")
    rates = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise UserInputError(f"--rates: {part!r} is not a number; expected rates in [0, 1)") from None
        if not (0.0 <= value < 1.0):
            raise UserInputError(f"--rates: {part} is outside [0, 1); a dropout rate p keeps units with "
                                 "probability 1 - p, so p must satisfy 0 <= p < 1")
        rates.append(value)
    if max(rates) <= 0:
        raise UserInputError(f"--rates {text!r}: at least one rate must be > 0 (rate 0 is clean evaluation)")
    return tuple(sorted(set(rates)))
