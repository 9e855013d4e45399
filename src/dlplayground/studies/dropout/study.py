"""Does a model that withstands dropout at evaluation prune and distil better?

The question
------------
A claim heard in practice: if a trained model's accuracy holds up when dropout is left on at evaluation time,
the model is "proportionally more amenable" to compression: it can be pruned further, and a small student
distilled from it keeps more of its accuracy. If true, evaluation-time dropout would be a cheap screening test
before spending compute on pruning or distillation. This study tests the claim on a population of small models
whose generalisation genuinely varies.

The method
----------
1. **Population.** ``--population`` models (default 40) on scikit-learn's packaged datasets (nothing is
   downloaded): ``digits`` (1797 8x8 images, 10 classes; MLPs and small ResNet-style CNNs) and
   ``breast_cancer`` (569 samples, 30 features, 2 classes; MLPs). Each model gets a level of every factor that
   moves generalisation: label noise on the training labels (0-40 %), training-set size (15-100 % of the
   training split), AdamW weight decay, width, training dropout rate (0-0.5), training length (150-1000
   optimiser steps, so 9 to 400 epochs depending on the set size) and seed. Levels are
   balanced across the population (each level used equally often, combined at random), so no factor is
   confounded with another by design. For each model we record train accuracy (on the labels it was trained
   on, noisy ones included), test accuracy (clean held-out labels) and the generalisation gap between them.
2. **Predictor.** Accuracy on the test set with dropout kept on at evaluation, at each rate ``p`` of ``--rates``,
   averaged over ``--passes`` stochastic passes. *Native*: only the model's Dropout modules are switched to
   train mode, with rate ``p`` (BatchNorm stays in eval mode). The shared MLP/SmallCNN keep their Dropout
   modules even when trained at rate 0, so for a model trained without dropout this is dropout inserted at the
   places the architecture reserves for it. *Inserted*: dropout at rate ``p`` on the input of every
   Linear/Conv layer but the first (forward pre-hooks). For the MLPs both put dropout on the same hidden
   layers; for the CNNs *native* drops only the pooled features, *inserted* every hidden feature map. The
   summary is the area under accuracy/clean-accuracy vs. ``p`` (from 0 to the largest rate, over that span):
   1.0 = no loss at any rate. The primary predictor is the *native* AUC.
3. **Targets.** (a) *Prunability*: the largest sparsity on a grid for which global magnitude pruning
   (``torch.nn.utils.prune``, all Linear/Conv weights) keeps test accuracy within ``--tolerance-points`` (1
   point) of the unpruned model at that level and every lower one: one-shot, and with brief fine-tuning on the
   model's own training set after pruning (kept only where it helps). (b) *Distillability*: test accuracy of a
   small student MLP (one hidden layer of 16 units for digits, 8 for breast cancer) distilled from the model
   with Hinton's loss (temperature ``--kd-temperature``, soft-loss weight ``--kd-alpha``), divided by the
   teacher's test accuracy. The same student trained on the labels alone gives a secondary target, the
   *distillation gain* (KD student minus labels-only student): what the teacher actually adds.
4. **Analysis.** Spearman and Kendall correlations of predictor vs. each target with paired bootstrap 95 %
   CIs; the Spearman partial correlation controlling for the training dropout rate (the obvious confound: it
   both trains a model to tolerate dropout and may make it robust to pruning), and as a robustness check
   controlling for every design factor. The same correlations for baselines: generalisation gap, weight norm
   (L2 of all Linear/Conv weights), robustness to *random* pruning (mean accuracy/clean over a sparsity grid,
   the naive "withstands perturbation" score) and a random score (what chance looks like at this n).

How to read the result
----------------------
The verdict states, per target, whether the predictor's correlation is positive with a CI excluding zero, and
whether that survives controlling for the training dropout rate and then for the whole training recipe.
"Supported" needs all three; "weak" means the recipe (width, dataset, noise, ...) explains the association, so
the predictor may only be a proxy for how the model was built; if a baseline does as well, the predictor adds
little. "Curves" shows each model's accuracy/clean vs. ``p``;
"Scatter" the predictor against each target with a least-squares line; the correlation table and heatmap give
every predictor x target pair with its interval. The per-model table holds every measurement, so any other
analysis can start from the envelope. The random-score row calibrates how large a correlation chance produces.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import nn

from dlplayground.errors import UserInputError, choices_text
from dlplayground.nets import MLP, SmallCNN
from dlplayground.results import Figure, StudyResult, Table
from dlplayground.seeding import numpy_rng, seed_everything
from dlplayground.studies.dropout.compression import distill, prunability
from dlplayground.studies.dropout.correlation import Correlation, correlate
from dlplayground.studies.dropout.mc_dropout import DropoutCurve, dropout_curve
from dlplayground.studies.dropout.training import TrainConfig, accuracy, evaluate, fit
from dlplayground.studies.runner import common_parser, progress, run_experiment

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402

STUDY = "dropout_overfitting"
DATASETS = ("digits", "breast_cancer")
DATASET_CHOICES = (*DATASETS, "both")
# Eight models is the floor at which the statistics are computable at all: the partial correlation keeps
# n - 3 = 5 degrees of freedom, and a bootstrap resample of n models holds about 0.63 n distinct ones (5 of 8).
# It is a smoke-test floor, not a sample size for a verdict: detecting a Spearman correlation of 0.5 with 80 %
# power at the 5 % level needs about 30 models, hence the default of 40 and no verdict below 20.
MIN_POPULATION = 8
MIN_POPULATION_FOR_VERDICT = 20
DEFAULT_POPULATION = 40
DEFAULT_RATES = "0.1,0.2,0.3,0.4,0.5,0.6,0.7"
QUICK_RATES = "0.25,0.5"


# ------------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class Settings:
    """Everything that sizes the run, resolved from the flags (quick or default) and validated."""

    datasets: tuple[str, ...]
    population: int
    rates: tuple[float, ...]
    passes: int
    n_boot: int
    kd_temperature: float
    kd_alpha: float
    tolerance_points: float
    quick: bool
    # the factor levels the population is drawn from
    label_noise: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)
    train_fraction: tuple[float, ...] = (0.15, 0.3, 0.6, 1.0)
    weight_decay: tuple[float, ...] = (0.0, 0.01, 0.1, 1.0)
    width: tuple[int, ...] = (32, 64, 128, 256)
    dropout: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5)
    train_steps: tuple[int, ...] = (150, 400, 1000)  # optimiser steps; epochs = steps * batch / n follow
    lr: float = 3e-3
    batch_size: int = 64
    # targets
    sparsities: tuple[float, ...] = (0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
    finetune_steps: int = 25
    random_sparsities: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    random_draws: int = 2
    student_steps: int = 500  # a KD student converges slower than one on hard labels; 250 left it short


def _parse_rates(text: str) -> tuple[float, ...]:
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise UserInputError(f"--rates {text!r}: expected comma-separated dropout rates in [0, 1), e.g. '0.1,0.3'")
    rates = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise UserInputError(f"--rates: {part!r} is not a number; expected rates in [0, 1)") from None
        if not (0.0 <= value < 1.0):
            raise UserInputError(f"--rates: {part} is outside [0, 1); a dropout rate p keeps units with "
                                 "probability 1 - p, so p must satisfy 0 <= p < 1")
        rates.append(value)
    if max(rates) <= 0:
        raise UserInputError(f"--rates {text!r}: at least one rate must be > 0 (rate 0 is clean evaluation)")
    return tuple(sorted(set(rates)))


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Validate every flag before any model is trained, and fill in the quick/default sizes."""
    name = str(args.dataset).strip().lower()
    if name not in DATASET_CHOICES:
        raise UserInputError(f"--dataset {args.dataset!r} is unknown; choose {choices_text(DATASET_CHOICES)}")
    datasets = DATASETS if name == "both" else (name,)
    population = args.population if args.population is not None else (8 if args.quick else DEFAULT_POPULATION)
    if population < MIN_POPULATION:
        raise UserInputError(
            f"--population {population} is too small: the correlations, their bootstrap CIs and the partial "
            f"correlation need at least {MIN_POPULATION} models (a verdict needs >= {MIN_POPULATION_FOR_VERDICT}; "
            f"the default is {DEFAULT_POPULATION})"
        )
    rates = _parse_rates(args.rates if args.rates is not None else (QUICK_RATES if args.quick else DEFAULT_RATES))
    passes = args.passes if args.passes is not None else (3 if args.quick else 10)
    if passes < 1:
        raise UserInputError(f"--passes must be >= 1 (stochastic passes per rate), got {passes}")
    n_boot = args.bootstrap if args.bootstrap is not None else (200 if args.quick else 2000)
    if n_boot < 100:
        raise UserInputError(f"--bootstrap must be >= 100 resamples for a percentile CI, got {n_boot}")
    if not (args.kd_temperature > 0 and math.isfinite(args.kd_temperature)):
        raise UserInputError(f"--kd-temperature must be a positive number, got {args.kd_temperature}")
    if not (0.0 <= args.kd_alpha <= 1.0):
        raise UserInputError(f"--kd-alpha must be in [0, 1] (weight of the soft loss), got {args.kd_alpha}")
    if not (0.0 <= args.tolerance_points < 100.0):
        raise UserInputError(f"--tolerance-points must be in [0, 100), got {args.tolerance_points}")
    settings = Settings(datasets=datasets, population=population, rates=rates, passes=passes, n_boot=n_boot,
                        kd_temperature=float(args.kd_temperature), kd_alpha=float(args.kd_alpha),
                        tolerance_points=float(args.tolerance_points), quick=bool(args.quick))
    if args.quick:
        settings = replace(settings, width=(16, 32, 64), train_steps=(30, 80), sparsities=(0.3, 0.6, 0.8, 0.9),
                           finetune_steps=5, random_sparsities=(0.2, 0.5), random_draws=1, student_steps=40)
    return settings


