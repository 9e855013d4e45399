"""The dropout study's resolved configuration: every setting that sizes the run, as recorded in ``result.json``.

``DropoutStudyConfig`` holds the common flags (``StudyConfig``), the study's own flags and the fixed design
(factor levels, training and compression settings), all resolved: ``study.resolve`` fills in the defaults
that depend on ``--quick`` (``FULL_SIZES`` / ``QUICK_SIZES``) and checks every value before a model is
trained. The constants say why the population has the sizes it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlplayground.errors import UserInputError
from dlplayground.studies.runner import StudyConfig

STUDY = "dropout_overfitting"
PACKAGED_DATASETS = ("digits", "breast_cancer")
IMAGE_DATASETS = ("olivetti", "cifar10")  # read from user paths (--olivetti, --cifar); never downloaded
DATASET_CHOICES = (*PACKAGED_DATASETS, "all")
# Eight models is the floor at which the statistics are computable at all: a bootstrap resample of n models
# holds about 0.63 n distinct ones (5 of 8). It is a smoke-test floor; the verdict needs MIN_POPULATION_FOR_VERDICT.
MIN_POPULATION = 8
MIN_POPULATION_FOR_VERDICT = 30
# The default population is sized by the power of the core test (docs, "Power") within the 15-minute budget on
# a shared 2-core machine: the incremental partial correlation given clean accuracy, random-pruning robustness
# and the group (4 covariates with the packaged datasets' three groups), judged at the simultaneous level of 6
# decisions (99.17 %). 104 models detect -- or rule out -- an incremental rho of 0.34 with 80 % power; 0.3
# would need 134 (--population 134, about 1.3x the time).
DEFAULT_POPULATION = 104
QUICK_POPULATION = 8
DEFAULT_RATES = "0.1,0.2,0.3,0.4,0.5,0.6,0.7"
QUICK_RATES = "0.25,0.5"
MC_RATE_TARGET = 0.3  # MC-dropout is read at the rate of --rates nearest to this unless --mc-rate says otherwise
DEFAULT_PASSES, QUICK_PASSES = 6, 3
DEFAULT_BOOTSTRAP, QUICK_BOOTSTRAP = 2000, 200
MIN_BOOTSTRAP = 100  # fewer resamples leave the 2.5 % / 97.5 % percentiles resting on two or three values
DEFAULT_MIN_EFFECT = 0.3  # smallest incremental partial correlation worth a screening test (Cohen's "medium")
DEFAULT_CIFAR_PER_CLASS = 300

# The sizes --quick shrinks (everything else is the same in a quick run).
FULL_SIZES: dict[str, Any] = {
    "width_levels": (32, 64, 128, 256),
    "train_steps_levels": (150, 400, 1000),
    "prune_sparsities": (0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99),
    "finetune_steps": 20,
    "random_prune_sparsities": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    "random_prune_draws": 2,
    "student_steps": 150,  # at batch 128: ~27 passes over the digits transfer set, as 300 steps of 64 were
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
    """Datasets the population is trained on: packaged ones, then image sets whose data was given."""
    olivetti: Path | None = None
    """The Olivetti cache (``olivetti_py3.pkz``) or data home, when the faces join the population."""
    cifar: Path | None = None
    """The CIFAR-10 python-batch folder or archive, when CIFAR-10 joins the population."""
    cifar_per_class: int = DEFAULT_CIFAR_PER_CLASS
    """CIFAR-10 images kept per class (a stratified subsample: the CNNs train on a CPU)."""
    population: int
    """Number of models."""
    rates: tuple[float, ...]
    """Evaluation-time dropout rates, sorted, each in [0, 1)."""
    mc_rate: float
    """The rate (one of ``rates``) at which the MC-dropout predictive and its uncertainty are read."""
    passes: int
    """Stochastic forward passes per evaluation dropout rate (the MC-dropout samples)."""
    bootstrap_resamples: int
    """Bootstrap resamples per confidence interval (models resampled, paired)."""
    ci_level: float = 0.95
    """Confidence level of every descriptive interval; the verdict's are simultaneous (see ``verdict``)."""
    min_effect: float
    """Smallest incremental partial correlation that would matter (the verdict's delta)."""
    min_reliability: float = 0.5
    """Split-half reliability a target needs before "no incremental value" can be read from it."""
    power: float = 0.8
    """Power the population-size statements are made for."""
    kd_temperatures: tuple[float, ...]
    """Distillation temperatures; each model's is chosen on the validation split."""
    tolerance_points: float
    """Accuracy drop, in percentage points, that prunability allows."""

    # the factor levels the population is drawn from (each used equally often)
    label_noise_levels: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)
    """Fractions of training labels flipped to a random other class."""
    train_fraction_levels: tuple[float, ...] = (0.15, 0.3, 0.6, 1.0)
    """Fractions of the fit split a model trains on."""
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
    """Training steps of each distilled student and of the labels-only student."""
    student_batch_size: int = 128
    """Minibatch of the students: a tiny network's step costs the same at 64 or 128, so half the steps suffice."""
    student_width_divisor: int = 4
    """A student's hidden width is the teacher's width level divided by this (capacity relative to teacher)."""


def parse_rates(text: str, flag: str = "--rates") -> tuple[float, ...]:
    """Comma-separated dropout rates in [0, 1), at least one > 0; sorted and de-duplicated."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise UserInputError(f"{flag} {text!r}: expected comma-separated dropout rates in [0, 1), e.g. '0.1,0.3'")
    rates = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise UserInputError(f"{flag}: {part!r} is not a number; expected rates in [0, 1)") from None
        if not (0.0 <= value < 1.0):
            raise UserInputError(f"{flag}: {part} is outside [0, 1); a dropout rate p keeps units with "
                                 "probability 1 - p, so p must satisfy 0 <= p < 1")
        rates.append(value)
    if max(rates) <= 0:
        raise UserInputError(f"{flag} {text!r}: at least one rate must be > 0 (rate 0 is clean evaluation)")
    return tuple(sorted(set(rates)))


def parse_temperatures(text: str) -> tuple[float, ...]:
    """``--kd-temperatures``: comma-separated positive numbers, sorted and de-duplicated."""
    values = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        try:
            value = float(part)
        except ValueError:
            raise UserInputError(f"--kd-temperatures: {part!r} is not a number; expected e.g. '1,4'") from None
        if not (value > 0 and value < float("inf")):
            raise UserInputError(f"--kd-temperatures: {part} is not a positive temperature")
        values.append(value)
    if not values:
        raise UserInputError(f"--kd-temperatures {text!r}: expected at least one positive temperature, e.g. '1,4'")
    return tuple(sorted(set(values)))
