"""A small train/evaluate loop for classifiers on in-memory tensors: how the dropout study trains its models.

The study trains dozens of small models on datasets that fit in memory (scikit-learn's digits, breast
cancer), so the loop is deliberately plain: minibatch AdamW over shuffled indices, no data loaders, no
callbacks. Two things are configurable because the studies need them:

* ``steps`` instead of ``epochs``: brief fine-tuning or distillation should take the same number of updates
  whether the training set has 100 samples or 1000, which "one epoch" would not give.
* the loss: ``fit`` passes the logits and the batch of every target tensor to ``loss_fn``, so knowledge
  distillation (targets = labels and teacher logits) uses the same loop as plain cross-entropy.

Shuffling draws from torch's global generator, so the study seeds once per model with
``dlplayground.seeding.seed_everything`` and the whole run is reproducible.

``accuracy`` leaves the model's mode alone (evaluation-time dropout calls it with Dropout modules switched on);
``evaluate_accuracy`` is clean accuracy, in eval mode for the call; ``accuracy_views`` is clean accuracy on a
set of examples and on each of its two halves (for split-half reliability). ``modes_restored`` is the one way
this package puts every module's ``training`` flag back after changing it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LossFn = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class FitConfig:
    """How to train: the optimiser's settings and how long.

    ``steps`` (when set) overrides ``epochs``: exactly that many minibatch updates, cycling through
    reshuffled passes of the data.
    """

    epochs: int = 20
    steps: int | None = None
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0  # AdamW's decoupled decay, applied to every parameter

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"FitConfig.epochs must be >= 0, got {self.epochs}")
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"FitConfig.steps must be >= 0 or None, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"FitConfig.batch_size must be >= 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"FitConfig.lr must be a positive number, got {self.lr}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"FitConfig.weight_decay must be >= 0, got {self.weight_decay}")

    def total_steps(self, n_samples: int) -> int:
        """The number of optimiser updates this config makes on ``n_samples`` training samples."""
        if self.steps is not None:
            return self.steps
        return self.epochs * math.ceil(n_samples / self.batch_size)


@contextlib.contextmanager
def modes_restored(model: nn.Module) -> Iterator[None]:
    """Remember every module's ``training`` flag and put each one back on exit, whatever happens."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The default loss: mean cross-entropy against integer labels."""
    return F.cross_entropy(logits, labels)


def fit(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | tuple[torch.Tensor, ...],
    config: FitConfig,
    loss_fn: LossFn = cross_entropy_loss,
) -> list[float]:
    """Train ``model`` in place and return the loss of every update (raw samples, for plots and checks).

    ``targets`` is one tensor or a tuple of tensors with the same first dimension as ``inputs``; each
    minibatch calls ``loss_fn(logits, *target_batches)``. The model is left in eval mode, ready to evaluate.
    Only parameters that require gradients are optimised (and pruning masks, being buffers, stay fixed).
    """
    target_tuple = targets if isinstance(targets, tuple) else (targets,)
    n = inputs.shape[0]
    if n == 0:
        raise ValueError("fit: the training set is empty")
    for t in target_tuple:
        if t.shape[0] != n:
            raise ValueError(f"fit: targets have {t.shape[0]} rows but inputs have {n}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    losses: list[float] = []
    remaining = config.total_steps(n)
    model.train()
    while remaining > 0:
        order = torch.randperm(n, device=inputs.device)
        for start in range(0, n, config.batch_size):
            if remaining == 0:
                break
            idx = order[start:start + config.batch_size]
            loss = loss_fn(model(inputs[idx]), *(t[idx] for t in target_tuple))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            remaining -= 1
    model.eval()
    return losses


@torch.no_grad()
def predict_logits(model: nn.Module, inputs: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits for ``inputs`` in batches, with the model in whatever mode it is in (callers choose)."""
    if inputs.shape[0] == 0:
        raise ValueError("predict_logits: no inputs")
    return torch.cat([model(inputs[i:i + batch_size]) for i in range(0, inputs.shape[0], batch_size)])


def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 1024) -> float:
    """Fraction of correctly classified samples (0..1), with the model in whatever mode it is in.

    The mode is left to the caller on purpose: evaluation-time dropout evaluates a model whose Dropout
    modules were switched to train mode, and this function must not undo that.
    """
    predicted = predict_logits(model, inputs, batch_size).argmax(dim=1)
    return float((predicted == labels).float().mean())


def evaluate_accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 1024) -> float:
    """Clean accuracy: the model in eval mode for the call, its previous mode restored afterwards."""
    with modes_restored(model):
        model.eval()
        return accuracy(model, inputs, labels, batch_size)


def accuracy_views(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, half: np.ndarray) -> list[float]:
    """Clean accuracy on all the examples, then on the half where ``half`` is True, then on the other half."""
    with modes_restored(model):
        model.eval()
        correct = (predict_logits(model, inputs).argmax(dim=1) == labels).cpu().numpy()
    mask = np.asarray(half, dtype=bool)
    if mask.shape != correct.shape:
        raise ValueError(f"half must be a boolean mask of {correct.size} examples, got shape {mask.shape}")
    return [float(correct.mean()), float(correct[mask].mean()), float(correct[~mask].mean())]