# -------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Dataset:
    """A train/test split as float tensors; ``x`` keeps the image shape for digits (MLP flattens it)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    description: str

    @property
    def in_features(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


@cache
def load_dataset(name: str, split_seed: int) -> Dataset:
    """Load a packaged scikit-learn dataset and split it stratified (digits 60/40, breast cancer 50/50)."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split

    if name == "digits":
        bunch = load_digits()
        x = (bunch.data / 16.0).reshape(-1, 1, 8, 8)
        test_size, description = 0.4, "scikit-learn load_digits (1797 8x8 images, 10 classes; packaged)"
    elif name == "breast_cancer":
        bunch = load_breast_cancer()
        x = bunch.data
        test_size = 0.5
        description = "scikit-learn load_breast_cancer (569 samples, 30 features, 2 classes; packaged)"
    else:  # settings_from_args has already refused it; this guards direct callers
        raise UserInputError(f"dataset {name!r} is unknown; choose {choices_text(DATASETS)}")
    x_tr, x_te, y_tr, y_te = train_test_split(x, bunch.target, test_size=test_size, random_state=split_seed,
                                              stratify=bunch.target)
    if name == "breast_cancer":  # standardise with training statistics only
        mean, std = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-8
        x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return Dataset(name, as_x(x_tr), as_y(y_tr), as_x(x_te), as_y(y_te), int(bunch.target.max()) + 1,
                   description)


