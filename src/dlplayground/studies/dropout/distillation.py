"""Distillability as a target that can vary: what a teacher adds to a smaller student on clean transfer data.

The earlier target -- a fixed tiny student trained on the teacher's own noisy subset, scored as student / teacher
accuracy -- barely moved (mean gain -0.005) and rewarded weak teachers (a ratio to a low accuracy is easy to
keep). Here, for each teacher:

* **The student** is a one-hidden-layer MLP with a quarter of the teacher's width level (capacity relative to
  the teacher, ``population.build_student``).
* **Clean transfer data**: the student learns from the teacher's softened outputs alone (Hinton's loss with the
  soft weight 1) on every input of the fit split -- no label is used, so the teacher is the student's only
  source of supervision, and the noisy labels it was trained on do not reach the student.
* **The temperature** is chosen per teacher from ``--kd-temperatures`` by the student's accuracy on the
  validation split (never on the target split it is scored on).
* **Distillation gain** (the target): the distilled student's accuracy on the target split minus that of the
  same student trained for the same steps on the teacher's own training labels (what one could do without the
  teacher). It varies with what the teacher learnt beyond its labels (denoising, the inputs it never saw
  labelled, dark knowledge), and it is reported with its spread and split-half reliability so a reader can see
  whether it has enough between-model signal to correlate with anything.
* **Retained accuracy** (secondary): distilled student / teacher accuracy on the target split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from dlplayground.studies.dropout.compression import distill
from dlplayground.studies.dropout.datasets import Part
from dlplayground.studies.dropout.training import FitConfig, accuracy_views, fit, modes_restored, predict_logits


@dataclass
class DistillResult:
    """The distilled students (one per temperature), the labels-only student, and the teacher, as accuracies.

    Accuracies on the target split are ``[all, first half, second half]``.
    """

    temperatures: list[float]
    validation_accuracies: list[float]
    """Each temperature's distilled student on the validation split: what chose the temperature."""
    chosen_temperature: float
    student: list[float]
    scratch: list[float]
    teacher: list[float]

    @property
    def gain(self) -> float:
        """Distilled student minus labels-only student, accuracy on the target split (fraction, not points)."""
        return self.student[0] - self.scratch[0]

    def half_gain(self, half: int) -> float:
        return self.student[1 + half] - self.scratch[1 + half]

    @property
    def retained(self) -> float:
        """Distilled student / teacher accuracy on the target split (NaN for a teacher at 0)."""
        return self.student[0] / self.teacher[0] if self.teacher[0] > 0 else math.nan

    def half_retained(self, half: int) -> float:
        t = self.teacher[1 + half]
        return self.student[1 + half] / t if t > 0 else math.nan


def measure_distillation(
    teacher: nn.Module,
    make_student: Callable[[], nn.Module],
    transfer_inputs: torch.Tensor,
    own_inputs: torch.Tensor,
    own_labels: torch.Tensor,
    validation: Part,
    target: Part,
    config: FitConfig,
    temperatures: Sequence[float],
) -> DistillResult:
    """Distil ``teacher`` into fresh students at each temperature, choose one on validation, score on target.

    ``make_student()`` builds a fresh, untrained student (its initialisation draws from torch's generator).
    """
    if not temperatures:
        raise ValueError("measure_distillation needs at least one temperature")
    with modes_restored(teacher):
        teacher.eval()
        teacher_labels = predict_logits(teacher, transfer_inputs).argmax(dim=1)  # unused at soft weight 1
    students, val_acc = [], []
    for t in temperatures:
        student = make_student()
        distill(teacher, student, transfer_inputs, teacher_labels, config, float(t), alpha=1.0)
        students.append(student)
        val_acc.append(accuracy_views(student, validation.x, validation.y, validation.half)[0])
    best = max(range(len(temperatures)), key=lambda i: (val_acc[i], -temperatures[i]))  # ties: the lowest T
    scratch = make_student()
    fit(scratch, own_inputs, own_labels, config)
    return DistillResult(
        temperatures=[float(t) for t in temperatures], validation_accuracies=val_acc,
        chosen_temperature=float(temperatures[best]),
        student=accuracy_views(students[best], target.x, target.y, target.half),
        scratch=accuracy_views(scratch, target.x, target.y, target.half),
        teacher=accuracy_views(teacher, target.x, target.y, target.half),
    )
