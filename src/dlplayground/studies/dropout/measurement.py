"""One model of the population: train it, then measure the predictors and the targets on disjoint data.

The phases, and the only data each one touches (``datasets`` explains the four splits):

* **training** -- the member's subset of the fit split (with its label noise); train accuracy on those labels;
* **covariates** -- clean accuracy on the validation split (the covariate every partial correlation controls
  for: a model at the majority-class rate is "robust" to everything), and the weight norm;
* ``measure_predictors`` -- the **predictor** split only: mean accuracy under eval-time dropout (native and
  inserted), the MC-dropout predictive and its mutual information, robustness to random pruning;
* ``measure_targets`` -- the **target** split for every score, the **validation** split for every choice
  (keep fine-tuning after pruning or not; the distillation temperature), and the **fit** split for every
  update (fine-tuning, the students).

So a predictor and a target never share an example, and no choice is scored on the examples it was made on
(``tests/test_dropout_splits.py`` traces every forward pass to prove it). ``MemberResult`` keeps the raw curves
(per-pass accuracies, per-level pruning accuracies, per-draw random pruning, per-temperature students), each
also on the two halves of its split for split-half reliability.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dlplayground.seeding import seed_everything
from dlplayground.studies.dropout.compression import PruneCurve, prunability
from dlplayground.studies.dropout.config import DropoutStudyConfig
from dlplayground.studies.dropout.datasets import Part, StudyData
from dlplayground.studies.dropout.distillation import DistillResult, measure_distillation
from dlplayground.studies.dropout.mc_dropout import DropoutCurve, MCPredictive, dropout_curve
from dlplayground.studies.dropout.population import Member, build_model, build_student, training_subset
from dlplayground.studies.dropout.training import FitConfig, accuracy_views, evaluate_accuracy, fit


@dataclass
class Predictors:
    """Everything measured on the predictor split."""

    native: DropoutCurve
    """Mean accuracy under the model's own Dropout layers switched on, at each rate."""
    inserted: DropoutCurve
    """Mean accuracy with dropout inserted before every weight layer but the first, at each rate."""
    mc: MCPredictive
    """The MC-dropout predictive (native dropout) at the configured rate."""
    random_prune: list[PruneCurve]
    """One random-pruning curve per draw (mean accuracy / clean over the sparsity grid)."""

    @property
    def random_prune_robustness(self) -> float:
        return float(np.mean([c.auc() for c in self.random_prune]))

    def half_random_prune_robustness(self, half: int) -> float:
        return float(np.mean([c.half_auc(half) for c in self.random_prune]))


@dataclass
class Targets:
    """Everything measured on the target split (choices made on validation, updates on fit)."""

    prune_oneshot: PruneCurve
    prune_finetuned: PruneCurve
    distillation: DistillResult


@dataclass
class MemberResult:
    """One model: its recipe, covariates, predictors and targets, with the raw curves behind each summary."""

    member: Member
    n_train: int
    batch_size: int
    train_accuracy: float
    clean_accuracy: float
    """Clean accuracy on the validation split: the covariate of the partial correlations."""
    chance_accuracy: float
    """The majority-class rate of the model's dataset (validation split): the floor."""
    weight_norm: float
    predictors: Predictors
    targets: Targets
    random_score: float
    elapsed_s: float

    @property
    def gap(self) -> float:
        """Generalisation gap: accuracy on the model's own (noisy) training labels minus clean accuracy."""
        return self.train_accuracy - self.clean_accuracy

    @property
    def epochs(self) -> float:
        """Passes over the member's training set that its fixed number of optimiser steps amounts to."""
        return self.member.train_steps * self.batch_size / self.n_train

    def raw(self) -> dict[str, Any]:
        """The raw measurements as plain data: the recipe, every curve, every student."""
        return asdict(self)


def weight_norm(model: nn.Module) -> float:
    """L2 norm of all Linear/Conv weights together (a classic capacity/generalisation baseline)."""
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    return float(torch.sqrt(sum((w.detach() ** 2).sum() for w in weights)))