# ---------------------------------------------------------------------------------------- population
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


def _balanced(levels: Sequence[object], n: int, rng: np.random.Generator) -> list[object]:
    """``n`` draws using every level equally often (up to one), in random order: a Latin-hypercube column."""
    tiled = [levels[i % len(levels)] for i in range(n)]
    return [tiled[i] for i in rng.permutation(n)]


def design_population(settings: Settings, seed: int) -> list[Member]:
    """The population's recipes: groups cycle through the datasets/architectures, factors are balanced."""
    groups: list[tuple[str, str]] = []
    if "digits" in settings.datasets:
        groups += [("digits", "mlp"), ("digits", "cnn")]
    if "breast_cancer" in settings.datasets:
        groups.append(("breast_cancer", "mlp"))
    if "digits" in settings.datasets:
        groups += [("digits", "mlp"), ("digits", "mlp")]  # MLPs are cheap; CNNs ~10x the cost
    rng = numpy_rng(seed)
    n = settings.population
    columns = {name: _balanced(getattr(settings, name), n, rng)
               for name in ("label_noise", "train_fraction", "weight_decay", "width", "dropout", "train_steps")}
    members = []
    for i in range(n):
        dataset, arch = groups[i % len(groups)]
        members.append(Member(index=i, dataset=dataset, arch=arch, seed=seed * 100_000 + i,
                              **{name: col[i] for name, col in columns.items()}))  # type: ignore[arg-type]
    return members


# CNN stage widths per MLP width level: kept small, since a CNN costs ~10x an MLP per step on a CPU.
_CNN_WIDTHS = {16: (4, 8), 32: (6, 12), 64: (8, 16), 128: (12, 24), 256: (16, 32)}


def build_model(member: Member, data: Dataset) -> nn.Module:
    """A two-hidden-layer MLP of the member's width, or a two-stage SmallCNN sized from it (digits only)."""
    if member.arch == "mlp":
        return MLP(data.in_features, member.width, 2, data.n_classes, member.dropout)
    return SmallCNN(1, _CNN_WIDTHS[member.width], data.n_classes, member.dropout)


def _student(data: Dataset) -> nn.Module:
    """The distillation student: one small hidden layer, smaller than every teacher in the population."""
    return MLP(data.in_features, 16 if data.n_classes > 2 else 8, 1, data.n_classes, 0.0)


