"""Model compression for the studies: global magnitude and random pruning, and Hinton knowledge distillation.

Pruning goes through ``torch.nn.utils.prune`` (masks as buffers, applied by a forward pre-hook), so a pruned
model can be fine-tuned and the pruned weights stay zero. It is global and unstructured over the weights of
every Linear/Conv layer (biases and BatchNorm are left alone): magnitude pruning removes the globally smallest
|w|, random pruning a uniformly random set of the same size, which is the baseline magnitude must beat.

``prunability`` turns "how much can this model be pruned" into one number: the largest sparsity on a grid such
that it and every smaller grid sparsity keep accuracy within a tolerance of the unpruned model (one-shot
pruning from the unpruned model at each level, optionally followed by brief fine-tuning, kept only where a
separate validation score says it helps).

``kd_loss`` is Hinton et al. (2015): ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)``;
the ``T^2`` keeps the soft term's gradients on the scale of the hard term's as ``T`` changes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import prune

from dlplayground.studies.dropout.training import FitConfig, fit, modes_restored, predict_logits

PruneMethod = Literal["magnitude", "random"]
PRUNE_METHODS: tuple[str, ...] = ("magnitude", "random")
PRUNABLE_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# -------------------------------------------------------------------------------------------- pruning
def prunable_parameters(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, "weight")`` for every Linear/Conv layer: what global pruning ranks and masks."""
    return [(m, "weight") for m in model.modules() if isinstance(m, PRUNABLE_LAYERS)]


