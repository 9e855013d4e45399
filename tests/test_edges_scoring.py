"""The edge study's numbers on hand-made cases with known answers: matching (one and several annotators), ODS,
OIS, AP, FOM, selection on tuning images, the permutation test, Holm, the noise trend and the verdict rule."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dlplayground.errors import UserInputError
from dlplayground.stats import Interval, bootstrap, holm_adjust, simultaneous_level
from dlplayground.studies.edges.analysis import (
    FaceFamilyComparison,
    FamilyComparison,
    NoiseTrend,
    Resampling,
    analyse_benchmark,
    analyse_faces,
    change_of_difference,
    mean_over_images,
)
from dlplayground.studies.edges.evaluation import (
    Condition,
    ConditionResult,
    FaceStability,
    ImageSet,
    TaskRunner,
    score_condition,
    tune_then_score,
)
from dlplayground.studies.edges.matching import MatchCounts, bsds_tolerance_px, match_edges, pratt_fom
from dlplayground.studies.edges.operators import EdgeResponse, edge_response
from dlplayground.studies.edges.scenes import degrade, make_scenes
from dlplayground.studies.edges.scoring import (
    DatasetScore,
    SweepTable,
    average_precision,
    f_difference,
    heldout_f,
    ods_f,
    prf,
    score_dataset,
    sweep,
    threshold_grid,
)
from dlplayground.studies.edges.selection import Tuned, pick_member, tune_operator
from dlplayground.studies.edges.significance import paired_permutation_p
from dlplayground.studies.edges.verdict import OUTCOMES, edge_answer, edge_verdict, family_outcome, trend_phrase


def _line(shape=(20, 20), row=10, cols=slice(4, 16)):
    truth = np.zeros(shape, bool)
    truth[row, cols] = True
    return truth


# ------------------------------------------------------------------------------------------ matching
def test_perfect_map():
    truth = _line()
    c = match_edges(truth, truth)
    assert c == MatchCounts(12, 12, 12, 12)
    assert (c.precision, c.recall, c.f_measure) == (1.0, 1.0, 1.0)
    assert pratt_fom(truth, truth) == 1.0


def test_shifted_by_one_pixel():
    truth = _line()
    shifted = np.roll(truth, 1, axis=0)
    assert match_edges(shifted, truth, tolerance_px=1.0).f_measure == 1.0
    assert match_edges(shifted, truth, tolerance_px=1.5).f_measure == 1.0
    assert match_edges(shifted, truth, tolerance_px=0.5) == MatchCounts(0, 12, 0, 12)
    assert pratt_fom(shifted, truth) == pytest.approx(0.9)  # every pixel at distance 1: 1 / (1 + 1/9)
    # shifted one down and one right: the end pixel is sqrt(2) = 1.414 px from the truth
    diagonal = np.roll(shifted, 1, axis=1)
    assert match_edges(diagonal, truth, tolerance_px=1.5).matched_true == 12
    assert match_edges(diagonal, truth, tolerance_px=1.0).matched_true == 11


def test_empty_maps():
    truth = _line()
    empty = np.zeros_like(truth)
    c = match_edges(empty, truth)
    assert c == MatchCounts(0, 0, 0, 12)
    assert (c.precision, c.recall, c.f_measure) == (1.0, 0.0, 0.0)
    c = match_edges(truth, empty)
    assert (c.precision, c.recall, c.f_measure) == (0.0, 1.0, 0.0)
    assert match_edges(empty, empty).f_measure == 1.0
    assert pratt_fom(empty, truth) == 0.0
    assert pratt_fom(empty, empty) == 1.0


def test_thick_map_gets_no_free_recall():
    """One-to-one: a doubled edge matches each true pixel once; the second copy is all false positives."""
    truth = _line()
    thick = truth | np.roll(truth, 1, axis=0)
    c = match_edges(thick, truth)
    assert c == MatchCounts(12, 24, 12, 12)
    assert c.f_measure == pytest.approx(2 / 3)
    assert pratt_fom(thick, truth) == pytest.approx((12 + 12 * 0.9) / 24)


def test_maximum_matching_not_greedy():
    """A detection between two true pixels must go to the one that has no other partner."""
    truth = np.zeros((10, 10), bool)
    truth[5, 3] = truth[5, 5] = True
    detected = np.zeros_like(truth)
    detected[5, 4] = True  # within 1 px of both truths
    detected[5, 6] = True  # within 1 px of (5, 5) only
    assert match_edges(detected, truth, tolerance_px=1.0).matched_true == 2


def test_partial_detection_known_values():
    truth = _line()  # 12 pixels
    detected = np.zeros_like(truth)
    detected[10, 4:10] = True  # 6 right
    detected[2, 2:6] = True  # 4 far away
    c = match_edges(detected, truth)
    assert c == MatchCounts(6, 10, 6, 12)
    assert (c.precision, c.recall) == (pytest.approx(0.6), pytest.approx(0.5))


def test_several_annotators_are_counted_the_bsds_way():
    """Precision: a detection is right if any annotator's matching pairs it; recall: summed over annotators."""
    first = _line()  # row 10, columns 4-15 (12 px)
    second = np.zeros_like(first)
    second[3, 4:10] = True  # another human drew only a different, shorter contour (6 px)
    detected = np.zeros_like(first)
    detected[10, 4:16] = True  # finds the first human's contour ...
    detected[3, 4:7] = True  # ... and half of the second's
    detected[17, 0:5] = True  # and 5 pixels nobody drew
    c = match_edges(detected, [first, second])
    # 12 + 3 detections matched by someone, of 20; first: 12/12 matched, second: 3/6
    assert c == MatchCounts(15, 20, 15, 18)
    assert c.precision == pytest.approx(15 / 20)
    assert c.recall == pytest.approx(15 / 18)
    # the same detections against one annotator only: the other's contour is a false positive there
    assert match_edges(detected, first) == MatchCounts(12, 20, 12, 12)
    # two identical annotators: precision as for one, recall counts each human's pixels
    assert match_edges(detected, [first, first]) == MatchCounts(12, 20, 24, 24)