def _training_subset(member: Member, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The member's share of the training split, with a fraction of labels flipped to a random other class."""
    rng = numpy_rng(member.seed)
    n = data.x_train.shape[0]
    keep = np.sort(rng.permutation(n)[: max(data.n_classes * 2, round(member.train_fraction * n))])
    y = data.y_train[keep].clone()
    flip = rng.random(len(keep)) < member.label_noise
    offsets = rng.integers(1, data.n_classes, size=len(keep))  # never the true class
    y[torch.from_numpy(flip)] = (y[torch.from_numpy(flip)] + torch.from_numpy(offsets[flip])) % data.n_classes
    return data.x_train[keep], y


# ------------------------------------------------------------------------------------ one member's study
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
    prune_sparsity: float
    prune_sparsity_finetuned: float
    prune_curve: list[float]
    prune_curve_finetuned: list[float]
    random_prune_robustness: float
    student_accuracy: float
    student_scratch_accuracy: float
    random_score: float
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.test_accuracy

    @property
    def epochs(self) -> float:
        """Passes over the member's training set that its fixed number of optimiser steps amounts to."""
        return self.member.train_steps * self.batch_size / self.n_train

    @property
    def distillability(self) -> float:
        return self.student_accuracy / self.test_accuracy if self.test_accuracy > 0 else math.nan

    @property
    def distillation_gain(self) -> float:
        """What the teacher adds: KD student accuracy minus the same student trained on the labels alone."""
        return self.student_accuracy - self.student_scratch_accuracy


def _weight_norm(model: nn.Module) -> float:
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    return float(torch.sqrt(sum((w.detach() ** 2).sum() for w in weights)))


def study_member(member: Member, data: Dataset, settings: Settings, device: torch.device,
                 score_rng: np.random.Generator) -> MemberResult:
    """Train one model and measure predictor, targets and baselines on it."""
    started = time.perf_counter()
    seed_everything(member.seed)
    x_tr, y_tr = _training_subset(member, data)
    x_tr, y_tr = x_tr.to(device), y_tr.to(device)
    x_te, y_te = data.x_test.to(device), data.y_test.to(device)
    model = build_model(member, data).to(device)
    fit(model, x_tr, y_tr, TrainConfig(steps=member.train_steps, batch_size=settings.batch_size, lr=settings.lr,
                                       weight_decay=member.weight_decay))
    train_acc = evaluate(model, x_tr, y_tr)
    test_acc = evaluate(model, x_te, y_te)

    # predictor: accuracy with dropout kept on at evaluation
    native = dropout_curve(model, x_te, y_te, settings.rates, settings.passes, "native")
    inserted = dropout_curve(model, x_te, y_te, settings.rates, settings.passes, "inserted")

    # target (a): prunability, one-shot and with brief fine-tuning on the model's own training data
    tolerance = settings.tolerance_points / 100.0
    score = lambda m: evaluate(m, x_te, y_te)  # noqa: E731
    finetune_cfg = TrainConfig(steps=settings.finetune_steps, batch_size=settings.batch_size, lr=1e-3)
    oneshot = prunability(model, score, settings.sparsities, tolerance, "magnitude", stop_early=False)
    tuned = prunability(model, score, settings.sparsities, tolerance, "magnitude",
                        finetune=lambda m: fit(m, x_tr, y_tr, finetune_cfg))
    # baseline: robustness to random pruning (same weights budget, no magnitude information)
    random_scores = [prunability(model, score, settings.random_sparsities, tolerance, "random", stop_early=False,
                                 seed=member.seed + draw).auc() for draw in range(settings.random_draws)]

    # target (b): distillability, and the same student without the teacher for comparison
    student_cfg = TrainConfig(steps=settings.student_steps, batch_size=settings.batch_size, lr=settings.lr)
    student = _student(data).to(device)
    distill(model, student, x_tr, y_tr, student_cfg, settings.kd_temperature, settings.kd_alpha)
    scratch = _student(data).to(device)
    fit(scratch, x_tr, y_tr, student_cfg)

    return MemberResult(
        member=member, n_train=int(x_tr.shape[0]), batch_size=settings.batch_size, train_accuracy=train_acc,
        test_accuracy=test_acc,
        weight_norm=_weight_norm(model), native=native, inserted=inserted,
        prune_sparsity=oneshot.max_sparsity, prune_sparsity_finetuned=tuned.max_sparsity,
        prune_curve=oneshot.accuracies, prune_curve_finetuned=tuned.accuracies,
        random_prune_robustness=float(np.mean(random_scores)),
        student_accuracy=accuracy(student.eval(), x_te, y_te),
        student_scratch_accuracy=accuracy(scratch.eval(), x_te, y_te),
        random_score=float(score_rng.random()), seconds=time.perf_counter() - started,
    )


# -------------------------------------------------------------------------------------------- analysis
PRIMARY = "eval-dropout AUC (native)"
PREDICTORS = {
    PRIMARY: lambda r: r.native.auc,
    "eval-dropout AUC (inserted)": lambda r: r.inserted.auc,
    "generalisation gap": lambda r: r.gap,
    "weight norm": lambda r: r.weight_norm,
    "random-pruning robustness": lambda r: r.random_prune_robustness,
    "random score": lambda r: r.random_score,
}
TARGETS = {
    "prunability (one-shot)": lambda r: r.prune_sparsity,
    "prunability (fine-tuned)": lambda r: r.prune_sparsity_finetuned,
    "distillability": lambda r: r.distillability,
    "distillation gain": lambda r: r.distillation_gain,
}
# The three targets; "distillation gain" is a secondary reading of distillability (see the docstring).
MAIN_TARGETS = ("prunability (one-shot)", "prunability (fine-tuned)", "distillability")


@dataclass(frozen=True)
class PairResult:
    """The correlations of one predictor with one target."""

    predictor: str
    target: str
    spearman: Correlation
    kendall: Correlation
    partial: Correlation  # Spearman partial, controlling for the training dropout rate
    partial_all: Correlation  # Spearman partial, controlling for every design factor and the group


def _column(results: Sequence[MemberResult], fn) -> np.ndarray:
    return np.array([fn(r) for r in results], dtype=float)


DESIGN_FACTORS = ("dropout", "label_noise", "train_fraction", "weight_decay", "width", "train_steps")


def _design_confounds(results: Sequence[MemberResult]) -> np.ndarray:
    """Every design factor as a column (groups as indicators), training dropout first."""
    cols = [_column(results, lambda r, f=f: getattr(r.member, f)) for f in DESIGN_FACTORS]
    groups = sorted({r.member.group for r in results})
    cols += [_column(results, lambda r, g=g: float(r.member.group == g)) for g in groups[1:]]
    return np.column_stack(cols)


def correlate_pairs(results: Sequence[MemberResult], settings: Settings, seed: int) -> list[PairResult]:
    confounds = _design_confounds(results)
    pairs = []
    for j, (pname, pfn) in enumerate(PREDICTORS.items()):
        for k, (tname, tfn) in enumerate(TARGETS.items()):
            x, y = _column(results, pfn), _column(results, tfn)
            ok = np.isfinite(x) & np.isfinite(y)
            x, y, z = x[ok], y[ok], confounds[ok]
            s = seed + 100 * j + k
            pairs.append(PairResult(
                pname, tname,
                correlate(x, y, "spearman", n_boot=settings.n_boot, seed=s),
                correlate(x, y, "kendall", n_boot=settings.n_boot, seed=s),
                correlate(x, y, "partial_spearman", confound=z[:, 0], n_boot=settings.n_boot, seed=s),
                correlate(x, y, "partial_spearman", confound=z, n_boot=settings.n_boot, seed=s),
            ))
    return pairs


def _fmt(v: float, digits: int = 3) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), digits)


