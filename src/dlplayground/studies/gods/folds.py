"""Nested splits: outer folds score, inner splits select; no selection ever sees the posts it is scored on.

Every labelled post belongs to exactly one *held-out* set. Without ``--holdout`` the outer split is a
stratified k-fold over the training file (scikit-learn's ``StratifiedKFold``, shuffled by the OUTER_SPLIT
stream), so each post is held out once and every model gets one out-of-fold prediction per post. With
``--holdout CSV`` the held-out set is that file and the whole training file is the one development set.

Inside each fold the development set (everything not held out) is split once more, stratified, into an
*inner training* and an *inner validation* part (``zindi.stratified_split`` with ``--inner-fraction``,
seeded by the fold's INNER_SPLIT stream). Every candidate -- an imbalance strategy and seed of the
Longformer, or a TF-IDF setting -- is trained on the inner training part and scored on the inner
validation part; the best is selected there and only then predicts the held-out posts. The held-out labels
are not part of what selection receives (see ``runs`` and ``selection``), so they cannot steer it.

Indices refer to ``GodsData.labelled``: the training rows first, then (with ``--holdout``) the holdout rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

from dlplayground.data.zindi import stratified_split
from dlplayground.errors import UserInputError, choices_text
from dlplayground.studies.gods.streams import Purpose, stream_seed


@dataclass(frozen=True)
class OuterFold:
    """One outer fold: who is held out, and how the rest is split for selection."""

    index: int
    held_out: tuple[int, ...]
    """Scored here, never seen by training or selection in this fold."""
    inner_train: tuple[int, ...]
    """Every candidate trains on these."""
    inner_val: tuple[int, ...]
    """Candidates are compared on these; the best is selected."""

    @property
    def dev(self) -> tuple[int, ...]:
        """The fold's development set: inner training and inner validation together."""
        return tuple(sorted((*self.inner_train, *self.inner_val)))


@dataclass(frozen=True)
class NestedPlan:
    """All outer folds; ``external`` when the held-out set is a separate labelled file."""

    folds: tuple[OuterFold, ...]
    external: bool

    @property
    def scored(self) -> tuple[int, ...]:
        """Every held-out index, in fold order: the posts the comparison is computed on."""
        return tuple(i for fold in self.folds for i in fold.held_out)


def _inner(fold: int, dev: Sequence[int], labels: Sequence[str], inner_fraction: float,
           seed: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    positions_train, positions_val = stratified_split(
        [labels[i] for i in dev], inner_fraction, stream_seed(seed, Purpose.INNER_SPLIT, fold, bits=32))
    if not positions_val:
        raise UserInputError(
            f"--inner-fraction {inner_fraction:g} leaves no inner validation posts in fold {fold + 1} "
            f"({len(dev)} development posts); raise --inner-fraction or give more data"
        )
    return tuple(dev[p] for p in positions_train), tuple(dev[p] for p in positions_val)


def kfold_plan(labels: Sequence[str], folds: int, inner_fraction: float, seed: int) -> NestedPlan:
    """Stratified ``folds``-fold outer split of ``labels``, each development set split again for selection."""
    counts = Counter(labels)
    thin = sorted(name for name, n in counts.items() if n < folds)
    if thin:
        raise UserInputError(
            f"class(es) {choices_text(thin).replace(' or ', ', ')} have fewer than --folds {folds} training "
            f"examples ({', '.join(f'{n}: {counts[n]}' for n in thin)}); a stratified {folds}-fold split needs "
            "one per fold: lower --folds, or give a labelled --holdout CSV"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=stream_seed(seed, Purpose.OUTER_SPLIT,
                                                                                       bits=32))
    y = np.asarray(list(labels), dtype=object)
    out = []
    for index, (dev, held_out) in enumerate(splitter.split(np.zeros(len(y)), y)):
        inner_train, inner_val = _inner(index, dev.tolist(), labels, inner_fraction, seed)
        out.append(OuterFold(index, tuple(int(i) for i in held_out), inner_train, inner_val))
    return NestedPlan(tuple(out), external=False)


def holdout_plan(labels: Sequence[str], n_train: int, inner_fraction: float, seed: int) -> NestedPlan:
    """One fold: the training rows ``0..n_train-1`` are the development set, the rest is held out."""
    if not 0 < n_train < len(labels):
        raise ValueError(f"need training rows and holdout rows, got {n_train} of {len(labels)}")
    inner_train, inner_val = _inner(0, list(range(n_train)), labels, inner_fraction, seed)
    return NestedPlan((OuterFold(0, tuple(range(n_train, len(labels))), inner_train, inner_val),), external=True)
