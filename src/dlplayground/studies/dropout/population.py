"""The population of models: their recipes, their training data and their networks.

Each model gets a level of every factor that moves generalisation (label noise, training-set size, weight
decay, width, training dropout, training length) and a seed. Levels are balanced across the population
(each used equally often, combined at random: a Latin-hypercube design), so no factor is confounded with
another by construction. Groups cycle digits-MLP, digits-CNN, breast-cancer-MLP, digits-MLP, digits-MLP:
MLPs are cheap and CNNs cost about ten times as much per step on a CPU.
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
from dlplayground.studies.dropout.datasets import ClassificationSplit

T = TypeVar("T")

# The design factors: a Member attribute each, drawn from the config's ``<factor>_levels`` in this order (the
# order fixes which random permutation each factor gets, hence the population a seed gives).
FACTORS = ("label_noise", "train_fraction", "weight_decay", "width", "dropout", "train_steps")

# CNN stage widths per MLP width level: kept small, since a CNN costs ~10x an MLP per step on a CPU.
_CNN_WIDTHS = {16: (4, 8), 32: (6, 12), 64: (8, 16), 128: (12, 24), 256: (16, 32)}


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


def design_population(config: DropoutStudyConfig, seed: int) -> list[Member]:
    """The population's recipes: groups cycle through the datasets/architectures, factors are balanced."""
    groups: list[tuple[str, str]] = []
    if "digits" in config.datasets:
        groups += [("digits", "mlp"), ("digits", "cnn")]
    if "breast_cancer" in config.datasets:
        groups.append(("breast_cancer", "mlp"))
    if "digits" in config.datasets:
        groups += [("digits", "mlp"), ("digits", "mlp")]  # MLPs are cheap; CNNs ~10x the cost
    rng = numpy_rng(seed)
    n = config.population
    columns = {name: balanced_levels(getattr(config, f"{name}_levels"), n, rng) for name in FACTORS}
    members = []
    for i in range(n):
        dataset, arch = groups[i % len(groups)]
        members.append(Member(index=i, dataset=dataset, arch=arch, seed=seed * 100_000 + i,
                              **{name: col[i] for name, col in columns.items()}))
    return members


def build_model(member: Member, data: ClassificationSplit) -> nn.Module:
    """A two-hidden-layer MLP of the member's width, or a two-stage SmallCNN sized from it (digits only)."""
    if member.arch == "mlp":
        return MLP(data.in_features, member.width, 2, data.n_classes, member.dropout)
    return SmallCNN(1, _CNN_WIDTHS[member.width], data.n_classes, member.dropout)


def build_student(data: ClassificationSplit) -> nn.Module:
    """The distillation student: one small hidden layer, smaller than every teacher in the population."""
    return MLP(data.in_features, 16 if data.n_classes > 2 else 8, 1, data.n_classes, 0.0)


def training_subset(member: Member, data: ClassificationSplit) -> tuple[torch.Tensor, torch.Tensor]:
    """The member's share of the training split, with a fraction of labels flipped to a random other class."""
    rng = numpy_rng(member.seed)
    n = data.x_train.shape[0]
    keep = np.sort(rng.permutation(n)[: max(data.n_classes * 2, round(member.train_fraction * n))])
    y = data.y_train[keep].clone()
    flip = rng.random(len(keep)) < member.label_noise
    offsets = rng.integers(1, data.n_classes, size=len(keep))  # never the true class
    y[torch.from_numpy(flip)] = (y[torch.from_numpy(flip)] + torch.from_numpy(offsets[flip])) % data.n_classes
    return data.x_train[keep], y
