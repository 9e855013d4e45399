"""The dropout study's data: scikit-learn's packaged digits and breast-cancer sets, split once per seed.

Both ship with scikit-learn, so nothing is downloaded and no data path is needed. The split is stratified
(``train_test_split(stratify=...)``) so every class keeps its share in both halves; the breast-cancer
features are standardised with training statistics only, so nothing of the test half leaks into training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from dlplayground.errors import UserInputError, choices_text
from dlplayground.studies.dropout.config import DATASETS


@dataclass(frozen=True)
class ClassificationSplit:
    """A train/test split as float tensors; ``x`` keeps the image shape for digits (the MLP flattens it)."""

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
def load_split(name: str, split_seed: int) -> ClassificationSplit:
    """Load a packaged scikit-learn dataset and split it stratified (digits 60/40, breast cancer 50/50).

    Cached: every model of a population on the same dataset shares one split.
    """
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        bunch = load_digits()
        x = (bunch.data / 16.0).reshape(-1, 1, 8, 8)
        test_size, description = 0.4, "scikit-learn load_digits (1797 8x8 images, 10 classes; packaged)"
    elif name == "breast_cancer":
        bunch = load_breast_cancer()
        x = bunch.data
        test_size = 0.5
        description = "scikit-learn load_breast_cancer (569 samples, 30 features, 2 classes; packaged)"
    else:  # resolve has already refused it; this guards direct callers
        raise UserInputError(f"dataset {name!r} is unknown; choose {choices_text(DATASETS)}")
    x_tr, x_te, y_tr, y_te = train_test_split(x, bunch.target, test_size=test_size, random_state=split_seed,
                                              stratify=bunch.target)
    if name == "breast_cancer":  # standardise with training statistics only
        scaler = StandardScaler().fit(x_tr)
        x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)

    def as_x(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.float32)

    def as_y(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.long)

    return ClassificationSplit(name, as_x(x_tr), as_y(y_tr), as_x(x_te), as_y(y_te), int(bunch.target.max()) + 1,
                               description)