def _ci_text(c: Correlation) -> str:
    if not math.isfinite(c.estimate):
        return "undefined (too few models, or a variable is constant)"
    lo = "nan" if not math.isfinite(c.ci_low) else f"{c.ci_low:+.2f}"
    hi = "nan" if not math.isfinite(c.ci_high) else f"{c.ci_high:+.2f}"
    return f"{c.estimate:+.2f} [{lo}, {hi}]"


BASELINES = ("generalisation gap", "weight norm", "random-pruning robustness")


def target_verdict(pair: PairResult, best_baseline: tuple[str, Correlation] | None) -> tuple[str, str]:
    """A status and a sentence for one target, from the primary predictor's correlations.

    supported: positive with a CI excluding zero, also after controlling for training dropout and for every
    design factor; weak: the first two hold but the recipe explains it; confounded: training dropout explains it.
    """
    rho, part, part_all = pair.spearman, pair.partial, pair.partial_all
    text = (f"{pair.target}: Spearman {_ci_text(rho)}, partial given training dropout {_ci_text(part)}, "
            f"given every design factor {_ci_text(part_all)}")
    if not math.isfinite(rho.estimate):
        return "undefined", text + " - undefined, the target or predictor did not vary."
    if rho.sign > 0 and part.sign > 0 and part_all.sign > 0:
        status, why = "supported", "supported, and not explained by how the model was trained"
    elif rho.sign > 0 and part.sign > 0:
        status, why = "weak", ("positive and not explained by training dropout, but not distinguishable from zero "
                               "once the whole training recipe is controlled for")
    elif rho.sign > 0:
        status, why = "confounded", "positive, but not distinguishable from zero once training dropout is controlled"
    elif rho.sign < 0:
        status, why = "contradicted", "the opposite of the claim: models that withstand eval-time dropout do worse"
    else:
        status, why = "not supported", "not supported: the CI includes zero"
    text += f" - {why}"
    if best_baseline is not None:
        name, corr = best_baseline
        if math.isfinite(corr.estimate) and abs(corr.estimate) >= abs(rho.estimate):
            text += f"; baseline '{name}' does at least as well ({corr.estimate:+.2f})"
    return status, text + "."


def verdict_text(pairs: Sequence[PairResult], n: int) -> tuple[str, dict[str, str]]:
    statuses: dict[str, str] = {}
    sentences = []
    for pair in (p for p in pairs if p.predictor == PRIMARY):
        baselines = [(p.predictor, p.spearman) for p in pairs
                     if p.target == pair.target and p.predictor in BASELINES and math.isfinite(p.spearman.estimate)]
        best = max(baselines, key=lambda b: abs(b[1].estimate), default=None)
        status, sentence = target_verdict(pair, best)
        statuses[pair.target] = status
        sentences.append(sentence if pair.target in MAIN_TARGETS else f"(Secondary) {sentence}")
    main = {t: statuses[t] for t in MAIN_TARGETS if t in statuses}
    supported = [t for t, s in main.items() if s == "supported"]
    weak = [t for t, s in main.items() if s == "weak"]
    rest = [t for t in main if t not in supported and t not in weak]
    if n < MIN_POPULATION_FOR_VERDICT:
        head = (f"Smoke run with {n} models: too few to judge the claim (a verdict needs >= "
                f"{MIN_POPULATION_FOR_VERDICT}; the default is {DEFAULT_POPULATION}). Figures as measured: ")
    elif len(supported) == len(main):
        head = f"The claim holds on this evidence ({n} models) for every target. "
    elif not supported and not weak:
        head = (f"The claim does NOT hold on this evidence ({n} models): robustness to evaluation-time dropout "
                "does not predict prunability or distillability beyond what the training dropout rate explains. ")
    else:
        parts = []
        if supported:
            parts.append(f"supported for {', '.join(supported)}")
        if weak:
            parts.append("only weakly (a positive correlation that the training recipe explains) for "
                         + ", ".join(weak))
        if rest:
            parts.append(f"not supported for {', '.join(rest)}")
        head = f"The claim holds at most in part on this evidence ({n} models): {'; '.join(parts)}. "
    return head + " ".join(sentences), statuses


