"""Repeated stratified grouped cross-validation: the outer splits every model is scored on.

One split of 75 test images says little: its AUC moves by several points with the luck of the draw. So every
model is scored on ``repeats`` x ``folds`` outer test folds, and the study reports the spread of the per-fold
AUCs. The folds are scikit-learn's ``StratifiedGroupKFold``:

* **grouped** -- all images of one group (an Olivetti subject; a face image and the shifted crops cut from it;
  the patches of one photograph) fall in the same fold, so a model is never tested on a person, a face or a
  texture it was trained on;
* **stratified by source** -- each fold holds about the same share of the faces and of every negative source,
  so every fold can score the faces against every source.

Each repeat reshuffles the groups with its own seed, drawn from ``(seed, repeat)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from dlplayground.errors import UserInputError


@dataclass(frozen=True)
class Split:
    """One outer fold: the indices of the candidate images on each side (before the per-fold negative quota)."""

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


def repeat_seed(seed: int, repeat: int) -> int:
    """The shuffle seed of one repeat: independent streams for (seed, repeat), so run seeds do not share repeats."""
    return int(np.random.default_rng([seed, repeat]).integers(2**31 - 1))


def grouped_splits(sources: np.ndarray, groups: np.ndarray, *, folds: int, repeats: int, seed: int) -> list[Split]:
    """``repeats`` x ``folds`` stratified (by source) grouped splits; every fold tests every source.

    Raises ``UserInputError`` naming the source when a source has fewer groups than folds, or when a fold
    would test no image of a source.
    """
    sources, groups = np.asarray(sources, dtype=object), np.asarray(groups, dtype=object)
    for source in dict.fromkeys(sources):
        n_groups = len(set(groups[sources == source]))
        if n_groups < folds:
            raise UserInputError(
                f"source {source!r} has only {n_groups} groups (subjects, photographs or images); {folds} outer "
                f"folds need at least {folds} (lower --outer-folds or give more data)"
            )
    splits = []
    codes = np.unique(sources, return_inverse=True)[1]
    for repeat in range(repeats):
        cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=repeat_seed(seed, repeat))
        for fold, (train, test) in enumerate(cv.split(np.zeros(len(sources)), codes, groups)):
            missing = sorted(set(sources) - set(sources[test]))
            if missing:
                raise UserInputError(f"repeat {repeat} fold {fold} tests no image of {', '.join(missing)}; lower "
                                     "--outer-folds or give more data")
            splits.append(Split(repeat, fold, np.sort(train), np.sort(test)))
    return splits