def test_flow_and_hopcroft_karp_find_matchings_of_the_same_size():
    from scipy.sparse import random as sparse_random

    from dlplayground.studies.edges.matching import maximum_cardinality_rows

    for seed in range(12):
        graph = sparse_random(120, 90, density=0.01 + 0.004 * seed, random_state=seed, format="csr")
        graph.data[:] = 1
        by_paths, by_flow = maximum_cardinality_rows(graph), maximum_cardinality_rows(graph, dense=True)
        assert by_paths.sum() == by_flow.sum()
        assert not by_flow[np.diff(graph.indptr) == 0].any()  # a row without partners is never paired
    # the wide BSDS radius takes the flow path: the counts agree with the narrow-radius algorithm's
    scene = make_scenes("faces", 1, seed=1, size=64)[0]
    noisy = degrade(scene.image, 0.0, 0.1, np.random.default_rng(0))
    detected = edge_response(noisy, "log", 1.0).candidates
    wide = match_edges(detected, scene.edges, tolerance_px=3.0)
    assert wide.matched_true == maximum_cardinality_rows(_graph(detected, scene.edges, 3.0)).sum() > 0


def _graph(detected, truth, radius):
    from dlplayground.studies.edges.matching import Matcher

    return Matcher(detected, [truth], radius).annotators[0].graph


def test_bsds_tolerance_is_a_fraction_of_the_diagonal():
    assert bsds_tolerance_px((321, 481)) == pytest.approx(0.0075 * np.hypot(321, 481))
    assert 4.3 < bsds_tolerance_px((481, 321)) < 4.4