# ---------------------------------------------------------------------------------------------- figures
def _dropout_colour(rate: float, levels: Sequence[float]):
    cmap = plt.get_cmap("viridis")
    top = max(levels) or 1.0
    return cmap(rate / top * 0.9)


def plot_curves(results: Sequence[MemberResult], settings: Settings, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, mode in zip(axes, ("native", "inserted"), strict=True):
        for r in results:
            curve: DropoutCurve = getattr(r, mode)
            style = "--" if r.member.arch == "cnn" else "-"
            ax.plot([0.0, *curve.rates], [1.0, *curve.normalised], style, lw=1, alpha=0.75,
                    color=_dropout_colour(r.member.dropout, settings.dropout))
        ax.set_title(f"{mode} dropout at evaluation")
        ax.set_xlabel("evaluation dropout rate p")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy / clean accuracy")
    handles = [plt.Line2D([], [], color=_dropout_colour(d, settings.dropout), label=f"trained with p={d:g}")
               for d in settings.dropout]
    handles += [plt.Line2D([], [], color="grey", ls="-", label="MLP"),
                plt.Line2D([], [], color="grey", ls="--", label="CNN")]
    axes[1].legend(handles=handles, fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scatter(results: Sequence[MemberResult], pairs: Sequence[PairResult], settings: Settings,
                 path: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.4))
    x_all = _column(results, PREDICTORS[PRIMARY])
    markers = {"digits-mlp": "o", "digits-cnn": "s", "breast_cancer-mlp": "^"}
    for ax, (tname, tfn) in zip(axes.flat, TARGETS.items(), strict=True):
        y_all = _column(results, tfn)
        for r, x, y in zip(results, x_all, y_all, strict=True):
            ax.scatter(x, y, s=28, marker=markers.get(r.member.group, "o"),
                       color=_dropout_colour(r.member.dropout, settings.dropout), edgecolor="k", linewidth=0.3)
        ok = np.isfinite(x_all) & np.isfinite(y_all)
        if ok.sum() >= 2 and np.ptp(x_all[ok]) > 0:
            slope, intercept = np.polyfit(x_all[ok], y_all[ok], 1)
            xs = np.linspace(x_all[ok].min(), x_all[ok].max(), 20)
            ax.plot(xs, slope * xs + intercept, "r-", lw=1.2, label="least-squares fit")
        pair = next(p for p in pairs if p.predictor == PRIMARY and p.target == tname)
        ax.set_title(f"{tname}\nrho {_ci_text(pair.spearman)}; partial {_ci_text(pair.partial)}", fontsize=9)
        ax.set_xlabel(PRIMARY)
        ax.set_ylabel(tname)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], ls="", marker=m, color="grey", label=g) for g, m in markers.items()]
    handles += [plt.Line2D([], [], color="r", label="least-squares fit")]
    axes.flat[0].legend(handles=handles, fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_correlations(pairs: Sequence[PairResult], path: Path) -> None:
    preds, targs = list(PREDICTORS), list(TARGETS)
    grid = np.full((len(preds), len(targs)), np.nan)
    labels = {}
    for p in pairs:
        i, j = preds.index(p.predictor), targs.index(p.target)
        grid[i, j] = p.spearman.estimate
        labels[i, j] = _ci_text(p.spearman).replace(" [", "\n[")
    fig, ax = plt.subplots(figsize=(8.5, 5))
    image = ax.imshow(np.nan_to_num(grid), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (i, j), text in labels.items():
        ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(targs)), targs, fontsize=8)
    ax.set_yticks(range(len(preds)), preds, fontsize=8)
    ax.set_title("Spearman correlation [95% bootstrap CI]")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- tables
MEMBER_COLUMNS = [
    "model", "group", "width", "label noise", "train n", "weight decay", "train dropout", "train steps",
    "epochs", "seed",
    "train acc", "test acc", "gap", "AUC native", "AUC inserted", "weight norm", "random-prune robustness",
    "prune sparsity (one-shot)", "prune sparsity (fine-tuned)", "student acc (KD)", "student acc (labels only)",
    "distillability", "distillation gain", "random score", "seconds",
]


