"""Dropout at evaluation time: switch a model's own Dropout layers on, or insert dropout where it has none.

Two ways to keep dropout on while evaluating, both restoring the model exactly afterwards (every module's
``training`` flag, every Dropout rate, and no hooks left behind):

* ``eval_time_dropout(model, p)``: the model goes to eval mode (BatchNorm uses its running statistics and
  does not update them) and only its Dropout modules (``nn.Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``,
  ...) are switched to train mode, optionally with their rate set to ``p``. This is "Monte-Carlo dropout".
* ``inserted_dropout(model, p)``: for a model trained without dropout, or to drop units where the model has no
  Dropout layer: forward pre-hooks apply ``F.dropout(input, p)`` to the input of every weight layer
  (``nn.Linear``/``nn.Conv*``) except the first, i.e. to every hidden representation, with the model in eval
  mode.

``dropout_curve`` measures accuracy over a grid of rates, several stochastic passes each (raw per-pass
accuracies kept), and summarises it by the area under the accuracy-vs-rate curve normalised by clean accuracy
(trapezoidal, ``np.trapezoid``): 1.0 means no loss at any rate, lower means the model degrades sooner.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.dropout import _DropoutNd

from dlplayground.studies.dropout.training import accuracy, modes_restored

Mode = Literal["native", "inserted"]
MODES: tuple[str, ...] = ("native", "inserted")
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _check_rate(p: float) -> float:
    if not (isinstance(p, int | float) and 0.0 <= float(p) < 1.0):
        raise ValueError(f"dropout rate must be in [0, 1), got {p!r}")
    return float(p)


def dropout_modules(model: nn.Module) -> list[nn.Module]:
    """Every dropout module in ``model`` (all subclasses of torch's ``_DropoutNd``), in module order."""
    return [m for m in model.modules() if isinstance(m, _DropoutNd)]


@contextlib.contextmanager
def eval_time_dropout(model: nn.Module, p: float | None = None) -> Iterator[list[nn.Module]]:
    """Evaluate with only the Dropout modules in train mode (rate ``p`` if given); restore everything after.

    Yields the switched modules. Setting ``p`` on a model trained with dropout rate 0 is the same as inserting
    dropout at the places its architecture reserves for it.
    """
    if p is not None:
        p = _check_rate(p)
    switched = dropout_modules(model)
    rates = [(m, m.p) for m in switched]
    with modes_restored(model):
        try:
            model.eval()
            for module in switched:
                module.train()
                if p is not None:
                    module.p = p
            yield switched
        finally:
            for module, rate in rates:
                module.p = rate


def insertion_points(model: nn.Module) -> list[nn.Module]:
    """The weight layers whose input ``inserted_dropout`` drops: every Linear/Conv layer but the first."""
    return [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS)][1:]


@contextlib.contextmanager
def inserted_dropout(model: nn.Module, p: float) -> Iterator[list[nn.Module]]:
    """Evaluate in eval mode with dropout at rate ``p`` on the input of every weight layer but the first.

    Yields the layers that received a hook; the hooks are removed and the modes restored on exit.
    """
    p = _check_rate(p)

    def drop_input(_module: nn.Module, args: tuple[object, ...]) -> tuple[object, ...]:
        first = args[0]
        assert isinstance(first, torch.Tensor)
        return (F.dropout(first, p, training=True), *args[1:])

    targets = insertion_points(model)
    handles = []
    with modes_restored(model):
        try:
            model.eval()
            handles = [m.register_forward_pre_hook(drop_input) for m in targets]
            yield targets
        finally:
            for handle in handles:
                handle.remove()


def mc_accuracies(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, p: float, passes: int, mode: Mode = "native",
) -> list[float]:
    """Accuracy of ``passes`` stochastic forward passes with evaluation-time dropout at rate ``p``.

    Each pass draws fresh dropout masks (from torch's global generator); the list holds one accuracy per pass.
    """
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    if mode == "native":
        if not dropout_modules(model):
            raise ValueError("mode 'native' needs a model with Dropout modules; use mode 'inserted'")
        context = eval_time_dropout(model, p)
    elif mode == "inserted":
        context = inserted_dropout(model, p)
    else:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    with context:
        return [accuracy(model, inputs, labels) for _ in range(passes)]


def normalised_auc(rates: Sequence[float], mean_accuracies: Sequence[float], clean_accuracy: float) -> float:
    """Area under accuracy/clean vs. rate, from rate 0 (where the ratio is 1) to the largest rate, over that span.

    1.0: accuracy holds at every rate; 0.5: on average half the clean accuracy is lost. NaN when the clean
    accuracy is 0 (nothing to normalise by).
    """
    if len(rates) != len(mean_accuracies) or not rates:
        raise ValueError("normalised_auc: rates and accuracies must be non-empty and of equal length")
    order = np.argsort(rates)
    r = np.asarray(rates, dtype=float)[order]
    a = np.asarray(mean_accuracies, dtype=float)[order]
    if r[-1] <= 0:
        raise ValueError("normalised_auc: at least one rate must be > 0")
    if clean_accuracy <= 0:
        return math.nan
    if r[0] > 0:
        r = np.concatenate([[0.0], r])
        a = np.concatenate([[clean_accuracy], a])
    return float(np.trapezoid(a / clean_accuracy, r) / r[-1])


@dataclass
class DropoutCurve:
    """Accuracy under evaluation-time dropout over a grid of rates: raw per-pass accuracies, derived summaries."""

    mode: str
    clean_accuracy: float
    rates: list[float]
    accuracies: list[list[float]] = field(default_factory=list)  # [rate][pass]

    @property
    def mean_accuracies(self) -> list[float]:
        return [float(np.mean(a)) for a in self.accuracies]

    @property
    def normalised(self) -> list[float]:
        """Mean accuracy at each rate as a fraction of clean accuracy."""
        if self.clean_accuracy <= 0:
            return [math.nan for _ in self.rates]
        return [m / self.clean_accuracy for m in self.mean_accuracies]

    @property
    def auc(self) -> float:
        return normalised_auc(self.rates, self.mean_accuracies, self.clean_accuracy)


def dropout_curve(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, rates: Sequence[float], passes: int,
    mode: Mode = "native",
) -> DropoutCurve:
    """Measure clean accuracy, then ``passes`` dropout passes at each rate; the model is restored afterwards."""
    with modes_restored(model):
        model.eval()
        clean = accuracy(model, inputs, labels)
    accs = [mc_accuracies(model, inputs, labels, p, passes, mode) for p in rates]
    return DropoutCurve(mode=mode, clean_accuracy=clean, rates=[float(p) for p in rates], accuracies=accs)
