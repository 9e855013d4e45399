"""The dropout study's data, split four ways so that what predicts never sees what is predicted.

Why four splits. A model's predictor (accuracy under evaluation-time dropout) and its targets (prunability,
distillability) used to be measured on one test split, which also chose whether fine-tuning after pruning was
kept. Predictor and targets then shared that split's sampling noise (a lucky split flatters both), and the
selection was scored on the data it was chosen on. Here every dataset is split once, stratified by class, into
disjoint parts (``SPLIT_FRACTIONS``):

* **fit** -- trains the model; also the data of fine-tuning after pruning, the distillation students' transfer
  inputs and the labels-only student's training labels;
* **validation** -- every selection (keep fine-tuning or not, the distillation temperature) and the clean-
  accuracy covariate, measured on examples neither the predictor nor a target uses;
* **predictor** -- the eval-dropout measures and the random-pruning baseline (the predictors);
* **target** -- prunability and distillation (what is predicted).

``StudyData`` refuses to exist with overlapping parts. Each held-out part is also halved (``Part.half``,
stratified) so any measure can be computed on two disjoint halves and its split-half reliability estimated.

Sources: scikit-learn's packaged ``digits`` (8x8 images) and ``breast_cancer`` (tabular), which need no path,
and two image sets with real spatial structure read from user paths through ``dlplayground.data``: the
Olivetti faces (``--olivetti``: 400 64x64 faces of 40 people, identification; pooled to 32x32 here) and a
CIFAR-10 python-batch folder (``--cifar``: a class-stratified subsample of ``--cifar-per-class`` images per
class, 32x32 RGB). Nothing is downloaded; without those paths the population's only image set is the packaged
8x8 digits, and the run says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from dlplayground.errors import UserInputError, choices_text
from dlplayground.seeding import numpy_rng
from dlplayground.studies.dropout.config import IMAGE_DATASETS, PACKAGED_DATASETS

SPLITS = ("fit", "validation", "predictor", "target")
SPLIT_FRACTIONS: Mapping[str, float] = {"fit": 0.4, "validation": 0.2, "predictor": 0.2, "target": 0.2}
OLIVETTI_POOL = 2  # 64x64 -> 32x32: the faces keep their structure and a CNN step costs a quarter


@dataclass(frozen=True)
class Part:
    """One split of a dataset: inputs, labels, their row numbers in the source, and a stratified half mask."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    index: np.ndarray
    """Row numbers in the source dataset: what the disjointness check and its test compare."""
    half: np.ndarray
    """True for the first half (stratified by class), False for the second: split-half reliability."""

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        if not (self.y.shape[0] == len(self.index) == len(self.half) == n) or n == 0:
            raise ValueError(f"part {self.name!r}: x, y, index and half must have one equal, non-zero length")

    @property
    def size(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class StudyData:
    """A dataset split into the four disjoint parts of ``SPLITS``; refuses to exist if any two overlap."""

    name: str
    description: str
    n_classes: int
    fit: Part
    validation: Part
    predictor: Part
    target: Part

    def __post_init__(self) -> None:
        check_disjoint({name: getattr(self, name).index for name in SPLITS})

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.fit.x.shape[1:])

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    @property
    def chance_accuracy(self) -> float:
        """The majority-class rate on the validation part: the floor a useless model sits at."""
        counts = np.bincount(self.validation.y.numpy(), minlength=self.n_classes)
        return float(counts.max() / counts.sum())


def check_disjoint(parts: Mapping[str, np.ndarray]) -> None:
    """Raise ``ValueError`` naming the two parts and an example when any two parts share a row."""
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = np.intersect1d(parts[a], parts[b])
            if shared.size:
                raise ValueError(f"splits {a!r} and {b!r} share {shared.size} examples (e.g. row {int(shared[0])})")


