"""Paired comparisons on the same posts: vectorised metrics, bootstrap intervals, McNemar, the family level."""

from __future__ import annotations

import numpy as np
import pytest

from dlplayground.stats import holm_adjust, simultaneous_level
from dlplayground.studies.gods.comparison import (
    BootstrapPlan,
    compare_family,
    macro_f1_rows,
    mcnemar_exact,
    paired_difference,
    score_interval,
)
from dlplayground.studies.gods.metrics import classification_scores

PLAN = BootstrapPlan(resamples=1000, level=0.95, seed=0)
NAMES = ("a", "b", "c", "d")


def test_vectorised_macro_f1_matches_the_scikit_learn_scores() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, size=(6, 50))  # class 'd' never occurs: left out, as classification_scores does
    predicted = np.where(rng.random((6, 50)) < 0.6, truth, rng.integers(0, 4, size=(6, 50)))
    rows = macro_f1_rows(truth, predicted, len(NAMES))
    assert rows.shape == (6,)
    for t, p, value in zip(truth, predicted, rows, strict=True):
        assert value == pytest.approx(classification_scores(t.tolist(), p.tolist(), NAMES).macro_f1)


def test_identical_models_differ_by_exactly_zero() -> None:
    truth = [0, 1, 2, 3, 0, 1] * 10
    predicted = [0, 1, 2, 0, 0, 2] * 10
    for metric in ("accuracy", "macro_f1"):
        d = paired_difference(truth, predicted, predicted, metric, 4, PLAN, 0.95)
        assert (d.estimate, d.low, d.high) == (0.0, 0.0, 0.0)
        assert d.sign == 0


def test_a_model_right_where_the_other_is_wrong_is_called_better() -> None:
    truth = [0, 1] * 50
    right = list(truth)
    wrong_half = [t if i % 2 else 1 - t for i, t in enumerate(truth)]  # wrong on every other post
    d = paired_difference(truth, right, wrong_half, "accuracy", 2, PLAN, 0.99)
    assert d.estimate == pytest.approx(0.5)
    assert d.low > 0.3
    assert d.sign == 1
    flipped = paired_difference(truth, wrong_half, right, "accuracy", 2, PLAN, 0.99)
    assert flipped.sign == -1


def test_a_difference_within_sampling_error_is_not_called() -> None:
    truth = np.ones(80, dtype=int)
    # First alone right on 8 posts, second alone right on 5: 3 posts apart, inside the noise of 80 posts.
    first, second = truth.copy(), truth.copy()
    first[0:5] = 0
    second[5:13] = 0
    d = paired_difference(truth, first, second, "accuracy", 2, PLAN, 0.95)
    assert d.estimate == pytest.approx(3 / 80)
    assert d.low < 0 < d.high
    assert d.sign == 0


def test_score_interval_covers_the_estimate() -> None:
    truth = [0, 1, 2, 3] * 25
    predicted = [0, 1, 2, 2] * 25
    acc = score_interval(truth, predicted, "accuracy", 4, PLAN)
    assert acc.estimate == 0.75
    assert acc.low < 0.75 < acc.high
    assert acc.level == 0.95


def test_mcnemar_exact_counts_discordant_posts() -> None:
    truth = [1] * 30
    first = [1] * 30
    second = [1] * 20 + [0] * 10  # first alone right on 10 posts, second alone right on none
    only_first, only_second, p = mcnemar_exact(truth, first, second)
    assert (only_first, only_second) == (10, 0)
    assert p == pytest.approx(2 * 0.5**10)
    assert mcnemar_exact(truth, first, first) == (0, 0, 1.0)


def test_family_intervals_are_simultaneous_and_holm_adjusts_the_accuracy_rows() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 120)
    predictions = {name: np.where(rng.random(120) < q, truth, rng.integers(0, 3, 120))
                   for name, q in (("x", 0.9), ("y", 0.6), ("z", 0.5))}
    pairs = [("x", "y", "accuracy"), ("x", "y", "macro_f1"), ("x", "z", "accuracy")]
    family = compare_family(truth, predictions, pairs, 3, PLAN)
    assert [c.difference.level for c in family] == [simultaneous_level(0.95, 3)] * 3
    raw = [family[0].p_value, family[2].p_value]
    assert [family[0].p_holm, family[2].p_holm] == pytest.approx(holm_adjust(raw).tolist())
    assert family[1].p_value is None
    assert family[1].p_holm is None
    assert all(c.n == 120 for c in family)
