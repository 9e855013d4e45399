"""The competition's submission files: the Longformer's test predictions, and TF-IDF's for comparison.

Each fold's selected model predicts the test file; the submission averages their class probabilities
(a cross-validation ensemble) and takes the most probable class. None of those models saw the test file,
and none was selected on it. The held-out scores estimate one fold's model; an average of the folds'
models is usually at least as good.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlplayground.data.zindi import ZindiTexts, write_submission
from dlplayground.results import Table
from dlplayground.studies.gods.runs import FamilyOutcome

LONGFORMER_FILE = "submission.csv"
TFIDF_FILE = "submission_tfidf_baseline.csv"


def ensemble_predictions(outcomes: Sequence[FamilyOutcome]) -> list[int]:
    """The most probable class of the folds' mean test probabilities."""
    mean = np.mean([o.test_probabilities for o in outcomes], axis=0)
    return [int(c) for c in mean.argmax(axis=1)]


def write_submissions(out_dir: Path, test: ZindiTexts, label_names: Sequence[str],
                      longformer: Sequence[FamilyOutcome], tfidf: Sequence[FamilyOutcome]) -> Table:
    """Write both ``id,target`` files into ``out_dir``; return the table that lists them."""
    rows, chosen = [], []
    for file, outcomes, model in ((LONGFORMER_FILE, longformer, "Longformer, full context"),
                                  (TFIDF_FILE, tfidf, "TF-IDF + logistic regression")):
        write_submission(out_dir / file, test.ids, [label_names[i] for i in ensemble_predictions(outcomes)])
        rows.append([file, len(test), model, len(outcomes)])
        chosen.append(f"{model}: {'; '.join(o.chosen_label for o in outcomes)}")
    return Table("Submission files (id,target)", ["file", "rows", "model", "fold models averaged"], rows,
                 note="Each file averages the class probabilities of the folds' selected models, which were: "
                      + ". ".join(chosen) + ".")