def test_bad_scorer_input():
    with pytest.raises(UserInputError, match="same shape"):
        match_edges(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(UserInputError, match="tolerance"):
        match_edges(np.zeros((4, 4)), np.zeros((4, 4)), tolerance_px=-1)
    with pytest.raises(UserInputError, match="tolerance"):
        match_edges(np.zeros((4, 4)), np.zeros((4, 4)), tolerance_px=float("nan"))
    with pytest.raises(UserInputError, match="no annotator"):
        match_edges(np.zeros((4, 4)), [])
    with pytest.raises(UserInputError, match="empty dataset"):
        score_dataset([], [], [("sobel", 1.0)], 5)
    with pytest.raises(UserInputError, match="ground-truth"):
        score_dataset([np.zeros((8, 8))], [], [("sobel", 1.0)], 5)
    with pytest.raises(UserInputError, match="NaN"):
        score_dataset([np.full((8, 8), np.nan)], [np.zeros((8, 8), bool)], [("sobel", 1.0)], 5)
    with pytest.raises(ValueError, match="at least one observation"):  # bootstrapping an empty dataset
        bootstrap(np.zeros((0, 4, 4), dtype=np.int64), ods_f)


# ------------------------------------------------------------------------------------ sweeps and scores
def _hand_response():
    truth = _line()
    strength = np.zeros(truth.shape)
    strength[10, 4:16] = 1.0  # the true line, strong
    strength[3, 3:9] = 0.5  # a weaker spurious line
    return EdgeResponse("hand", 1.0, strength), truth


def test_sweep_and_ods_ois_on_a_hand_made_strength_map():
    response, truth = _hand_response()
    thresholds = np.array([0.25, 0.75, 2.0])
    counts, fom = sweep(response, truth, thresholds)
    np.testing.assert_array_equal(counts, [[12, 18, 12, 12], [12, 12, 12, 12], [0, 0, 0, 12]])
    assert fom[1] == pytest.approx(1.0)
    assert fom[2] == 0.0
    assert fom[0] < 1.0
    truth2 = np.zeros_like(truth)  # second image: only the weak line is right
    truth2[3, 3:9] = True
    counts2, _ = sweep(response, truth2, thresholds)
    score = DatasetScore(np.stack([counts, counts2]), thresholds)
    # summed: t=.25 -> 18 matched / 36 detected / 18 true -> F=2/3; t=.75 -> 12/24/18 -> P=.5 R=.667 F=.571
    assert score.ods_index == 0
    assert score.ods[2] == pytest.approx(2 / 3)
    # OIS: image 1 at t=.75 (F=1), image 2 at t=.25 (F = 0.5) -> 18 / 30 / 18
    p, r, f = score.ois
    assert (p, r) == (pytest.approx(18 / 30), 1.0)
    assert f == pytest.approx(2 * 0.6 / 1.6)
    np.testing.assert_allclose(score.per_image_f(score.ods_index), [0.8, 0.5])
    assert score.at(1) == (pytest.approx(0.5), pytest.approx(12 / 18), pytest.approx(4 / 7))
    np.testing.assert_allclose(heldout_f(score.counts[:, 1]), 4 / 7)


def test_sweep_with_several_annotators_has_no_fom():
    response, truth = _hand_response()
    counts, fom = sweep(response, [truth, truth], np.array([0.75]))
    np.testing.assert_array_equal(counts, [[12, 12, 24, 24]])
    assert np.isnan(fom).all()


def test_thinning_before_matching_as_bsds_does():
    from skimage.morphology import thin

    truth = _line()
    strength = np.zeros(truth.shape)
    strength[9:11, 4:16] = 1.0  # a 2-pixel-thick detection of the line
    response = EdgeResponse("thick", 1.0, strength)
    unthinned, _ = sweep(response, truth, np.array([0.5]))
    thinned, _ = sweep(response, truth, np.array([0.5]), thin=True)
    assert unthinned[0, 1] == 24
    assert thinned[0, 1] == thin(strength > 0).sum() < 24
    assert unthinned[0, 2] == 12
    assert thinned[0, 0] == thinned[0, 1] >= 11  # every pixel of the thin map lies on the line


def test_prf_conventions_vectorised():
    p, r, f = prf(np.array([[0, 0, 0, 5], [0, 3, 0, 0], [0, 0, 0, 0], [2, 4, 2, 4], [3, 4, 4, 8]]))
    np.testing.assert_allclose(p, [1, 0, 1, 0.5, 0.75])
    np.testing.assert_allclose(r, [0, 1, 1, 0.5, 0.5])
    np.testing.assert_allclose(f, [0, 0, 1, 0.5, 0.6])


def test_average_precision_known_answers():
    """BSDS's AP: precision interpolated at recall 0, 0.01, ..., 1 on the distinct recalls, 0 where not reached."""
    # two thresholds: (R 1, P 0.5) and (R 0.5, P 1): precision 1.5 - R on [0.5, 1], nothing below
    counts = np.array([[[50, 100, 100, 100], [50, 50, 50, 100]]])
    expected = sum(1.5 - k / 100 for k in range(50, 101)) * 0.01
    assert average_precision(counts) == pytest.approx(expected)
    assert average_precision(counts) == pytest.approx(0.3825)
    # a threshold with no detection counts as precision 0 at recall 0 (BSDS), pulling the low end down
    with_empty = np.concatenate([counts, np.array([[[0, 0, 0, 100]]]).reshape(1, 1, 4)], axis=1)
    assert average_precision(with_empty) == pytest.approx(0.3825 + sum(2 * k / 100 for k in range(50)) * 0.01)
    # one recall value only: no curve, AP 0; and the counts of two images are pooled before the curve
    assert average_precision(np.array([[[10, 10, 10, 10]]])) == 0.0
    assert average_precision(np.concatenate([counts, counts])) == pytest.approx(0.3825)
    assert DatasetScore(counts, np.arange(2.0)).ap == pytest.approx(0.3825)


def test_threshold_grid_spans_the_candidates():
    strengths = [np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[4.0, 0.0], [0.0, 5.0]])]
    grid = threshold_grid(strengths, 10)
    assert grid[0] == 1.0  # quantile 0: every candidate kept
    assert grid[-1] <= 5.0
    assert np.all(np.diff(grid) >= 0)
    assert np.isinf(threshold_grid([np.zeros((3, 3))], 4)).all()  # no candidates: nothing ever detected


def _random_counts(rng, n_images=30, n_thresholds=4):
    counts = np.zeros((n_images, n_thresholds, 4), dtype=np.int64)
    counts[..., 1] = counts[..., 3] = 100
    counts[..., 0] = counts[..., 2] = rng.integers(60, 90, size=(n_images, n_thresholds))
    return counts


def test_bootstrap_is_seeded_and_covers_the_point_estimate():
    rng = np.random.default_rng(0)
    counts = _random_counts(rng)
    boot = bootstrap(counts, ods_f, resamples=500, seed=1)
    np.testing.assert_array_equal(boot.distribution, bootstrap(counts, ods_f, resamples=500, seed=1).distribution)
    point = DatasetScore(counts, np.arange(4.0)).ods[2]
    assert boot.estimate == pytest.approx(point)
    assert boot.low < point < boot.high + 1e-9
    values = rng.normal(size=30)
    assert bootstrap(values, mean_over_images, resamples=500, seed=1).distribution.mean() == pytest.approx(
        values.mean(), abs=0.05)


