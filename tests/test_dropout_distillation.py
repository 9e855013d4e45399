"""Distillability as the dropout study measures it: a gain over a labels-only student, with the temperature
chosen on validation, from a teacher's soft outputs on clean transfer inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from dlplayground.nets import MLP
from dlplayground.studies.dropout.datasets import Part
from dlplayground.studies.dropout.distillation import DistillResult, measure_distillation
from dlplayground.studies.dropout.training import FitConfig


def _part(name: str, x: torch.Tensor, y: torch.Tensor) -> Part:
    return Part(name, x, y, np.arange(len(y)), np.arange(len(y)) % 2 == 0)


def test_a_clean_teacher_gives_a_student_trained_on_noisy_labels_a_large_gain():
    # The teacher is the true rule; the labels the "own" student gets are 45 % wrong. Distilled on the clean
    # transfer inputs the student learns the rule; trained on the noisy labels it learns much less of it.
    torch.manual_seed(0)
    rule = nn.Linear(4, 3)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, 4)
        with torch.no_grad():
            return x, rule(x).argmax(dim=1)

    (x_fit, y_fit), (x_val, y_val), (x_t, y_t) = make(400), make(200), make(200)
    noisy = y_fit.clone()
    flip = torch.rand(400) < 0.45
    noisy[flip] = (noisy[flip] + 1) % 3
    teacher = nn.Sequential(rule).eval()
    result = measure_distillation(teacher, lambda: MLP(4, 16, 1, 3), x_fit, x_fit[:80], noisy[:80],
                                  _part("validation", x_val, y_val), _part("target", x_t, y_t),
                                  FitConfig(steps=150, batch_size=64, lr=1e-2), [1.0, 4.0])
    assert result.teacher[0] == 1.0
    assert result.student[0] > 0.9
    assert result.gain > 0.1
    assert result.gain == pytest.approx(result.student[0] - result.scratch[0])
    assert result.chosen_temperature == result.temperatures[int(np.argmax(result.validation_accuracies))]
    assert np.mean([result.half_gain(0), result.half_gain(1)]) == pytest.approx(result.gain)  # equal halves
    assert result.retained == pytest.approx(result.student[0])


def test_ties_on_validation_choose_the_lowest_temperature_and_ratios_guard_zero():
    r = DistillResult([1.0, 4.0], [0.8, 0.8], 1.0, [0.5, 0.5, 0.5], [0.4, 0.4, 0.4], [0.0, 0.0, 0.0])
    assert np.isnan(r.retained)
    assert np.isnan(r.half_retained(1))
    assert r.gain == pytest.approx(0.1)
    torch.manual_seed(3)
    teacher, template = nn.Linear(2, 2).eval(), nn.Linear(2, 2)
    x, y = torch.randn(40, 2), torch.randint(0, 2, (40,))
    # zero steps: every student is the same untrained copy, so validation ties across all temperatures
    same = measure_distillation(teacher, lambda: copy.deepcopy(template), x, x, y, _part("v", x[:10], y[:10]),
                                _part("t", x[10:], y[10:]), FitConfig(steps=0), [2.0, 1.0, 4.0])
    assert len(set(same.validation_accuracies)) == 1
    assert same.chosen_temperature == 1.0
    with pytest.raises(ValueError, match="temperature"):
        measure_distillation(teacher, lambda: nn.Linear(2, 2), x, x, y, _part("v", x[:10], y[:10]),
                             _part("t", x[10:], y[10:]), FitConfig(steps=0), [])
