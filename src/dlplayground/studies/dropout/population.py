"""The population of models: their recipes, their training data, their networks and their students.

Each model gets a level of every factor that moves generalisation (label noise, training-set size, weight
decay, width, training dropout, training length) and a seed. Levels are balanced across the population
(each used equally often, combined at random: a Latin-hypercube design), so no factor is confounded with
another by construction. Groups (dataset x architecture) cycle through ``group_cycle``: on the packaged sets
digits-MLP, digits-CNN, breast-cancer-MLP, digits-MLP, breast-cancer-MLP (MLPs are cheap; a CNN costs about
ten times as much per step on a CPU); each image set given by path adds its CNN and its MLP to the cycle.

The distillation student's capacity is tied to its teacher's: a one-hidden-layer MLP with a quarter of the
teacher's width level (``student_width_divisor``), so "how much fits in a smaller model" means the same
relative squeeze for every teacher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from dlplayground.nets import MLP, SmallCNN
from dlplayground.seeding import numpy_rng
from dlplayground.studies.dropout.config import DropoutStudyConfig
from dlplayground.studies.dropout.datasets import StudyData

T = TypeVar("T")

# The design factors: a Member attribute each, drawn from the config's ``<factor>_levels`` in this order (the
# order fixes which random permutation each factor gets, hence the population a seed gives).
FACTORS = ("label_noise", "train_fraction", "weight_decay", "width", "dropout", "train_steps")

# CNN stage widths per MLP width level: kept small, since a CNN costs ~10x an MLP per step on a CPU (on the
# shared 2-core machine a digits CNN was 40 % of the run at (6, 12)-(16, 32); these halve its cost).
_CNN_WIDTHS = {16: (3, 6), 32: (4, 8), 64: (6, 12), 128: (8, 16), 256: (12, 24)}


@dataclass(frozen=True)
class Member:
    """One model of the population: its recipe (every factor that moves generalisation)."""

    index: int
    dataset: str
    arch: str  # "mlp" or "cnn"
    width: int
    label_noise: float
    train_fraction: float
    weight_decay: float
    dropout: float
    train_steps: int
    seed: int

    @property
    def group(self) -> str:
        return f"{self.dataset}-{self.arch}"


def balanced_levels(levels: Sequence[T], n: int, rng: np.random.Generator) -> list[T]:
    """``n`` draws using every level equally often (up to one), in random order: a Latin-hypercube column."""
    tiled = [levels[i % len(levels)] for i in range(n)]
    return [tiled[i] for i in rng.permutation(n)]


def group_cycle(datasets: Sequence[str]) -> list[tuple[str, str]]:
    """The (dataset, architecture) groups in the order models are assigned to them, for the given datasets."""
    packaged = [("digits", "mlp"), ("digits", "cnn"), ("breast_cancer", "mlp"), ("digits", "mlp"),
                ("breast_cancer", "mlp")]
    groups = [g for g in packaged if g[0] in datasets]
    for name in datasets:
        if name not in {g[0] for g in packaged}:
            groups += [(name, "cnn"), (name, "mlp")]
    return groups


def design_population(config: DropoutStudyConfig, seed: int) -> list[Member]:
    """The population's recipes: groups cycle through the datasets/architectures, factors are balanced."""
    groups = group_cycle(config.datasets)
    rng = numpy_rng(seed)
    n = config.population
    columns = {name: balanced_levels(getattr(config, f"{name}_levels"), n, rng) for name in FACTORS}
    members = []
    for i in range(n):
        dataset, arch = groups[i % len(groups)]
        members.append(Member(index=i, dataset=dataset, arch=arch, seed=seed * 100_000 + i,
                              **{name: col[i] for name, col in columns.items()}))
    return members


def build_model(member: Member, data: StudyData) -> nn.Module:
    """A two-hidden-layer MLP of the member's width, or a two-stage SmallCNN sized from it (image sets)."""
    if member.arch == "mlp":
        return MLP(data.in_features, member.width, 2, data.n_classes, member.dropout)
    if not data.is_image:
        raise ValueError(f"a CNN needs image inputs; {data.name!r} has shape {data.input_shape}")
    return SmallCNN(data.input_shape[0], _CNN_WIDTHS[member.width], data.n_classes, member.dropout)


def build_student(member: Member, data: StudyData, divisor: int) -> nn.Module:
    """The distillation student: one hidden layer of the teacher's width level / ``divisor`` units (>= 4)."""
    return MLP(data.in_features, max(4, member.width // divisor), 1, data.n_classes, 0.0)


def training_subset(member: Member, data: StudyData) -> tuple[torch.Tensor, torch.Tensor]:
    """The member's share of the fit split, with a fraction of labels flipped to a random other class."""
    rng = numpy_rng(member.seed)
    n = data.fit.size
    keep = np.sort(rng.permutation(n)[: max(data.n_classes * 2, round(member.train_fraction * n))])
    y = data.fit.y[keep].clone()
    flip = rng.random(len(keep)) < member.label_noise
    offsets = rng.integers(1, data.n_classes, size=len(keep))  # never the true class
    y[torch.from_numpy(flip)] = (y[torch.from_numpy(flip)] + torch.from_numpy(offsets[flip])) % data.n_classes
    return data.fit.x[keep], y