def test_ods_f_repicks_the_threshold_in_every_resample():
    """On a stack of resampled datasets, each gets the F of its own best threshold (the ODS definition)."""
    counts = np.array([[[10, 10, 10, 10], [0, 0, 0, 10]],
                       [[0, 40, 0, 10], [10, 10, 10, 10]]], dtype=np.int64)
    stack = counts[np.array([[0, 0], [1, 1], [0, 1]])]  # three "resamples" of the two images
    values = ods_f(stack)
    np.testing.assert_allclose(values, [DatasetScore(s, np.arange(2.0)).ods[2] for s in stack])
    assert values[0] == values[1] == 1.0  # each single-image dataset at its own threshold


def test_paired_difference_shares_the_resamples_of_separate_calls():
    """One statistic of both operators = the difference of two calls with the same seed (same images drawn)."""
    rng = np.random.default_rng(2)
    a, b = _random_counts(rng)[:, 0], _random_counts(rng)[:, 0]
    joint = bootstrap((a, b), f_difference, resamples=300, seed=4)
    separate = (bootstrap(a, heldout_f, resamples=300, seed=4).distribution
                - bootstrap(b, heldout_f, resamples=300, seed=4).distribution)
    np.testing.assert_allclose(joint.distribution, separate)
    assert joint.estimate == pytest.approx(float(heldout_f(a) - heldout_f(b)))


def test_change_of_difference_known_answer():
    def counts(f_matched):  # one image with 10 detected and 10 true, ``f_matched`` matched: F = f_matched / 10
        return np.array([[f_matched, 10, f_matched, 10]])

    value = change_of_difference(counts(8), counts(7), counts(6), counts(3))  # +0.1 at low, +0.3 at high
    assert float(value) == pytest.approx(0.2)


# ------------------------------------------------------------------------------------ selection
def _table(operator, sigma, per_threshold, n_images=3):
    """A sweep whose every image has the given (matched, detected, matched, true) counts per threshold."""
    counts = np.array([[[m, d, m, t] for m, d, t in per_threshold]] * n_images, dtype=np.int64)
    return SweepTable(operator, sigma, np.arange(len(per_threshold), dtype=float), counts,
                      np.full(counts.shape[:2], 0.5))


def test_tuning_picks_the_best_scale_then_its_ods_threshold():
    tables = [_table("log", 1.0, [(5, 10, 10), (7, 10, 10)]), _table("log", 2.0, [(9, 10, 10), (6, 10, 10)]),
              _table("log", 3.0, [(9, 10, 10), (9, 10, 10)])]
    tuned = tune_operator(tables)
    assert (tuned.sigma, tuned.threshold_index, tuned.threshold) == (2.0, 0, 0.0)  # tie: smaller scale, lower t
    assert tuned.tuning_f == pytest.approx(0.9)
    with pytest.raises(ValueError, match="exactly one operator"):
        tune_operator([*tables, _table("dog", 1.0, [(1, 1, 1)])])
    picks = {"sobel": Tuned("sobel", 1.0, 0, 0.1, 0.8), "dog": Tuned("dog", 1.0, 0, 0.1, 0.8)}
    assert pick_member(picks, ("sobel", "dog")).operator == "sobel"  # tie: the first member
    assert pick_member(picks, ("laplace3", "log")) is None


def test_held_out_images_are_scored_at_the_tuning_choice():
    """Selection sees only the tuning set: the scale and threshold are frozen, the held-out sweep reuses the grid."""
    scenes = make_scenes("shapes", 6, seed=9, size=48)
    images = [degrade(s.image, 0.0, 0.08, np.random.default_rng(i)) for i, s in enumerate(scenes)]
    tuning = ImageSet(images[:3], [s.edges for s in scenes[:3]])
    held_out = ImageSet(images[3:], [s.edges for s in scenes[3:]])
    result = tune_then_score(Condition("shapes", 0.0, 0.08), tuning, held_out, [("dog", 1.0), ("dog", 2.0)], 8)
    choice = result.tuned["dog"]
    chosen = next(t for t in result.tuning if t.sigma == choice.sigma)
    assert choice.tuning_f == max(t.score.ods[2] for t in result.tuning)
    np.testing.assert_array_equal(result.scoring["dog"].thresholds, chosen.thresholds)
    assert result.scoring["dog"].sigma == choice.sigma
    assert result.scoring["dog"].counts.shape[0] == 3
    # changing the held-out images changes the scores, never the choice
    other = ImageSet(images[:3][::-1], [s.edges for s in scenes[:3]][::-1])
    again = tune_then_score(Condition("shapes", 0.0, 0.08), tuning, other, [("dog", 1.0), ("dog", 2.0)], 8)
    assert again.tuned == result.tuned


def test_task_runner_gives_the_same_results_in_a_process_pool():
    calls = [{"cond": Condition(kind, 0.0, 0.05), "tune_images": 2, "score_images": 2, "size_px": 48,
              "grid": [("dog", 1.0)], "n_thresholds": 5, "tolerance_px": 1.5, "seed": 3}
             for kind in ("shapes", "lines")]
    with TaskRunner(1) as runner:
        local = runner.map(score_condition, calls)
    with TaskRunner(2) as runner:
        pooled = runner.map(score_condition, calls)
    for a, b in zip(local, pooled, strict=True):
        assert a.condition == b.condition
        assert a.tuned == b.tuned
        np.testing.assert_array_equal(a.scoring["dog"].counts, b.scoring["dog"].counts)


