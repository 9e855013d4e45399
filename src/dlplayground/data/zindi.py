"""The Zindi GODS 4.0 mental-health CSV format: read, validate, split, and write a submission.

The competition ships ``Train.csv`` with columns ``id, title, content, target`` and ``Test.csv`` with
``id, title, content``; a submission is ``id, target``, one row per test id. A post's text is its title
and its content joined (the title alone often names the problem). Extra columns are ignored.

Everything a user can get wrong is checked here, before any training starts, and reported as one
``UserInputError`` line naming the file and the problem: a missing or non-CSV file, missing columns, no
rows, empty or duplicated ids, missing targets, a single class, and (for a labelled validation file)
labels the training data never showed -- the labels seen in training define the label set.

With no path the study falls back to a small *illustrative* corpus shipped in ``data/assets``
(``gods_sample_train.csv``, ``gods_sample_test.csv``): 400 + 100 short posts over four classes with an
imbalanced prior, written for this project from hand-made sentences. It is not competition data.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dlplayground.atomic import atomic_write_text
from dlplayground.errors import UserInputError, choices_text

TEXT_COLUMNS = ("id", "title", "content")
TARGET_COLUMN = "target"
SUBMISSION_COLUMNS = ("id", "target")
SAMPLE_TRAIN = "gods_sample_train.csv"
SAMPLE_TEST = "gods_sample_test.csv"
SAMPLE_DESCRIPTION = (
    "illustrative sample corpus shipped with dlplayground (400 train / 100 test short posts written for "
    "this project, not competition data)"
)


@dataclass(frozen=True)
class ZindiTexts:
    """Rows of one Zindi CSV: ids, joined title+content texts, and labels where the file has them."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    source: str

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts) or (self.labels is not None and len(self.labels) != len(self.ids)):
            raise ValueError("ids, texts and labels must have the same length")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def label_set(self) -> tuple[str, ...]:
        """The distinct labels, sorted: the class order every table and tensor uses."""
        if self.labels is None:
            raise ValueError(f"{self.source}: this file has no targets")
        return tuple(sorted(set(self.labels)))

    def class_counts(self) -> dict[str, int]:
        counts = Counter(self.labels or ())
        return {label: counts[label] for label in self.label_set}

    def subset(self, indices: Iterable[int], source: str | None = None) -> ZindiTexts:
        idx = list(indices)
        return ZindiTexts(
            ids=tuple(self.ids[i] for i in idx),
            texts=tuple(self.texts[i] for i in idx),
            labels=None if self.labels is None else tuple(self.labels[i] for i in idx),
            source=source or self.source,
        )


def join_text(title: str, content: str) -> str:
    """One text per post: the title, then the content (either may be empty)."""
    title, content = title.strip(), content.strip()
    if title and content:
        return f"{title}. {content}" if title[-1] not in ".?!:" else f"{title} {content}"
    return title or content