def prune_global(model: nn.Module, sparsity: float, method: PruneMethod = "magnitude", seed: int = 0) -> nn.Module:
    """Prune ``model`` in place to ``sparsity`` (fraction of prunable weights set to zero) and return it.

    ``seed`` fixes the random mask (drawn in a forked generator, so the caller's random stream is untouched).
    Masks stack: pruning an already pruned model prunes ``sparsity`` of the weights still alive.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity!r}")
    params = prunable_parameters(model)
    if not params:
        raise ValueError("prune_global: the model has no Linear/Conv weights to prune")
    if method == "magnitude":
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=float(sparsity))
    elif method == "random":
        cuda_devices = sorted({m.weight.device.index or 0 for m, _ in params if m.weight.is_cuda})
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            prune.global_unstructured(params, pruning_method=prune.RandomUnstructured, amount=float(sparsity))
    else:
        raise ValueError(f"method must be one of {PRUNE_METHODS}, got {method!r}")
    return model


def pruned_copy(model: nn.Module, sparsity: float, method: PruneMethod = "magnitude", seed: int = 0) -> nn.Module:
    """A pruned deep copy; ``model`` itself is not touched."""
    return prune_global(copy.deepcopy(model), sparsity, method, seed)


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of the prunable weights that are exactly zero (as the model computes with them)."""
    total = zeros = 0
    for module, name in prunable_parameters(model):
        weight = getattr(module, name)  # the masked weight when pruned
        total += weight.numel()
        zeros += int((weight == 0).sum())
    return zeros / total if total else 0.0


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every pruning mask into its weight and drop the hooks (``prune.remove``); return the model."""
    for module, name in prunable_parameters(model):
        if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
            prune.remove(module, name)
    return model


Scores = float | Sequence[float]
"""What a scorer returns: the accuracy on the measured examples, optionally followed by the accuracy on each of
their halves (for split-half reliability)."""


def _views(value: Scores) -> list[float]:
    return [float(value)] if isinstance(value, int | float) else [float(v) for v in value]


def _max_sparsity(sparsities: Sequence[float], accuracies: Sequence[float], base: float, tolerance: float) -> float:
    best = 0.0
    for s, acc in zip(sparsities, accuracies, strict=False):
        if acc < base - tolerance - 1e-12:
            break
        best = s
    return best


@dataclass
class PruneCurve:
    """Accuracy after pruning at each grid sparsity, and the largest sparsity within tolerance of unpruned.

    ``accuracies`` is shorter than ``sparsities`` when the search stopped at the first level out of tolerance
    (the levels beyond it cannot change ``max_sparsity``). ``half_base``/``half_accuracies`` ([level][half])
    hold the same on each half of the examples when the scorer reports them.
    """

    method: str
    finetuned: bool
    base_accuracy: float
    tolerance: float
    sparsities: list[float]
    accuracies: list[float] = field(default_factory=list)
    oneshot_accuracies: list[float] = field(default_factory=list)  # before fine-tuning (fine-tuned curves)
    kept_finetuning: list[bool] = field(default_factory=list)  # per level: did validation keep the fine-tuning
    half_base: list[float] = field(default_factory=list)
    half_accuracies: list[list[float]] = field(default_factory=list)

    @property
    def max_sparsity(self) -> float:
        """Largest grid sparsity such that it and every smaller level stay within tolerance; 0 if none."""
        return _max_sparsity(self.sparsities, self.accuracies, self.base_accuracy, self.tolerance)

    def half_max_sparsity(self, half: int) -> float:
        """``max_sparsity`` measured on one half of the examples only."""
        return _max_sparsity(self.sparsities, [a[half] for a in self.half_accuracies], self.half_base[half],
                             self.tolerance)

    def auc(self) -> float:
        """Mean of accuracy/base over the evaluated grid (a continuous robustness score; NaN if base is 0)."""
        return _mean_ratio(self.accuracies, self.base_accuracy)

    def half_auc(self, half: int) -> float:
        return _mean_ratio([a[half] for a in self.half_accuracies], self.half_base[half])


def _mean_ratio(accuracies: Sequence[float], base: float) -> float:
    if base <= 0 or not accuracies:
        return math.nan
    return float(sum(accuracies) / len(accuracies) / base)


def prunability(
    model: nn.Module,
    score: Callable[[nn.Module], Scores],
    sparsities: Sequence[float],
    tolerance: float = 0.01,
    method: PruneMethod = "magnitude",
    finetune: Callable[[nn.Module], object] | None = None,
    choose: Callable[[nn.Module], float] | None = None,
    stop_early: bool = True,
    seed: int = 0,
) -> PruneCurve:
    """Prune copies of ``model`` one-shot at each sparsity (ascending), optionally fine-tune, and evaluate.

    ``score(model)`` is the accuracy (0..1) on the measured examples, optionally followed by the accuracy on
    each of their halves; ``tolerance`` is in the same units (0.01 = one point). ``finetune(pruned_model)``
    trains the pruned copy in place (its masks keep pruned weights at zero). Brief fine-tuning is a recovery
    step a practitioner keeps only when it helps (on noisy training labels it can hurt); whether it helps is
    decided by ``choose(model)`` -- an accuracy on *other* examples than ``score``'s (a validation split), so
    the choice never sees the data it is scored on. Without ``choose`` fine-tuning is always kept. With
    ``stop_early`` the search ends at the first level where every view is out of tolerance.
    """
    grid = sorted(float(s) for s in sparsities)
    if not grid or grid[0] < 0 or grid[-1] > 1:
        raise ValueError(f"sparsities must be a non-empty list in [0, 1], got {list(sparsities)!r}")
    base = _views(score(model))
    curve = PruneCurve(method=method, finetuned=finetune is not None, base_accuracy=base[0], tolerance=tolerance,
                       sparsities=grid, half_base=base[1:])
    for s in grid:
        pruned = pruned_copy(model, s, method, seed)
        views = _views(score(pruned))
        if finetune is not None:
            curve.oneshot_accuracies.append(views[0])
            before = choose(pruned) if choose is not None else None
            finetune(pruned)
            keep = before is None or choose(pruned) >= before
            if keep:
                views = _views(score(pruned))
            curve.kept_finetuning.append(keep)
        curve.accuracies.append(views[0])
        curve.half_accuracies.append(views[1:])
        if stop_early and all(v < b - tolerance - 1e-12 for v, b in zip(views, base, strict=True)):
            break
    return curve


# ---------------------------------------------------------------------------------------- distillation
def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> torch.Tensor:
    """Hinton's distillation loss: ``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE``.

    KL is averaged over the batch (``batchmean``, the true KL per sample); CE is the mean cross-entropy of
    the student's un-tempered logits against the hard labels. The teacher's logits are treated as constants.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    t = float(temperature)
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits.detach() / t, dim=1),
                    reduction="batchmean", log_target=True)
    hard = F.cross_entropy(student_logits, labels)
    return alpha * t * t * soft + (1.0 - alpha) * hard


def distill(
    teacher: nn.Module,
    student: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    config: FitConfig,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> list[float]:
    """Train ``student`` in place on ``kd_loss`` against ``teacher``'s eval-mode logits; return the losses.

    The teacher's logits are computed once, in eval mode (its mode is restored afterwards), since a fixed
    teacher gives the same logits every epoch.
    """
    with modes_restored(teacher):
        teacher.eval()
        teacher_logits = predict_logits(teacher, inputs)

    def loss(student_logits: torch.Tensor, y: torch.Tensor, t_logits: torch.Tensor) -> torch.Tensor:
        return kd_loss(student_logits, t_logits, y, temperature, alpha)

    return fit(student, inputs, (labels, teacher_logits), config, loss)