def test_gradient_beats_plain_laplacian_on_noisy_shapes():
    """A small end-to-end check of the scorer's direction, at a noise level where the answer is not close."""
    scenes = make_scenes("shapes", 4, seed=5, size=64)
    images = [degrade(s.image, 0.0, 0.1, np.random.default_rng(i)) for i, s in enumerate(scenes)]
    tables = score_dataset(images, [s.edges for s in scenes], [("dog", 1.5), ("log", 1.5)], n_thresholds=15)
    f = {t.operator: t.score.ods[2] for t in tables}
    assert f["dog"] > f["log"] + 0.1


# ------------------------------------------------------------------------------------ the paired test
def _per_image(f_values, n=10):
    """(n_images, 4) counts with the given per-image F (10 detected, 10 true each)."""
    matched = np.round(np.asarray(f_values) * n).astype(int)
    return np.column_stack([matched, np.full(len(matched), n), matched, np.full(len(matched), n)])


def test_permutation_p_value_known_cases():
    a = _per_image([0.9] * 12)
    assert paired_permutation_p(a, a, f_difference, permutations=500, seed=0) == 1.0  # no difference at all
    b = _per_image([0.6] * 12)
    p = paired_permutation_p(a, b, f_difference, permutations=4000, seed=0)
    # only the all-kept and all-swapped arrangements are as extreme: 2 of 4096 equally likely
    assert p == pytest.approx((1 + 4000 * 2 / 4096) / 4001, abs=0.002)
    assert p == paired_permutation_p(a, b, f_difference, permutations=4000, seed=0)  # deterministic
    assert p == paired_permutation_p(b, a, f_difference, permutations=4000, seed=0)  # two-sided
    with pytest.raises(ValueError, match="one non-empty shape"):
        paired_permutation_p(a, b[:3], f_difference, permutations=10, seed=0)


def test_permutation_test_holds_its_level_under_the_null():
    rng = np.random.default_rng(1)
    rejections = 0
    for trial in range(200):
        f_a = rng.uniform(0.5, 0.9, 15)
        a, b = _per_image(f_a + rng.normal(0, 0.05, 15)), _per_image(f_a + rng.normal(0, 0.05, 15))
        rejections += paired_permutation_p(a.clip(0, 10), b.clip(0, 10), f_difference, permutations=200,
                                           seed=trial) < 0.05
    assert rejections / 200 < 0.1  # nominal 5 %; binomial sd at 200 trials is 1.5 %


# ------------------------------------------------------------------------------------ analysis
def _condition_result(kind, noise, gradient_f, laplacian_f):
    """A hand-made condition: sobel/dog vs laplace3/log, one threshold, per-image F given on 20 held-out images."""
    tuning, scoring, tuned = [], {}, {}
    for op, per_image in (("sobel", gradient_f), ("dog", np.asarray(gradient_f) - 0.1),
                          ("laplace3", laplacian_f), ("log", np.asarray(laplacian_f) - 0.1)):
        counts = _per_image(np.clip(per_image, 0, 1))[:, None, :]
        table = SweepTable(op, 1.0, np.array([0.5]), counts, np.full(counts.shape[:2], 0.5))
        tuning.append(table)
        scoring[op] = table
        tuned[op] = tune_operator([table])
    return ConditionResult(Condition(kind, 0.0, noise), tuple(tuning), tuned, scoring)


def test_analysis_decides_with_holm_and_simultaneous_intervals():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.5, 0.7, 20)
    results = [
        _condition_result("shapes", 0.0, base + 0.2, base),  # gradient far ahead on every image
        _condition_result("shapes", 0.2, base, base + 0.2),  # Laplacian far ahead
        _condition_result("lines", 0.0, base, base),  # identical
        _condition_result("lines", 0.2, base + rng.choice([-0.1, 0.1], 20), base),  # noise around zero
    ]
    analysis = analyse_benchmark(results, Resampling(300, 0.95, 0, permutations=2000))
    comparisons = analysis.comparisons
    assert [(c.gradient, c.laplacian) for c in comparisons] == [("sobel", "laplace3")] * 4  # best members
    assert [c.decision for c in comparisons] == [1, -1, 0, 0]
    np.testing.assert_allclose([c.p_holm for c in comparisons], holm_adjust([c.p_value for c in comparisons]))
    assert analysis.comparison_level == pytest.approx(simultaneous_level(0.95, 4))
    assert all(c.difference.level == analysis.comparison_level for c in comparisons)
    assert comparisons[0].difference.estimate == pytest.approx(0.2, abs=0.02)
    # one trend per panel (kind, blur): shapes swings from +0.2 to -0.2, lines does not resolve
    trends = {t.kind: t for t in analysis.trends}
    assert trends["shapes"].direction == -1
    assert (trends["shapes"].low_decision, trends["shapes"].high_decision) == (1, -1)
    assert trend_phrase(trends["shapes"]) == "the lead passes from the gradient to the Laplacian as noise grows"
    assert trends["shapes"].change.estimate == pytest.approx(-0.4, abs=0.03)
    assert trends["lines"].direction == 0
    assert analysis.trend_level == pytest.approx(simultaneous_level(0.95, 2))


