"""One model of the population: train it, then measure the predictor, the targets and the baselines on it.

The predictor is accuracy under evaluation-time dropout (``mc_dropout``); the targets are prunability and
distillability (``compression``); the baselines are the generalisation gap, the weight norm, robustness to
random pruning and a random score. ``MemberResult`` keeps the raw curves (per-pass accuracies, per-level
pruning accuracies, per-draw random-pruning scores) so every summary can be re-derived from the record.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dlplayground.seeding import seed_everything
from dlplayground.studies.dropout.compression import PruneCurve, distill, prunability
from dlplayground.studies.dropout.config import DropoutStudyConfig
from dlplayground.studies.dropout.datasets import ClassificationSplit
from dlplayground.studies.dropout.mc_dropout import DropoutCurve, dropout_curve
from dlplayground.studies.dropout.population import Member, build_model, build_student, training_subset
from dlplayground.studies.dropout.training import FitConfig, accuracy, evaluate_accuracy, fit


@dataclass
class MemberResult:
    """Everything measured on one model; curves keep their raw per-pass / per-level samples."""

    member: Member
    n_train: int
    batch_size: int
    train_accuracy: float
    test_accuracy: float
    weight_norm: float
    native: DropoutCurve
    inserted: DropoutCurve
    prune_oneshot: PruneCurve
    prune_finetuned: PruneCurve
    random_prune_aucs: list[float]
    """Random-pruning robustness (mean accuracy/clean over the sparsity grid) of each random draw."""
    student_accuracy: float
    student_scratch_accuracy: float
    random_score: float
    elapsed_s: float

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.test_accuracy

    @property
    def epochs(self) -> float:
        """Passes over the member's training set that its fixed number of optimiser steps amounts to."""
        return self.member.train_steps * self.batch_size / self.n_train

    @property
    def prune_sparsity(self) -> float:
        return self.prune_oneshot.max_sparsity

    @property
    def prune_sparsity_finetuned(self) -> float:
        return self.prune_finetuned.max_sparsity

    @property
    def random_prune_robustness(self) -> float:
        return float(np.mean(self.random_prune_aucs))

    @property
    def distillability(self) -> float:
        return self.student_accuracy / self.test_accuracy if self.test_accuracy > 0 else math.nan

    @property
    def distillation_gain(self) -> float:
        """What the teacher adds: KD student accuracy minus the same student trained on the labels alone."""
        return self.student_accuracy - self.student_scratch_accuracy

    def raw(self) -> dict[str, Any]:
        """The raw measurements as plain data: the recipe, the dropout and pruning curves, the random draws."""
        return {
            "member": asdict(self.member), "n_train": self.n_train, "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy, "native": asdict(self.native), "inserted": asdict(self.inserted),
            "prune_oneshot": asdict(self.prune_oneshot), "prune_finetuned": asdict(self.prune_finetuned),
            "random_prune_aucs": list(self.random_prune_aucs), "student_accuracy": self.student_accuracy,
            "student_scratch_accuracy": self.student_scratch_accuracy, "random_score": self.random_score,
            "elapsed_s": self.elapsed_s,
        }


def weight_norm(model: nn.Module) -> float:
    """L2 norm of all Linear/Conv weights together (a classic capacity/generalisation baseline)."""
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    return float(torch.sqrt(sum((w.detach() ** 2).sum() for w in weights)))


def measure_member(member: Member, data: ClassificationSplit, config: DropoutStudyConfig, device: torch.device,
                   score_rng: np.random.Generator) -> MemberResult:
    """Train one model and measure predictor, targets and baselines on it."""
    started = time.perf_counter()
    seed_everything(member.seed)
    x_tr, y_tr = training_subset(member, data)
    x_tr, y_tr = x_tr.to(device), y_tr.to(device)
    x_te, y_te = data.x_test.to(device), data.y_test.to(device)
    model = build_model(member, data).to(device)
    fit(model, x_tr, y_tr, FitConfig(steps=member.train_steps, batch_size=config.batch_size,
                                     lr=config.learning_rate, weight_decay=member.weight_decay))
    train_acc = evaluate_accuracy(model, x_tr, y_tr)
    test_acc = evaluate_accuracy(model, x_te, y_te)

    # predictor: accuracy with dropout kept on at evaluation
    native = dropout_curve(model, x_te, y_te, config.rates, config.passes, "native")
    inserted = dropout_curve(model, x_te, y_te, config.rates, config.passes, "inserted")

    # target (a): prunability, one-shot and with brief fine-tuning on the model's own training data
    tolerance = config.tolerance_points / 100.0

    def score(m: nn.Module) -> float:
        return evaluate_accuracy(m, x_te, y_te)

    finetune_cfg = FitConfig(steps=config.finetune_steps, batch_size=config.batch_size,
                             lr=config.finetune_learning_rate)
    oneshot = prunability(model, score, config.prune_sparsities, tolerance, "magnitude", stop_early=False)
    tuned = prunability(model, score, config.prune_sparsities, tolerance, "magnitude",
                        finetune=lambda m: fit(m, x_tr, y_tr, finetune_cfg))
    # baseline: robustness to random pruning (same weights budget, no magnitude information)
    random_aucs = [prunability(model, score, config.random_prune_sparsities, tolerance, "random", stop_early=False,
                               seed=member.seed + draw).auc() for draw in range(config.random_prune_draws)]

    # target (b): distillability, and the same student without the teacher for comparison
    student_cfg = FitConfig(steps=config.student_steps, batch_size=config.batch_size, lr=config.learning_rate)
    student = build_student(data).to(device)
    distill(model, student, x_tr, y_tr, student_cfg, config.kd_temperature, config.kd_alpha)
    scratch = build_student(data).to(device)
    fit(scratch, x_tr, y_tr, student_cfg)

    return MemberResult(
        member=member, n_train=int(x_tr.shape[0]), batch_size=config.batch_size, train_accuracy=train_acc,
        test_accuracy=test_acc, weight_norm=weight_norm(model), native=native, inserted=inserted,
        prune_oneshot=oneshot, prune_finetuned=tuned, random_prune_aucs=random_aucs,
        student_accuracy=accuracy(student.eval(), x_te, y_te),
        student_scratch_accuracy=accuracy(scratch.eval(), x_te, y_te),
        random_score=float(score_rng.random()), elapsed_s=time.perf_counter() - started,
    )