def member_rows(results: Sequence[MemberResult]) -> list[list[object]]:
    rows = []
    for r in results:
        m = r.member
        rows.append([
            m.index, m.group, m.width, m.label_noise, r.n_train, m.weight_decay, m.dropout, m.train_steps,
            _fmt(r.epochs, 1), m.seed,
            _fmt(r.train_accuracy), _fmt(r.test_accuracy), _fmt(r.gap), _fmt(r.native.auc), _fmt(r.inserted.auc),
            _fmt(r.weight_norm, 2), _fmt(r.random_prune_robustness), r.prune_sparsity, r.prune_sparsity_finetuned,
            _fmt(r.student_accuracy), _fmt(r.student_scratch_accuracy), _fmt(r.distillability),
            _fmt(r.distillation_gain), _fmt(r.random_score), _fmt(r.seconds, 1),
        ])
    return rows


def correlation_rows(pairs: Sequence[PairResult]) -> list[list[object]]:
    rows = []
    for p in pairs:
        rows.append([p.predictor, p.target, p.spearman.n,
                     _fmt(p.spearman.estimate), _fmt(p.spearman.ci_low), _fmt(p.spearman.ci_high),
                     _fmt(p.spearman.p_value, 4),
                     _fmt(p.kendall.estimate), _fmt(p.kendall.ci_low), _fmt(p.kendall.ci_high),
                     _fmt(p.partial.estimate), _fmt(p.partial.ci_low), _fmt(p.partial.ci_high),
                     _fmt(p.partial.p_value, 4),
                     _fmt(p.partial_all.estimate), _fmt(p.partial_all.ci_low), _fmt(p.partial_all.ci_high)])
    return rows


def within_group_rows(results: Sequence[MemberResult], settings: Settings, seed: int) -> list[list[object]]:
    """The primary predictor's Spearman correlation within each dataset/architecture group (n >= 8)."""
    rows = []
    x_all = _column(results, PREDICTORS[PRIMARY])
    for k, (tname, tfn) in enumerate(TARGETS.items()):
        y_all = _column(results, tfn)
        ok = np.isfinite(x_all) & np.isfinite(y_all)
        for g in sorted({r.member.group for r in results}):
            sel = ok & np.array([r.member.group == g for r in results])
            if sel.sum() < MIN_POPULATION:
                continue
            c = correlate(x_all[sel], y_all[sel], "spearman", n_boot=settings.n_boot, seed=seed + k)
            rows.append([g, tname, c.n, _fmt(c.estimate), _fmt(c.ci_low), _fmt(c.ci_high), _fmt(c.p_value, 4)])
    return rows


