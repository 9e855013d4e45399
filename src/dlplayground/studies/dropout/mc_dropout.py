"""Dropout at evaluation time, read two ways: mean accuracy under dropout, and the MC-dropout predictive.

Two ways to keep dropout on while evaluating, both restoring the model exactly afterwards (every module's
``training`` flag, every Dropout rate, and no hooks left behind):

* ``eval_time_dropout(model, p)``: the model goes to eval mode (BatchNorm uses its running statistics and
  does not update them) and only its Dropout modules (``nn.Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``,
  ...) are switched to train mode, optionally with their rate set to ``p``;
* ``inserted_dropout(model, p)``: for a model trained without dropout, or to drop units where the model has no
  Dropout layer: forward pre-hooks apply ``F.dropout(input, p)`` to the input of every weight layer
  (``nn.Linear``/``nn.Conv*``) except the first, i.e. to every hidden representation, with the model in eval
  mode.

Each stochastic pass gives a softmax for every example (``dropout_probabilities``: shape (passes, n, classes)).
Two different things are read from the same passes, and they are named apart:

* **Mean accuracy under dropout** (``DropoutCurve``): the accuracy of each pass, averaged over passes -- how
  much a *single* thinned network still gets right. Over a grid of rates it is summarised by the area under
  accuracy/clean accuracy vs. rate (``normalised_auc``, trapezoidal): 1.0 means no loss at any rate. This is
  the claim's "accuracy holds up when dropout is left on"; it is *not* Monte-Carlo dropout.
* **The MC-dropout predictive** (``MCPredictive``, Gal & Ghahramani 2016): the softmax averaged over passes
  is the predictive distribution; its accuracy, its mean entropy (total uncertainty) and the mean mutual
  information between the prediction and the dropout mask, ``H[mean_t p_t] - mean_t H[p_t]`` (the epistemic
  part, the BALD score), in nats. A network whose thinned versions agree has a mutual information near 0.

Every summary is also computed on the two halves of the examples (``half``), so its split-half reliability
across a population can be estimated.
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

from dlplayground.studies.dropout.training import modes_restored, predict_logits

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


def dropout_probabilities(
    model: nn.Module, inputs: torch.Tensor, p: float, passes: int, mode: Mode = "native", batch_size: int = 1024,
) -> torch.Tensor:
    """Softmax of ``passes`` stochastic forward passes with evaluation-time dropout at rate ``p``: (passes, n, C).

    Each pass draws fresh dropout masks (from torch's global generator).
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
        return torch.stack([predict_logits(model, inputs, batch_size).softmax(dim=1) for _ in range(passes)])


def mc_accuracies(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, p: float, passes: int, mode: Mode = "native",
) -> list[float]:
    """Accuracy of each of ``passes`` stochastic passes at rate ``p`` (one value per pass)."""
    probs = dropout_probabilities(model, inputs, p, passes, mode)
    return [float(a) for a in (probs.argmax(dim=2) == labels).float().mean(dim=1)]


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


def _halves(half: np.ndarray | None, n: int) -> list[np.ndarray]:
    """The two halves' masks (first, second); a single all-true mask twice when no split is given."""
    if half is None:
        return [np.ones(n, dtype=bool)] * 2
    mask = np.asarray(half, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(f"half must be a boolean mask of {n} examples, got shape {mask.shape}")
    return [mask, ~mask]


@dataclass
class DropoutCurve:
    """Mean accuracy under evaluation-time dropout over a grid of rates: raw per-pass accuracies, summaries.

    ``half_clean`` and ``half_accuracies`` ([half][rate], mean over passes) are the same on each half of the
    examples, for split-half reliability.
    """

    mode: str
    clean_accuracy: float
    rates: list[float]
    accuracies: list[list[float]] = field(default_factory=list)  # [rate][pass]
    half_clean: list[float] = field(default_factory=list)
    half_accuracies: list[list[float]] = field(default_factory=list)  # [half][rate]

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

    def half_auc(self, half: int) -> float:
        """The AUC on one half of the examples (0 or 1)."""
        return normalised_auc(self.rates, self.half_accuracies[half], self.half_clean[half])


@dataclass(frozen=True)
class MCPredictive:
    """The MC-dropout predictive at one rate (Gal & Ghahramani): the pass-averaged softmax and its uncertainty."""

    rate: float
    passes: int
    accuracy: float
    """Accuracy of the predictive distribution (argmax of the pass-averaged softmax)."""
    mean_pass_accuracy: float
    """Mean accuracy of the single passes at this rate, for comparison (the 'mean accuracy under dropout')."""
    entropy_nats: float
    """Mean entropy of the predictive distribution: total uncertainty."""
    mutual_information_nats: float
    """Mean mutual information between prediction and dropout mask: the epistemic part (BALD)."""
    half_mutual_information_nats: tuple[float, float]
    """The mutual information on each half of the examples."""


def _entropy(probs: torch.Tensor) -> torch.Tensor:
    return -(probs * probs.clamp_min(1e-12).log()).sum(dim=-1)


def mc_predictive(probs: torch.Tensor, labels: torch.Tensor, rate: float, half: np.ndarray | None = None
                  ) -> MCPredictive:
    """The MC-dropout predictive from stacked pass softmaxes ``probs`` (passes, n, C) and its uncertainty."""
    if probs.ndim != 3 or probs.shape[1] != labels.shape[0]:
        raise ValueError(f"probs must be (passes, n, classes) with n = {labels.shape[0]}, got {tuple(probs.shape)}")
    mean = probs.mean(dim=0)
    entropy = _entropy(mean)
    information = (entropy - _entropy(probs).mean(dim=0)).clamp_min(0.0).cpu().numpy()  # >= 0 up to rounding
    halves = _halves(half, labels.shape[0])
    return MCPredictive(
        rate=float(rate), passes=int(probs.shape[0]), accuracy=float((mean.argmax(dim=1) == labels).float().mean()),
        mean_pass_accuracy=float((probs.argmax(dim=2) == labels).float().mean()),
        entropy_nats=float(entropy.mean()), mutual_information_nats=float(information.mean()),
        half_mutual_information_nats=(float(information[halves[0]].mean()), float(information[halves[1]].mean())),
    )


def dropout_curve(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, rates: Sequence[float], passes: int,
    mode: Mode = "native", half: np.ndarray | None = None, mc_rate: float | None = None,
) -> tuple[DropoutCurve, MCPredictive | None]:
    """Clean accuracy, then ``passes`` dropout passes at each rate; the model is restored afterwards.

    Returns the mean-accuracy curve and, when ``mc_rate`` (one of ``rates``) is given, the MC-dropout
    predictive at that rate, read from the same passes.
    """
    if mc_rate is not None and mc_rate not in rates:
        raise ValueError(f"mc_rate {mc_rate} must be one of the rates {list(rates)}")
    halves = _halves(half, labels.shape[0])
    with modes_restored(model):
        model.eval()
        clean_correct = (predict_logits(model, inputs).argmax(dim=1) == labels).cpu().numpy()
    curve = DropoutCurve(mode=mode, clean_accuracy=float(clean_correct.mean()), rates=[float(p) for p in rates],
                         half_clean=[float(clean_correct[h].mean()) for h in halves], half_accuracies=[[], []])
    predictive = None
    for p in rates:
        probs = dropout_probabilities(model, inputs, p, passes, mode)
        correct = (probs.argmax(dim=2) == labels).cpu().numpy()  # (passes, n)
        curve.accuracies.append([float(a) for a in correct.mean(axis=1)])
        for j, h in enumerate(halves):
            curve.half_accuracies[j].append(float(correct[:, h].mean()))
        if mc_rate is not None and p == mc_rate:
            predictive = mc_predictive(probs, labels, p, half)
    return curve, predictive
