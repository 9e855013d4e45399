"""The competition's submission files: the best Longformer's test predictions, and TF-IDF's for comparison."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dlplayground.data.zindi import ZindiTexts, write_submission
from dlplayground.results import Table
from dlplayground.studies.gods.runs import StrategyRun

LONGFORMER_FILE = "submission.csv"
TFIDF_FILE = "submission_tfidf_baseline.csv"


def write_submissions(
    out_dir: Path, test: ZindiTexts, label_names: Sequence[str], best: StrategyRun, tfidf_predictions: Sequence[int],
) -> Table:
    """Write both ``id,target`` files into ``out_dir``; return the table that lists them."""
    write_submission(out_dir / LONGFORMER_FILE, test.ids, [label_names[i] for i in best.test_predictions])
    write_submission(out_dir / TFIDF_FILE, test.ids, [label_names[i] for i in tfidf_predictions])
    return Table("Submission files (id,target)", ["file", "rows", "model"], [
        [LONGFORMER_FILE, len(test), f"Longformer '{best.strategy}' seed {best.seed}"],
        [TFIDF_FILE, len(test), "TF-IDF + logistic regression"],
    ])