def test_face_family_is_chosen_on_half_the_faces_and_compared_on_the_other():
    n = 20
    tuning_half = np.arange(n) % 2 == 0
    lucky = np.where(tuning_half, 0.95, 0.60)  # best on the tuning faces, poor on the others
    steady = np.full(n, 0.80)
    stability = [FaceStability("sobel", 1.0, 0.05, lucky), FaceStability("dog", 1.0, 0.05, steady),
                 FaceStability("log", 1.0, 0.05, np.full(n, 0.70))]
    _, families = analyse_faces(stability, [0.05], Resampling(200, 0.95, 0))
    (face,) = families
    assert face.gradient.operator == "sobel"  # chosen where it looked best ...
    assert face.gradient_agreement == pytest.approx(0.60)  # ... and scored where it was not
    assert face.difference.estimate == pytest.approx(-0.10)
    assert face.difference.sign == -1


# ------------------------------------------------------------------------------------ the verdict rule
def _interval(estimate, half=0.01, level=0.999):
    return Interval(estimate, estimate - half, estimate + half, level, 100, 100)


def _comparison(kind, noise, difference, resolved, blur=0.0):
    return FamilyComparison(Condition(kind, blur, noise), "dog", 1.0, 0.8, "log", 2.0, 0.8 - difference,
                            _interval(difference), 0.001 if resolved else 0.4, 0.004 if resolved else 0.9, 0.05)


def _trend(kind, low, high, change_half=0.01, blur=0.0, decisions=None):
    """A panel whose ends differ by ``low`` and ``high``; both ends resolved unless ``decisions`` says otherwise."""
    low_decision, high_decision = decisions if decisions is not None else (int(np.sign(low)), int(np.sign(high)))
    return NoiseTrend(kind, blur, 0.0, 0.2, low, high, low_decision, high_decision,
                      _interval(high - low, change_half, 0.99))


def _verdict(comparisons, trends=(), faces=(), fallback=True):
    return edge_verdict(comparisons, trends, faces, fallback, comparison_level=0.999, trend_level=0.99)


def test_verdict_when_the_laplacian_wins():
    text = _verdict([_comparison("shapes", n, -0.05, True) for n in (0.0, 0.1)] + [_comparison("lines", 0.0, -0.01,
                                                                                                 False)])
    assert text.startswith("The seed's claim holds here: Laplacian zero-crossings detect edges better than "
                           "gradient + NMS in 2 of 3 conditions")
    assert "the gradient in none" in text
    assert "shapes 0/2/0; lines 0/0/1" in text
    assert "The Laplacian is better on: shapes, blur 0 px, noise 0 (-0.050, CI [-0.060, -0.040])" in text
    assert "median -0.050 over the 3 conditions, from -0.050 (shapes, blur 0 px, noise 0) to -0.010" in text


def test_verdict_when_they_tie():
    text = _verdict([_comparison("shapes", n, d, False) for n, d in ((0.0, 0.01), (0.1, -0.02))])
    assert text.startswith("The benchmark does not separate the two families: in none of the 2 conditions")
    assert "is better on" not in text
    assert "shapes 0/0/2" in text


def test_verdict_when_the_gradient_wins_and_when_it_only_wins_where_resolved():
    text = _verdict([_comparison("shapes", n, 0.1, True) for n in (0.0, 0.1)] + [_comparison("faces", 0, 0, False)])
    assert text.startswith("The seed's claim does not hold here: gradient + NMS detects edges better than Laplacian "
                           "zero-crossings in 2 of 3 conditions")
    partial = _verdict([_comparison("shapes", 0.0, 0.1, True)] + [_comparison("faces", n, 0.0, False)
                                                                     for n in (0.0, 0.1, 0.2)])
    assert partial.startswith("Gradient + NMS is better wherever the benchmark can tell (1 of 4 conditions")
    assert "the other 3 are unresolved, so the seed's claim is contradicted where resolved but not settled" in partial
    lap_partial = _verdict([_comparison("lines", 0.0, -0.1, True)] + [_comparison("faces", n, 0.0, False)
                                                                       for n in (0.0, 0.1)])
    assert lap_partial.startswith("Laplacian zero-crossings are better wherever the benchmark can tell (1 of 3")


def test_verdict_when_each_family_wins_somewhere():
    comparisons = ([_comparison("shapes", n, 0.1, True) for n in np.arange(8) / 10]
                   + [_comparison("lines", 0.0, -0.04, True), _comparison("lines", 0.2, 0.0, False)])
    text = _verdict(comparisons)
    assert text.startswith("Neither family is better everywhere: gradient + NMS is better in 8 of 10 conditions, "
                           "Laplacian zero-crossings in 1")
    assert "The Laplacian is better on: lines, blur 0 px, noise 0 (-0.040" in text  # the smaller side, listed
    assert "Gradient + NMS is better on" not in text


