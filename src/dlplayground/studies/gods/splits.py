"""The study's data: read the CSVs (or fall back to the packaged sample), validate, split, and check the fit.

Every check on the data runs here, on every rank, before the process group starts: a bad file or a batch
that cannot be filled fails the same way in one process and under torchrun, with one ``error:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlplayground.data.zindi import (
    SAMPLE_DESCRIPTION,
    ZindiTexts,
    check_known_labels,
    check_trainable,
    read_zindi_csv,
    sample_paths,
    stratified_split,
)
from dlplayground.errors import UserInputError
from dlplayground.studies.gods.sampler import epoch_size


@dataclass(frozen=True)
class GodsSplits:
    """Training, validation and (optional) test texts, with the label set the training file defines."""

    train: ZindiTexts
    val: ZindiTexts
    test: ZindiTexts | None
    label_names: tuple[str, ...]
    """Sorted labels of the training file: the class order of every tensor, table and figure."""
    source: str
    """Where the data came from, for the report's data line."""
    illustrative: bool
    """True for the packaged sample corpus (not competition data)."""

    def targets(self, part: ZindiTexts) -> list[int]:
        """The labels of ``part`` as class indices into ``label_names``."""
        index = {name: i for i, name in enumerate(self.label_names)}
        return [index[label] for label in part.labels or ()]

    def counts_per_class(self, part: ZindiTexts) -> list[int]:
        """Examples of each class of ``label_names`` in ``part``."""
        counts = part.class_counts()
        return [counts.get(name, 0) for name in self.label_names]

    @property
    def test_texts(self) -> tuple[str, ...]:
        return self.test.texts if self.test is not None else ()


def load_splits(
    train_csv: Path | None, test_csv: Path | None, val_csv: Path | None, val_fraction: float, seed: int
) -> GodsSplits:
    """Read (or fall back to the packaged corpus), validate, and split; all checks on the files happen here."""
    illustrative = train_csv is None
    if train_csv is None:
        if test_csv is not None or val_csv is not None:
            raise UserInputError("--test and --val need --train (the training CSV they belong to)")
        train_path, test_path = sample_paths()
        full = read_zindi_csv(train_path, labelled=True, what="packaged sample")
        test = read_zindi_csv(test_path, labelled=False, what="packaged sample")
    else:
        full = read_zindi_csv(train_csv, labelled=True)
        test = read_zindi_csv(test_csv, labelled=False) if test_csv is not None else None
    check_trainable(full)
    label_names = full.label_set
    if val_csv is not None:
        val = read_zindi_csv(val_csv, labelled=True, what="validation CSV")
        check_known_labels(val.labels or (), label_names, f"validation CSV {str(val_csv)!r}")
        train, how = full, f"validation {val_csv} ({len(val)} rows)"
    else:
        train_idx, val_idx = stratified_split(full.labels or (), val_fraction, seed)
        if not val_idx:
            raise UserInputError(
                f"training CSV {full.source!r} is too small for a validation split ({len(full)} rows); "
                "raise --val-fraction or give --val CSV"
            )
        train, val = full.subset(train_idx), full.subset(val_idx)
        how = f"stratified {val_fraction:g} validation split (seed {seed})"
    if illustrative:
        source = f"{SAMPLE_DESCRIPTION}; {how} (offline fallback; pass --train CSV --test CSV for the real data)"
    else:
        test_part = f", test {test_csv} ({len(test)} rows)" if test is not None else ", no test file"
        source = f"Zindi GODS CSV: train {train_csv} ({len(full)} rows){test_part}; {how}"
    return GodsSplits(train=train, val=val, test=test, label_names=label_names, source=source,
                      illustrative=illustrative)


def check_fits(splits: GodsSplits, strategies: tuple[str, ...], batch_size: int, world_size: int) -> None:
    """Every rank needs its own share of the data and a full local batch, for every strategy."""
    n_train = len(splits.train)
    if world_size > n_train:
        raise UserInputError(
            f"{world_size} ranks (--nproc_per_node) but only {n_train} training examples; "
            f"use at most {n_train} ranks or more data"
        )
    if batch_size % world_size:
        raise UserInputError(
            f"--batch-size {batch_size} is the global batch and must divide evenly over {world_size} ranks"
        )
    y = splits.targets(splits.train)
    for strategy in strategies:
        per_epoch = epoch_size(strategy, y)
        if batch_size > per_epoch:
            raise UserInputError(
                f"--batch-size {batch_size} exceeds the {per_epoch} examples one '{strategy}' epoch "
                f"draws from the training split; use a batch of at most {per_epoch}"
            )