def _read_frame(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise UserInputError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise UserInputError(f"{what} {str(path)!r} is a folder; expected a .csv file")
    if path.suffix.lower() != ".csv":
        raise UserInputError(f"{what} {str(path)!r} is not a .csv file (expected the Zindi CSV format)")
    try:
        # Everything as text: ids like "001" and numeric labels keep their spelling; "" marks missing.
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise UserInputError(f"{what} {str(path)!r} is not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise UserInputError(f"{what} {str(path)!r} is empty (expected a header row and data rows)") from None
    except (pd.errors.ParserError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise UserInputError(f"{what} {str(path)!r} is not a valid CSV: {first}") from None
    except OSError as exc:
        raise UserInputError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None


def _rows_text(rows: Sequence[int], limit: int = 5) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def read_zindi_csv(path: Path | str, *, labelled: bool, what: str | None = None) -> ZindiTexts:
    """Read and validate a Zindi CSV; ``labelled`` files (train, validation) must have ``target``.

    Row numbers in messages are the file's line numbers (the header is line 1).
    """
    path = Path(path)
    what = what or ("training CSV" if labelled else "test CSV")
    frame = _read_frame(path, what)
    frame.columns = [str(c).strip() for c in frame.columns]
    required = (*TEXT_COLUMNS, TARGET_COLUMN) if labelled else TEXT_COLUMNS
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserInputError(
            f"{what} {str(path)!r} lacks column(s) {choices_text(missing).replace(' or ', ' and ')}; "
            f"expected {', '.join(required)} (found: {', '.join(map(str, frame.columns)) or 'none'})"
        )
    if frame.empty:
        raise UserInputError(f"{what} {str(path)!r} has a header but no data rows")
    ids = frame["id"].str.strip()
    no_id = [i + 2 for i in np.flatnonzero(ids.eq("").to_numpy())]
    if no_id:
        raise UserInputError(f"{what} {str(path)!r}: empty id on line(s) {_rows_text(no_id)}")
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        raise UserInputError(
            f"{what} {str(path)!r}: duplicated id(s) {choices_text(duplicated[:5]).replace(' or ', ', ')}"
            " (each post needs a unique id for the submission)"
        )
    texts = tuple(join_text(t, c) for t, c in zip(frame["title"], frame["content"], strict=True))
    labels = None
    if labelled:
        targets = frame[TARGET_COLUMN].str.strip()
        no_target = [i + 2 for i in np.flatnonzero(targets.eq("").to_numpy())]
        if no_target:
            raise UserInputError(
                f"{what} {str(path)!r}: missing target on line(s) {_rows_text(no_target)} (every row needs a label)"
            )
        labels = tuple(targets)
    return ZindiTexts(ids=tuple(ids), texts=texts, labels=labels, source=str(path))


def check_trainable(data: ZindiTexts) -> None:
    """A training set needs labels and at least two classes, or there is nothing to learn."""
    if data.labels is None:
        raise UserInputError(f"training CSV {data.source!r} has no target column")
    classes = data.label_set
    if len(classes) < 2:
        raise UserInputError(
            f"training CSV {data.source!r} has only one class ({classes[0]!r}); a classifier needs at least two"
        )


def check_known_labels(labels: Iterable[str], known: Sequence[str], what: str) -> None:
    """Reject labels the training data never showed: the model cannot predict them, so scores would lie."""
    unknown = sorted(set(labels) - set(known))
    if unknown:
        raise UserInputError(
            f"{what} has label(s) {choices_text(unknown).replace(' or ', ' and ')} that the training data does "
            f"not contain; known labels: {choices_text(known)}"
        )


def stratified_split(labels: Sequence[str], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split row indices into (train, validation), keeping each class's share in both.

    scikit-learn's ``train_test_split(stratify=...)`` draws the split. The validation size is what each
    class would send on its own, ``round(val_fraction * n_c)`` but always leaving one for training; a class
    with a single example is never lost from training (it is then absent from validation). A split that
    cannot keep every class in training is refused rather than training on fewer classes than it scores.
    """
    if not 0.0 < val_fraction < 1.0:
        raise UserInputError(f"--val-fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    y = np.asarray(list(labels), dtype=object)
    classes, counts = np.unique(y, return_counts=True)
    n_val = sum(min(int(n) - 1, round(val_fraction * int(n))) for n in counts)
    if n_val == 0:
        return list(range(len(y))), []
    singletons = set(classes[counts == 1].tolist())
    kept = [i for i, label in enumerate(y) if label in singletons]
    candidates = [i for i, label in enumerate(y) if label not in singletons]
    try:
        train, val = train_test_split(candidates, test_size=n_val, stratify=y[candidates], random_state=seed)
    except ValueError as exc:
        raise UserInputError(
            f"--val-fraction {val_fraction:g} cannot make a stratified split of {len(y)} rows ({exc}); "
            "change --val-fraction or give --val CSV"
        ) from None
    missing = sorted(set(classes.tolist()) - {y[i] for i in [*kept, *train]})
    if missing:
        raise UserInputError(
            f"--val-fraction {val_fraction:g} leaves no training example of {choices_text(missing)}; "
            "lower --val-fraction or give --val CSV"
        )
    return sorted([*kept, *train]), sorted(val)


def sample_paths() -> tuple[Path, Path]:
    """The packaged illustrative corpus (train, test)."""
    assets = resources.files("dlplayground") / "data" / "assets"
    return Path(str(assets / SAMPLE_TRAIN)), Path(str(assets / SAMPLE_TEST))


def submission_text(ids: Sequence[str], targets: Sequence[str]) -> str:
    """The submission CSV as text: header ``id,target``, one row per id, in the given order."""
    if len(ids) != len(targets):
        raise ValueError(f"{len(ids)} ids but {len(targets)} predictions")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUBMISSION_COLUMNS)
    writer.writerows(zip(ids, targets, strict=True))
    return buffer.getvalue()


def write_submission(path: Path | str, ids: Sequence[str], targets: Sequence[str]) -> Path:
    """Write a Zindi submission atomically: a reader never sees half a file."""
    path = Path(path)
    text = submission_text(ids, targets)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise UserInputError(f"submission folder {str(path.parent)!r} cannot be created: {reason}") from None
    return atomic_write_text(path, text)