def _on(part: Part, device: torch.device) -> Part:
    return Part(part.name, part.x.to(device), part.y.to(device), part.index, part.half)


def measure_predictors(model: nn.Module, part: Part, config: DropoutStudyConfig, seed: int) -> Predictors:
    """The predictors, from the predictor split alone."""
    native, mc = dropout_curve(model, part.x, part.y, config.rates, config.passes, "native", part.half,
                               config.mc_rate)
    inserted, _ = dropout_curve(model, part.x, part.y, config.rates, config.passes, "inserted", part.half)
    assert mc is not None

    def score(m: nn.Module) -> list[float]:
        return accuracy_views(m, part.x, part.y, part.half)

    tolerance = config.tolerance_points / 100.0
    random = [prunability(model, score, config.random_prune_sparsities, tolerance, "random", stop_early=False,
                          seed=seed + draw) for draw in range(config.random_prune_draws)]
    return Predictors(native=native, inserted=inserted, mc=mc, random_prune=random)


def measure_targets(model: nn.Module, member: Member, data: StudyData, own: tuple[torch.Tensor, torch.Tensor],
                    config: DropoutStudyConfig, device: torch.device) -> Targets:
    """The targets: scored on the target split, chosen on validation, updated on fit (``own`` = the member's
    training subset and labels, which the labels-only student learns from)."""
    target, validation = _on(data.target, device), _on(data.validation, device)
    fit_x = data.fit.x.to(device)
    x_own, y_own = own
    tolerance = config.tolerance_points / 100.0

    def score(m: nn.Module) -> list[float]:
        return accuracy_views(m, target.x, target.y, target.half)

    def choose(m: nn.Module) -> float:
        return evaluate_accuracy(m, validation.x, validation.y)

    finetune_cfg = FitConfig(steps=config.finetune_steps, batch_size=config.batch_size,
                             lr=config.finetune_learning_rate)
    oneshot = prunability(model, score, config.prune_sparsities, tolerance, "magnitude", stop_early=False)
    tuned = prunability(model, score, config.prune_sparsities, tolerance, "magnitude",
                        finetune=lambda m: fit(m, x_own, y_own, finetune_cfg), choose=choose, stop_early=True)
    student_cfg = FitConfig(steps=config.student_steps, batch_size=config.student_batch_size, lr=config.learning_rate)
    distillation = measure_distillation(
        model, lambda: build_student(member, data, config.student_width_divisor).to(device), fit_x, x_own, y_own,
        validation, target, student_cfg, config.kd_temperatures)
    return Targets(prune_oneshot=oneshot, prune_finetuned=tuned, distillation=distillation)


def measure_member(member: Member, data: StudyData, config: DropoutStudyConfig, device: torch.device,
                   score_rng: np.random.Generator) -> MemberResult:
    """Train one model, then measure its covariates, predictors and targets (module docstring)."""
    started = time.perf_counter()
    seed_everything(member.seed)
    x_own, y_own = training_subset(member, data)
    x_own, y_own = x_own.to(device), y_own.to(device)
    model = build_model(member, data).to(device)
    fit(model, x_own, y_own, FitConfig(steps=member.train_steps, batch_size=config.batch_size,
                                       lr=config.learning_rate, weight_decay=member.weight_decay))
    validation = _on(data.validation, device)
    predictors = measure_predictors(model, _on(data.predictor, device), config, member.seed)
    targets = measure_targets(model, member, data, (x_own, y_own), config, device)
    return MemberResult(
        member=member, n_train=int(x_own.shape[0]), batch_size=config.batch_size,
        train_accuracy=evaluate_accuracy(model, x_own, y_own),
        clean_accuracy=evaluate_accuracy(model, validation.x, validation.y), chance_accuracy=data.chance_accuracy,
        weight_norm=weight_norm(model), predictors=predictors, targets=targets,
        random_score=float(score_rng.random()), elapsed_s=time.perf_counter() - started,
    )