@pytest.mark.parametrize(("low", "high", "decisions", "phrase"), [
    (0.02, 0.20, None, "the gradient's lead grows with noise"),
    (-0.01, 0.20, (0, 1), "the gradient's lead grows with noise"),  # no resolved lead at low noise
    (0.20, 0.05, None, "the gradient's lead shrinks with noise"),
    (0.20, 0.01, (1, 0), "the gradient's lead shrinks with noise"),
    (0.10, -0.10, None, "the lead passes from the gradient to the Laplacian as noise grows"),
    (-0.02, -0.20, None, "the Laplacian's lead grows with noise"),
    (-0.20, -0.05, None, "the Laplacian's lead shrinks with noise"),
    (-0.10, 0.10, None, "the lead passes from the Laplacian to the gradient as noise grows"),
    (-0.10, 0.10, (0, 0), "the difference moves towards the gradient with noise"),  # neither end resolved
    (0.10, -0.10, (0, 0), "the difference moves towards the Laplacian with noise"),
])
def test_trend_phrase_follows_the_numbers(low, high, decisions, phrase):
    trend = _trend("shapes", low, high, decisions=decisions)
    assert trend_phrase(trend) == phrase
    unresolved = _trend("shapes", low, high, change_half=1.0, decisions=decisions)  # an interval across zero
    assert trend_phrase(unresolved) == "no resolved change with noise"


def test_verdict_reports_a_lead_that_shrinks_with_noise():
    comparisons = [_comparison("shapes", 0.0, 0.2, True), _comparison("shapes", 0.2, 0.05, True),
                   _comparison("faces", 0.0, 0.1, True), _comparison("faces", 0.2, 0.1, True)]
    trends = [_trend("shapes", 0.2, 0.05), _trend("faces", 0.1, 0.1, change_half=0.05),
              _trend("shapes", 0.3, 0.1, blur=1.0, decisions=(1, 0))]
    text = _verdict(comparisons, trends)
    assert ("From noise 0 to 0.2 (change of the difference, 99 % simultaneous intervals over the 3 panels): "
            "the gradient's lead shrinks with noise on shapes (blur 0, 1 px) [change -0.200 to -0.150]; "
            "no resolved change with noise on faces (blur 0 px) [change +0.000].") in text
    assert "grows" not in text


def test_verdict_bsds_and_face_sentences():
    bsds = FamilyComparison(Condition("BSDS500", 0.0, 0.0), "sobel", 2.0, 0.55, "log", 3.0, 0.50, _interval(0.05),
                            0.001, 0.002, 0.05)
    face = FaceFamilyComparison(0.05, FaceStability("dog", 1.0, 0.05, np.ones(4)),
                                FaceStability("log", 1.0, 0.05, np.ones(4)), 0.93, 0.90,
                                Interval(0.03, -0.01, 0.07, 0.98, 100, 100))
    text = _verdict([_comparison("shapes", 0.0, 0.1, True), bsds], faces=[face], fallback=False)
    assert ("On BSDS500 photographs (tuned on val, scored on test; matched within 0.0075 x the diagonal against "
            "every annotator): Sobel + NMS (sigma 2) F = 0.550 vs LoG ZC (sigma 3) F = 0.500, difference +0.050, "
            "99.9 % CI [+0.040, +0.060], Holm p = 0.002: gradient better.") in text
    assert "On real faces (Olivetti; no ground truth, so stability under noise 0.05)" in text
    assert "(DoG + NMS, sigma 1) agreed with its clean map at F = 0.930 on the other half vs 0.900" in text
    assert text.endswith("98 % CI [-0.010, +0.070]: the stability difference is unresolved.")
    assert "fallback lfw_subset" in _verdict([], faces=[face])
    assert _verdict([]).startswith("Only one operator family was run")


# ------------------------------------------------------------------------------------ the answer
def _face(difference, low, high, noise=0.05):
    return FaceFamilyComparison(noise, FaceStability("dog", 1.0, noise, np.ones(4)),
                                FaceStability("log", 1.0, noise, np.ones(4)), 0.9, 0.9 - difference,
                                Interval(difference, low, high, 0.98, 100, 100))


def _sentences(text):
    return len(re.findall(r"[.!?](?=\s|$)", text))