# ------------------------------------------------------------------------------------------------- run
def body(args: argparse.Namespace, out_dir: Path) -> StudyResult:
    settings = settings_from_args(args)  # every flag checked before any model is trained
    device = torch.device(args.device)
    datasets = {name: load_dataset(name, args.seed) for name in settings.datasets}
    members = design_population(settings, args.seed)
    progress(f"{STUDY}: {len(members)} models on {', '.join(settings.datasets)}; rates {list(settings.rates)}, "
             f"{settings.passes} passes, torch threads {torch.get_num_threads()}")
    score_rng = numpy_rng(args.seed + 1)
    results = []
    started = time.perf_counter()
    for m in members:
        r = study_member(m, datasets[m.dataset], settings, device, score_rng)
        results.append(r)
        progress(f"model {m.index + 1}/{len(members)} {m.group} w={m.width} noise={m.label_noise} "
                 f"p_train={m.dropout}: test {r.test_accuracy:.3f} gap {r.gap:+.3f} AUC {r.native.auc:.3f} "
                 f"prune {r.prune_sparsity:.2f}/{r.prune_sparsity_finetuned:.2f} distil "
                 f"{r.distillability:.3f} ({r.seconds:.1f} s, {time.perf_counter() - started:.0f} s total)")

    pairs = correlate_pairs(results, settings, args.seed)
    verdict, statuses = verdict_text(pairs, len(results))

    plot_curves(results, settings, out_dir / "curves.png")
    plot_scatter(results, pairs, settings, out_dir / "scatter.png")
    plot_correlations(pairs, out_dir / "correlations.png")

    metrics: dict[str, float | int | str | None] = {
        "models": len(results), "training_and_measuring_s": round(time.perf_counter() - started, 1),
        "torch_threads_used": torch.get_num_threads(),
        "kd_temperature": settings.kd_temperature, "kd_alpha": settings.kd_alpha,
        "tolerance_points": settings.tolerance_points, "passes": settings.passes,
        "rates": ",".join(f"{r:g}" for r in settings.rates), "bootstrap_resamples": settings.n_boot,
        "mean_test_accuracy": _fmt(float(np.mean([r.test_accuracy for r in results]))),
        "gap_min": _fmt(min(r.gap for r in results)), "gap_max": _fmt(max(r.gap for r in results)),
    }
    for p in pairs:
        if p.predictor == PRIMARY:
            key = p.target.replace(" ", "_").replace("(", "").replace(")", "").replace("-", "_")
            metrics[f"spearman_{key}"] = _fmt(p.spearman.estimate)
            metrics[f"spearman_{key}_ci"] = f"[{_fmt(p.spearman.ci_low)}, {_fmt(p.spearman.ci_high)}]"
            metrics[f"partial_{key}"] = _fmt(p.partial.estimate)
            metrics[f"partial_{key}_ci"] = f"[{_fmt(p.partial.ci_low)}, {_fmt(p.partial.ci_high)}]"
            metrics[f"partial_all_{key}"] = _fmt(p.partial_all.estimate)
            metrics[f"verdict_{key}"] = statuses[p.target]

    settings_rows = [[f.name, str(getattr(settings, f.name))] for f in fields(settings)]
    tables = [
        Table("Correlations of each predictor with each target", [
            "predictor", "target", "n", "spearman", "spearman CI low", "spearman CI high", "spearman p",
            "kendall", "kendall CI low", "kendall CI high", "partial spearman | train dropout",
            "partial CI low", "partial CI high", "partial p", "partial spearman | all factors",
            "all-factors CI low", "all-factors CI high"], correlation_rows(pairs),
            note=f"{settings.n_boot} paired bootstrap resamples, 95% percentile CIs. 'All factors' = training "
                 "dropout, label noise, training fraction, weight decay, width, training steps and group "
                 "indicators. The gap is expected to correlate negatively if it predicts anything (a larger "
                 "gap = worse generalisation). The random score shows what chance produces at this n."),
        Table(f"'{PRIMARY}' within each dataset/architecture group",
              ["group", "target", "n", "spearman", "CI low", "CI high", "p"],
              within_group_rows(results, settings, args.seed),
              note="Groups with fewer than 8 models are omitted; pooled correlations can be driven by "
                   "differences between groups, these cannot."),
        Table("Population: one row per model", MEMBER_COLUMNS, member_rows(results),
              note="train acc is on the labels the model was trained on (noisy ones included); test acc on "
                   "clean held-out labels; epochs = train steps x batch / train n; distillability = student "
                   "acc (KD) / test acc; distillation gain = student acc (KD) - student acc (labels only)."),
        Table("Settings", ["setting", "value"], settings_rows),
    ]
    figures = [
        Figure("Accuracy vs. evaluation-time dropout rate", "curves.png",
               "Each line one model, accuracy/clean accuracy vs. p; colour = training dropout rate. Left: the "
               "model's own Dropout layers at rate p; right: dropout inserted before every weight layer."),
        Figure("Predictor vs. targets", "scatter.png",
               "Native eval-dropout AUC against each target, colour = training dropout rate, marker = group, "
               "red = least-squares line; titles give Spearman and the partial correlation given training "
               "dropout, with 95% CIs."),
        Figure("Correlation table", "correlations.png",
               "Spearman correlation of every predictor (rows) with every target (columns), 95% bootstrap CI."),
    ]
    sources = "; ".join(d.description for d in datasets.values())
    return StudyResult(study=STUDY, question=__doc__.strip().split("\n")[0], verdict=verdict,
                       data_source=sources, metrics=metrics, tables=tables, figures=figures)


def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__)
    parser.add_argument("--dataset", default="both",
                        help=f"dataset(s) for the population: {choices_text(DATASET_CHOICES)} (default both)")
    parser.add_argument("--population", type=int, default=None,
                        help=f"number of models (>= {MIN_POPULATION}; default {DEFAULT_POPULATION}, 8 with --quick)")
    parser.add_argument("--rates", default=None,
                        help=f"evaluation dropout rates in [0, 1), comma-separated (default {DEFAULT_RATES}; "
                             f"{QUICK_RATES} with --quick)")
    parser.add_argument("--passes", type=int, default=None,
                        help="stochastic passes per rate (default 10, 3 with --quick)")
    parser.add_argument("--bootstrap", type=int, default=None,
                        help="bootstrap resamples for the CIs (default 2000, 200 with --quick)")
    parser.add_argument("--kd-temperature", type=float, default=2.0, help="distillation temperature T (default 2)")
    parser.add_argument("--kd-alpha", type=float, default=0.5,
                        help="weight of the soft (KL) term in the distillation loss, in [0, 1] (default 0.5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for this run (default: leave torch's setting, normally one "
                             "per core); these models are tiny, so 1 is as fast and much faster on a busy CPU")
    parser.add_argument("--tolerance-points", type=float, default=1.0,
                        help="accuracy drop allowed by prunability, in percentage points (default 1)")
    return parser


def _body_with_threads(args: argparse.Namespace, out_dir: Path) -> StudyResult:
    """Run ``body`` with ``--threads`` intra-op threads if given (``main`` restores torch's setting after the
    envelope, which records the thread count, has been written)."""
    if args.threads is not None:
        if args.threads < 1:
            raise UserInputError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    return body(args, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    threads_before = torch.get_num_threads()
    try:
        return run_experiment(STUDY, build_parser(), _body_with_threads, argv)
    finally:
        torch.set_num_threads(threads_before)


if __name__ == "__main__":
    raise SystemExit(main())