def stratified_parts(labels: np.ndarray, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Row numbers of each part: every class shuffled and cut by ``fractions`` (largest remainders), sorted.

    Every class keeps its share in every part, so no part's accuracy is skewed by a different class mix.
    """
    rng = numpy_rng(seed)
    shares = np.array(list(fractions.values()), dtype=float)
    shares = shares / shares.sum()
    out: dict[str, list[np.ndarray]] = {name: [] for name in fractions}
    for cls in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        exact = shares * len(rows)
        counts = np.floor(exact).astype(int)
        for j in np.argsort(-(exact - counts), kind="stable")[: len(rows) - counts.sum()]:
            counts[j] += 1
        for name, chunk in zip(fractions, np.split(rows, np.cumsum(counts)[:-1]), strict=True):
            out[name].append(chunk)
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in out.items()}


def stratified_halves(labels: np.ndarray, seed: int) -> np.ndarray:
    """A mask putting alternate examples of each class (in shuffled order) into the first half."""
    rng = numpy_rng(seed)
    half = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        half[rows[::2]] = True
    return half


def split_dataset(name: str, description: str, x: np.ndarray, y: np.ndarray, seed: int, *,
                  standardise: bool = False) -> StudyData:
    """Split ``(x, y)`` four ways (stratified), optionally standardising features with fit statistics only."""
    y = np.asarray(y, dtype=np.int64)
    n_classes = int(y.max()) + 1
    rows = stratified_parts(y, SPLIT_FRACTIONS, seed)
    empty = [part for part, idx in rows.items() if idx.size == 0]
    if empty:
        raise UserInputError(f"dataset {name!r}: {len(y)} examples are too few to fill the {', '.join(empty)} "
                             f"split(s); each class needs at least {len(SPLIT_FRACTIONS)} examples")
    x = np.asarray(x, dtype=np.float64)
    if standardise:
        mean, std = x[rows["fit"]].mean(axis=0), x[rows["fit"]].std(axis=0)
        x = (x - mean) / np.where(std > 0, std, 1.0)
    parts = {}
    for k, (part, idx) in enumerate(rows.items()):
        parts[part] = Part(part, torch.tensor(x[idx], dtype=torch.float32), torch.tensor(y[idx], dtype=torch.long),
                           idx, stratified_halves(y[idx], seed * 10 + k + 1))
    return StudyData(name, description, n_classes, **parts)


# ------------------------------------------------------------------------------------------ the sources
def _packaged(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    from sklearn.datasets import load_breast_cancer, load_digits

    if name == "digits":
        bunch = load_digits()
        return (bunch.data / 16.0).reshape(-1, 1, 8, 8), bunch.target, \
            "scikit-learn load_digits (1797 8x8 images, 10 classes; packaged)"
    if name == "breast_cancer":
        bunch = load_breast_cancer()
        return bunch.data, bunch.target, "scikit-learn load_breast_cancer (569 samples, 30 features, 2 classes)"
    raise UserInputError(f"dataset {name!r} is unknown; choose {choices_text(PACKAGED_DATASETS)}")


@cache
def load_packaged(name: str, seed: int) -> StudyData:
    """A packaged scikit-learn set, split four ways (cached: every model on it shares one split)."""
    x, y, description = _packaged(name)
    return split_dataset(name, description, x, y, seed, standardise=name == "breast_cancer")


def load_olivetti_faces(path: Path, seed: int) -> StudyData:
    """The Olivetti faces (subject identification) from ``--olivetti``, pooled to 32x32; never downloads.

    Subject labels exist only for files holding whole subjects (10 images each); any other file is refused,
    since there would be nothing to classify.
    """
    from dlplayground.data.olivetti import load_olivetti

    faces = load_olivetti(path)
    where = str(path)
    if faces.targets is None or len(np.unique(faces.targets)) < 2:
        raise UserInputError(f"--olivetti {where}: {len(faces.images)} images do not make whole subjects of 10; "
                             "the study classifies subjects, so it needs the subject of every image")
    n, h, w = faces.images.shape
    f = OLIVETTI_POOL
    pooled = faces.images[:, : h - h % f, : w - w % f].reshape(n, h // f, f, w // f, f).mean(axis=(2, 4))
    description = (f"Olivetti faces ({n} images of {len(np.unique(faces.targets))} people, pooled to "
                   f"{h // f}x{w // f}; subject identification) from {faces.source.split(' from ')[-1]}")
    return split_dataset("olivetti", description, pooled[:, None], faces.targets, seed)


def load_cifar_subset(path: Path, per_class: int, seed: int) -> StudyData:
    """A class-stratified subsample of ``per_class`` CIFAR-10 images per class from ``--cifar``."""
    from dlplayground.data.cifar10 import load_cifar10

    cifar = load_cifar10(path)
    rng = numpy_rng(seed + 7)
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(cifar.labels == c))[:per_class]
                                   for c in np.unique(cifar.labels)]))
    x = cifar.images[keep].transpose(0, 3, 1, 2).astype(np.float64) / 255.0 - 0.5
    y = cifar.labels[keep]
    description = (f"CIFAR-10 subsample ({len(keep)} of {len(cifar.labels)} images, up to {per_class} per class, "
                   f"32x32 RGB) from {path}")
    return split_dataset("cifar10", description, x, y, seed)


def load_study_data(name: str, seed: int, *, olivetti: Path | None = None, cifar: Path | None = None,
                    cifar_per_class: int = 300) -> StudyData:
    """One dataset of the population by name; the image sets read the paths the user gave."""
    if name in PACKAGED_DATASETS:
        return load_packaged(name, seed)
    if name == "olivetti":
        if olivetti is None:
            raise UserInputError("dataset 'olivetti' needs --olivetti [PATH] (scikit-learn's olivetti_py3.pkz)")
        return load_olivetti_faces(olivetti, seed)
    if name == "cifar10":
        if cifar is None:
            raise UserInputError("dataset 'cifar10' needs --cifar DIR (a folder of CIFAR-10 python batches)")
        return load_cifar_subset(cifar, cifar_per_class, seed)
    raise UserInputError(f"dataset {name!r} is unknown; choose {choices_text((*PACKAGED_DATASETS, *IMAGE_DATASETS))}")