ANSWER_CASES = {  # outcome: (comparisons as (kind, noise, difference, resolved), the answer's opening)
    "laplacian": ([("shapes", 0.0, -0.05, True), ("shapes", 0.1, -0.05, True), ("lines", 0.0, -0.01, False)],
                  "Yes: the Laplacian finds edges better in 2 of 3 conditions, the gradient in none; 1 unresolved."),
    "laplacian_partial": ([("lines", 0.0, -0.1, True), ("faces", 0.0, 0.0, False), ("faces", 0.1, 0.0, False)],
                          "Yes, where the benchmark can tell: the Laplacian is better in 1 of 3 conditions, the "
                          "gradient in none, but 2 are unresolved."),
    "tie": ([("shapes", 0.0, 0.01, False), ("shapes", 0.1, -0.02, False)],
            "Not resolved: neither family scores better in any of the 2 conditions"),
    "gradient": ([("shapes", 0.0, 0.1, True), ("shapes", 0.1, 0.1, True)],
                 "No: the gradient finds edges better in 2 of 2 conditions, the Laplacian in none."),
    "gradient_partial": ([("shapes", 0.0, 0.1, True), ("faces", 0.0, 0.0, False), ("faces", 0.1, 0.0, False)],
                         "No, where the benchmark can tell: the gradient is better in 1 of 3 conditions, the Laplacian "
                         "in none, but 2 are unresolved."),
    "mixed": ([("shapes", n / 10, 0.1, True) for n in range(8)] + [("lines", 0.0, -0.04, True),
                                                                   ("lines", 0.2, 0.0, False)],
              "Only in places: the Laplacian is better in 1 of 10 conditions (lines), the gradient in 8; 1 "
              "unresolved."),
    "none": ([], "It cannot be judged: only one operator family was run."),
}


@pytest.mark.parametrize("outcome", list(ANSWER_CASES))
def test_answer_follows_the_verdicts_judgement(outcome):
    cases, opening = ANSWER_CASES[outcome]
    comparisons = [_comparison(*case) for case in cases]
    decisions = [c.decision for c in comparisons]
    assert family_outcome(decisions.count(1), decisions.count(-1), decisions.count(0)) == outcome
    answer = edge_answer(comparisons, (), True)
    assert answer.startswith(opening)
    assert 1 <= _sentences(answer) <= 2
    assert len(answer) <= 300
    # the verdict's head sentence is written from the same judgement
    verdict_openings = {"laplacian": "The seed's claim holds here", "laplacian_partial": "Laplacian zero-crossings are "
                        "better wherever", "tie": "The benchmark does not separate", "gradient": "The seed's claim "
                        "does not hold", "gradient_partial": "Gradient + NMS is better wherever", "mixed": "Neither "
                        "family is better everywhere", "none": "Only one operator family was run"}
    assert _verdict(comparisons).startswith(verdict_openings[outcome])


def test_answers_differ_between_outcomes_and_move_with_the_numbers():
    answers = {o: edge_answer([_comparison(*c) for c in cases], (), True) for o, (cases, _) in ANSWER_CASES.items()}
    assert set(answers) == set(OUTCOMES)
    assert len(set(answers.values())) == len(OUTCOMES)
    # the same outcome with other counts says other numbers: nothing is phrased in advance
    more = [_comparison("shapes", n / 10, 0.1, True) for n in range(5)]
    assert edge_answer(more, (), True).startswith("No: the gradient finds edges better in 5 of 5 conditions")
    # when the Laplacian wins more conditions than the gradient, the smaller (gradient) side's kinds are named
    mostly = [_comparison("lines", n / 10, -0.1, True) for n in range(3)] + [_comparison("textured", 0.0, 0.1, True)]
    assert edge_answer(mostly, (), True) == ("Mostly yes: the Laplacian is better in 3 of 4 conditions, the gradient "
                                             "in 1 (textured).")


@pytest.mark.parametrize(("interval", "bsds_difference", "tail"), [
    ((0.03, 0.01, 0.05), 0.05, "On BSDS500 photographs the gradient is better; on real faces (Olivetti) the "
                                "gradient's edge maps are the more stable under noise."),
    ((-0.03, -0.05, -0.01), -0.05, "On BSDS500 photographs the Laplacian is better; on real faces (Olivetti) the "
                                   "Laplacian's edge maps are the more stable under noise."),
    ((0.03, -0.01, 0.07), 0.0, "On BSDS500 photographs the difference is unresolved; on real faces (Olivetti) "
                               "neither family's edge maps are resolved as the more stable under noise."),
])
def test_answer_second_sentence_reports_bsds_and_the_faces(interval, bsds_difference, tail):
    bsds = _comparison("BSDS500", 0.0, bsds_difference, bsds_difference != 0)
    answer = edge_answer([_comparison("shapes", 0.0, 0.1, True), bsds],
                         [_face(0.0, -0.1, 0.1, 0.02), _face(*interval), _face(0.0, -0.1, 0.1, 0.1)], False)
    assert answer.endswith(tail)  # the middle face noise level, as in the verdict
    assert _sentences(answer) == 2


def test_longest_answer_stays_short():
    kinds = ["shapes", "faces", "textured", "lines", "roofs", "BSDS500"]
    comparisons = ([_comparison(k, n / 10, 0.1, True) for k in kinds[:5] for n in range(9)]
                   + [_comparison(k, 0.5, -0.1, True) for k in kinds] + [_comparison("roofs", 0.9, 0.0, False)] * 10)
    answer = edge_answer(comparisons, [_face(0.0, -0.1, 0.1)], True)
    assert "(shapes, faces, textured, lines, roofs, BSDS500)" in answer
    assert len(answer) <= 300
    assert _sentences(answer) == 2
