"""The study's data: read the CSVs (or fall back to the packaged sample), validate, and check the fit.

Every check on the data runs here, on every rank, before the process group starts: a bad file or a batch
that cannot be filled fails the same way in one process and under torchrun, with one ``error:`` line.

The labelled posts form one pool, ``GodsData.labelled``: the training file's rows, followed by the
``--holdout`` file's rows when one is given. The nested plan (``folds``) says which of them train, select
and score in each fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlplayground.data.zindi import (
    SAMPLE_DESCRIPTION,
    ZindiTexts,
    check_known_labels,
    check_trainable,
    read_zindi_csv,
    sample_paths,
)
from dlplayground.errors import UserInputError
from dlplayground.studies.gods.folds import NestedPlan
from dlplayground.studies.gods.sampler import epoch_size

ILLUSTRATIVE_HEADER = "Illustrative corpus written for this project, NOT competition data"
"""How the report's data line opens when the packaged sample ran (the report shows it as a warning)."""


@dataclass(frozen=True)
class GodsData:
    """The labelled pool (training rows, then holdout rows), the optional test file, and the label set."""

    labelled: ZindiTexts
    n_train: int
    """Rows of ``labelled`` that come from the training file (the rest, if any, from ``--holdout``)."""
    test: ZindiTexts | None
    label_names: tuple[str, ...]
    """Sorted labels of the training file: the class order of every tensor, table and figure."""
    source: str
    """Where the data came from, for the report's data line."""
    illustrative: bool
    """True for the packaged sample corpus (not competition data)."""

    def targets(self, indices: Sequence[int]) -> list[int]:
        """The labels of the labelled posts at ``indices``, as class indices into ``label_names``."""
        index = {name: i for i, name in enumerate(self.label_names)}
        labels = self.labelled.labels or ()
        return [index[labels[i]] for i in indices]

    def counts(self, indices: Sequence[int]) -> list[int]:
        """Posts of each class among ``indices``, in ``label_names`` order."""
        y = self.targets(indices)
        return [y.count(c) for c in range(len(self.label_names))]

    @property
    def test_texts(self) -> tuple[str, ...]:
        return self.test.texts if self.test is not None else ()

    @property
    def has_holdout(self) -> bool:
        return len(self.labelled) > self.n_train


def _concat(first: ZindiTexts, second: ZindiTexts) -> ZindiTexts:
    return ZindiTexts(ids=first.ids + second.ids, texts=first.texts + second.texts,
                      labels=(first.labels or ()) + (second.labels or ()), source=f"{first.source} + {second.source}")


def load_data(train_csv: Path | None, test_csv: Path | None, holdout_csv: Path | None) -> GodsData:
    """Read (or fall back to the packaged corpus) and validate; all checks on the files happen here."""
    illustrative = train_csv is None
    if train_csv is None:
        if test_csv is not None or holdout_csv is not None:
            raise UserInputError("--test and --holdout need --train (the training CSV they belong to)")
        train_path, test_path = sample_paths()
        train = read_zindi_csv(train_path, labelled=True, what="packaged sample")
        test = read_zindi_csv(test_path, labelled=False, what="packaged sample")
    else:
        train = read_zindi_csv(train_csv, labelled=True)
        test = read_zindi_csv(test_csv, labelled=False) if test_csv is not None else None
    check_trainable(train)
    label_names = train.label_set
    labelled = train
    if holdout_csv is not None:
        holdout = read_zindi_csv(holdout_csv, labelled=True, what="holdout CSV")
        check_known_labels(holdout.labels or (), label_names, f"holdout CSV {str(holdout_csv)!r}")
        labelled = _concat(train, holdout)
    if illustrative:
        source = (f"{ILLUSTRATIVE_HEADER}: the {SAMPLE_DESCRIPTION}; offline fallback -- pass --train CSV "
                  "--test CSV for the real data")
    else:
        parts = [f"train {train_csv} ({len(train)} rows)"]
        if holdout_csv is not None:
            parts.append(f"holdout {holdout_csv} ({len(labelled) - len(train)} rows)")
        parts.append(f"test {test_csv} ({len(test)} rows)" if test is not None else "no test file")
        source = "Zindi GODS CSV: " + ", ".join(parts)
    return GodsData(labelled=labelled, n_train=len(train), test=test, label_names=label_names, source=source,
                    illustrative=illustrative)


def check_fits(data: GodsData, plan: NestedPlan, strategies: Sequence[str], batch_size: int,
               world_size: int) -> None:
    """Every rank needs its share of every fold's inner training posts and a full local batch, per strategy."""
    if batch_size % world_size:
        raise UserInputError(
            f"--batch-size {batch_size} is the global batch and must divide evenly over {world_size} ranks"
        )
    for fold in plan.folds:
        n = len(fold.inner_train)
        if world_size > n:
            raise UserInputError(
                f"{world_size} ranks (--nproc_per_node) but only {n} inner training posts in fold {fold.index + 1}; "
                f"use at most {n} ranks or more data"
            )
        y = data.targets(fold.inner_train)
        for strategy in strategies:
            per_epoch = epoch_size(strategy, y)
            if batch_size > per_epoch:
                raise UserInputError(
                    f"--batch-size {batch_size} exceeds the {per_epoch} posts one '{strategy}' epoch draws from "
                    f"the inner training posts of fold {fold.index + 1}; use a batch of at most {per_epoch}"
                )
