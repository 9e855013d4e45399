"""The matching scorer, ODS/OIS, Pratt's FOM and the bootstrap on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from dlplayground.errors import UserInputError
from dlplayground.stats import bootstrap
from dlplayground.studies.edges.analysis import mean_over_images, ods_f_difference
from dlplayground.studies.edges.operators import EdgeResponse
from dlplayground.studies.edges.scenes import MIN_CONTRAST, degrade, make_scenes
from dlplayground.studies.edges.scoring import (
    DatasetScore,
    MatchCounts,
    match_edges,
    ods_f,
    pratt_fom,
    prf,
    score_dataset,
    sweep,
    threshold_grid,
)


def _line(shape=(20, 20), row=10, cols=slice(4, 16)):
    truth = np.zeros(shape, bool)
    truth[row, cols] = True
    return truth


def test_perfect_map():
    truth = _line()
    c = match_edges(truth, truth)
    assert c == MatchCounts(12, 12, 12)
    assert (c.precision, c.recall, c.f_measure) == (1.0, 1.0, 1.0)
    assert pratt_fom(truth, truth) == 1.0


def test_shifted_by_one_pixel():
    truth = _line()
    shifted = np.roll(truth, 1, axis=0)
    assert match_edges(shifted, truth, tolerance_px=1.0).f_measure == 1.0
    assert match_edges(shifted, truth, tolerance_px=1.5).f_measure == 1.0
    assert match_edges(shifted, truth, tolerance_px=0.5) == MatchCounts(0, 12, 12)
    # Pratt: every pixel at distance 1 -> 1 / (1 + 1/9) = 0.9
    assert pratt_fom(shifted, truth) == pytest.approx(0.9)
    # shifted one down and one right: 11 pixels still sit straight below a true one; the end pixel is
    # sqrt(2) = 1.414 px from the nearest truth, inside 1.5 px but outside 1.0 px
    diagonal = np.roll(shifted, 1, axis=1)
    assert match_edges(diagonal, truth, tolerance_px=1.5).matched == 12
    assert match_edges(diagonal, truth, tolerance_px=1.0).matched == 11


def test_empty_maps():
    truth = _line()
    empty = np.zeros_like(truth)
    c = match_edges(empty, truth)
    assert c == MatchCounts(0, 0, 12)
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
    assert c == MatchCounts(12, 24, 12)
    assert c.f_measure == pytest.approx(2 / 3)
    # Pratt: 12 exact + 12 at distance 1, normalised by the larger count (24)
    assert pratt_fom(thick, truth) == pytest.approx((12 + 12 * 0.9) / 24)


def test_maximum_matching_not_greedy():
    """A detection between two true pixels must go to the one that has no other partner."""
    truth = np.zeros((10, 10), bool)
    truth[5, 3] = truth[5, 5] = True
    detected = np.zeros_like(truth)
    detected[5, 4] = True  # within 1 px of both truths
    detected[5, 6] = True  # within 1 px of (5, 5) only
    assert match_edges(detected, truth, tolerance_px=1.0).matched == 2


def test_partial_detection_known_values():
    truth = _line()  # 12 pixels
    detected = np.zeros_like(truth)
    detected[10, 4:10] = True  # 6 right
    detected[2, 2:6] = True  # 4 far away
    c = match_edges(detected, truth)
    assert c == MatchCounts(6, 10, 12)
    assert c.precision == pytest.approx(0.6)
    assert c.recall == pytest.approx(0.5)
    assert c.f_measure == pytest.approx(2 * 0.6 * 0.5 / 1.1)


def test_bad_scorer_input():
    with pytest.raises(UserInputError, match="same shape"):
        match_edges(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(UserInputError, match="tolerance"):
        match_edges(np.zeros((4, 4)), np.zeros((4, 4)), tolerance_px=-1)
    with pytest.raises(UserInputError, match="tolerance"):
        match_edges(np.zeros((4, 4)), np.zeros((4, 4)), tolerance_px=float("nan"))
    with pytest.raises(UserInputError, match="empty dataset"):
        score_dataset([], [], [("sobel", 1.0)], 5)
    with pytest.raises(UserInputError, match="ground-truth"):
        score_dataset([np.zeros((8, 8))], [], [("sobel", 1.0)], 5)
    with pytest.raises(UserInputError, match="NaN"):
        score_dataset([np.full((8, 8), np.nan)], [np.zeros((8, 8), bool)], [("sobel", 1.0)], 5)
    with pytest.raises(ValueError, match="at least one observation"):  # bootstrapping an empty dataset
        bootstrap(np.zeros((0, 4, 3), dtype=np.int64), ods_f)


def test_sweep_and_ods_ois_on_a_hand_made_strength_map():
    truth = _line()
    strength = np.zeros(truth.shape)
    strength[10, 4:16] = 1.0  # the true line, strong
    strength[3, 3:9] = 0.5  # a weaker spurious line
    response = EdgeResponse("hand", 1.0, strength)
    counts, fom = sweep(response, truth, np.array([0.25, 0.75, 2.0]))
    np.testing.assert_array_equal(counts, [[12, 18, 12], [12, 12, 12], [0, 0, 12]])
    assert fom[1] == pytest.approx(1.0)
    assert fom[2] == 0.0
    assert fom[0] < 1.0
    # second image: only the weak line is right
    truth2 = np.zeros_like(truth)
    truth2[3, 3:9] = True
    counts2, _ = sweep(response, truth2, np.array([0.25, 0.75, 2.0]))
    score = DatasetScore(np.stack([counts, counts2]), np.array([0.25, 0.75, 2.0]))
    # summed: t=.25 -> 18 matched / 36 detected / 18 true -> F=2/3; t=.75 -> 12/24/18 -> P=.5 R=.667 F=.571
    assert score.ods_index == 0
    assert score.ods[2] == pytest.approx(2 / 3)
    # OIS: image 1 at t=.75 (F=1), image 2 at t=.25 (F = 2*(6/18)*1/(6/18+1) = 0.5) -> 18 / 30 / 18
    p, r, f = score.ois
    assert (p, r) == (pytest.approx(18 / 30), 1.0)
    assert f == pytest.approx(2 * 0.6 / 1.6)
    np.testing.assert_allclose(score.per_image_f_at_ods, [0.8, 0.5])


def test_prf_conventions_vectorised():
    p, r, f = prf(np.array([[0, 0, 5], [0, 3, 0], [0, 0, 0], [2, 4, 4]]))
    np.testing.assert_allclose(p, [1, 0, 1, 0.5])
    np.testing.assert_allclose(r, [0, 1, 1, 0.5])
    np.testing.assert_allclose(f, [0, 0, 1, 0.5])


def test_threshold_grid_spans_the_candidates():
    strengths = [np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[4.0, 0.0], [0.0, 5.0]])]
    grid = threshold_grid(strengths, 10)
    assert grid[0] == 1.0  # quantile 0: every candidate kept
    assert grid[-1] <= 5.0
    assert np.all(np.diff(grid) >= 0)
    assert np.isinf(threshold_grid([np.zeros((3, 3))], 4)).all()  # no candidates: nothing ever detected


def _random_counts(rng, n_images=30, n_thresholds=4):
    counts = np.zeros((n_images, n_thresholds, 3), dtype=np.int64)
    counts[:, :, 2] = 100
    counts[:, :, 1] = 100
    counts[:, :, 0] = rng.integers(60, 90, size=(n_images, n_thresholds))
    return counts


def test_bootstrap_is_seeded_and_covers_the_point_estimate():
    rng = np.random.default_rng(0)
    counts = _random_counts(rng)
    boot = bootstrap(counts, ods_f, resamples=500, seed=1)
    # every resample holds as many images as the dataset
    sizes = bootstrap(counts, lambda c: np.full(c.shape[0], c.shape[1], dtype=float), resamples=500, seed=1)
    assert sizes.distribution.tolist() == [30.0] * 500
    np.testing.assert_array_equal(boot.distribution, bootstrap(counts, ods_f, resamples=500, seed=1).distribution)
    point = DatasetScore(counts, np.arange(4.0)).ods[2]
    assert boot.estimate == pytest.approx(point)
    assert np.quantile(boot.distribution, 0.025) < point < np.quantile(boot.distribution, 0.975) + 1e-9
    assert boot.low < point < boot.high + 1e-9
    values = rng.normal(size=30)
    assert bootstrap(values, mean_over_images, resamples=500, seed=1).distribution.mean() == pytest.approx(
        values.mean(), abs=0.05)


def test_ods_f_repicks_the_threshold_in_every_resample():
    """On a stack of resampled datasets, each gets the F of its own best threshold (the ODS definition)."""
    # image 0 is right only at threshold 0, image 1 only at threshold 1
    counts = np.array([[[10, 10, 10], [0, 0, 10]],
                       [[0, 40, 10], [10, 10, 10]]], dtype=np.int64)
    stack = counts[np.array([[0, 0], [1, 1], [0, 1]])]  # three "resamples" of the two images
    values = ods_f(stack)
    expected = [DatasetScore(s, np.arange(2.0)).ods[2] for s in stack]
    np.testing.assert_allclose(values, expected)
    assert values[0] == values[1] == 1.0  # each single-image dataset at its own threshold
    assert DatasetScore(stack[0], np.arange(2.0)).ods_index != DatasetScore(stack[1], np.arange(2.0)).ods_index
    assert float(ods_f(counts)) == pytest.approx(DatasetScore(counts, np.arange(2.0)).ods[2])


def test_paired_difference_shares_the_resamples_of_separate_calls():
    """One statistic of both operators = the difference of two calls with the same seed (same images drawn)."""
    rng = np.random.default_rng(2)
    a, b = _random_counts(rng), _random_counts(rng)
    joint = bootstrap((a, b), ods_f_difference, resamples=300, seed=4)
    separate = (bootstrap(a, ods_f, resamples=300, seed=4).distribution
                - bootstrap(b, ods_f, resamples=300, seed=4).distribution)
    np.testing.assert_allclose(joint.distribution, separate)
    assert joint.estimate == pytest.approx(float(ods_f(a) - ods_f(b)))


def test_scenes_have_exact_thin_truth_and_real_steps():
    for kind in ("shapes", "faces"):
        scene = make_scenes(kind, 1, seed=0, size=64)[0]
        assert scene.edges.any()
        assert not scene.edges[0].any()
        assert not scene.edges[:, -1].any()
        # truth = label changes to the right/below (away from the frame)
        np.testing.assert_array_equal(scene.edges[1:-1, 1:-1], (
            (scene.labels[1:-1, 1:-1] != scene.labels[1:-1, 2:]) | (scene.labels[1:-1, 1:-1] != scene.labels[2:, 1:-1])
        ))
    shapes = make_scenes("shapes", 3, seed=1, size=64)
    for scene in shapes:
        levels = {round(r.value, 6) for r in scene.regions}
        values = sorted(levels)
        assert all(b - a >= MIN_CONTRAST - 1e-9 for a, b in zip(values, values[1:], strict=False))
    with pytest.raises(UserInputError, match="scene kind"):
        make_scenes("clouds", 1, 0)
    with pytest.raises(UserInputError, match=">= 0"):
        degrade(np.zeros((8, 8)), -1.0, 0.0, np.random.default_rng(0))


def test_gradient_beats_plain_laplacian_on_noisy_shapes():
    """A small end-to-end check of the study's direction, at a noise level where the answer is not close."""
    scenes = make_scenes("shapes", 4, seed=5, size=64)
    images = [degrade(s.image, 0.0, 0.1, np.random.default_rng(i)) for i, s in enumerate(scenes)]
    tables = score_dataset(images, [s.edges for s in scenes], [("dog", 1.5), ("log", 1.5)], n_thresholds=15)
    f = {t.operator: t.score.ods[2] for t in tables}
    assert f["dog"] > f["log"] + 0.1


def test_task_runner_gives_the_same_results_in_a_process_pool():
    from dlplayground.studies.edges.evaluation import Condition, TaskRunner, score_condition

    calls = [{"cond": Condition(kind, 0.0, 0.05), "images_per_kind": 2, "size_px": 48, "grid": [("dog", 1.0)],
              "n_thresholds": 5, "tolerance_px": 1.5, "seed": 3} for kind in ("shapes", "faces")]
    with TaskRunner(1) as runner:
        local = runner.map(score_condition, calls)
    with TaskRunner(2) as runner:
        pooled = runner.map(score_condition, calls)
    for a, b in zip(local, pooled, strict=True):
        assert a.condition == b.condition
        np.testing.assert_array_equal(a.tables[0].counts, b.tables[0].counts)
        np.testing.assert_array_equal(a.tables[0].fom, b.tables[0].fom)


# ------------------------------------------------------------------------------- analysis and verdict
def _table(operator, sigma, f_counts):
    """A one-image, one-threshold sweep with the given (matched, detected, true) counts."""
    from dlplayground.studies.edges.scoring import SweepTable

    counts = np.array([[f_counts]] * 3, dtype=np.int64)  # three identical images
    return SweepTable(operator, sigma, np.array([0.5]), counts, np.full((3, 1), 0.5))


def test_analysis_picks_best_scales_families_and_pairs_intervals():
    from dlplayground.studies.edges.analysis import Resampling, analyse_condition
    from dlplayground.studies.edges.evaluation import Condition, ConditionResult

    tables = (_table("sobel", 0.0, (8, 10, 10)), _table("laplace3", 0.0, (9, 10, 10)),
              _table("sobel", 1.0, (9, 9, 10)), _table("laplace3", 1.0, (5, 10, 10)), _table("log", 1.0, (7, 10, 10)),
              _table("canny", 1.0, (10, 10, 10)))
    result = ConditionResult(Condition("shapes", 0.0, 0.0), tables)
    a = analyse_condition(result, Resampling(resamples=100, level=0.95, seed=0))
    assert {op: s.sigma for op, s in a.scores.items()} == {"sobel": 1.0, "laplace3": 0.0, "log": 1.0, "canny": 1.0}
    assert [s.operator for s in a.ranked] == ["canny", "sobel", "laplace3", "log"]
    assert (a.family.first.operator, a.family.second.operator) == ("sobel", "laplace3")
    expected = a.scores["sobel"].ods_f - a.scores["laplace3"].ods_f
    assert a.family.difference.estimate == pytest.approx(expected)
    # identical images: every resample is the dataset itself, so the interval collapses on the estimate
    assert a.family.difference.low == pytest.approx(expected)
    assert a.family.difference.high == pytest.approx(expected)
    assert (a.lead.first.operator, a.lead.second.operator) == ("canny", "sobel")
    assert [m.sigma for m in a.matched_scales] == [0.0, 1.0]
    assert a.matched_scales[0].family.first.operator == "sobel"
    assert a.matched_scales[1].family.second.operator == "log"  # the better Laplacian at sigma 1
    assert a.scores["sobel"].fom_interval.estimate == pytest.approx(0.5)


def test_matched_scale_without_both_families_has_no_difference():
    from dlplayground.studies.edges.analysis import Resampling, analyse_condition
    from dlplayground.studies.edges.evaluation import Condition, ConditionResult

    tables = (_table("sobel", 0.0, (8, 10, 10)), _table("log", 1.0, (7, 10, 10)))
    a = analyse_condition(ConditionResult(Condition("faces", 0.0, 0.1), tables), Resampling(100, 0.95, 0))
    assert all(m.family is None for m in a.matched_scales)
    assert a.family is not None  # at their best scales both families are there


def _comparison(kind, noise, gap, low, high):
    from dlplayground.stats import Interval
    from dlplayground.studies.edges.analysis import PairedComparison
    from dlplayground.studies.edges.evaluation import Condition

    grad, lap = _table("dog", 1.0, (9, 10, 10)), _table("log", 1.0, (9, 10, 10))
    return Condition(kind, 0.0, noise), PairedComparison(grad, lap, Interval(gap, low, high, 0.95, 100, 100))


@pytest.mark.parametrize(
    ("signs", "head"),
    [
        ([1, 1, 0], "The seed's claim does not hold: the gradient is the better"),
        ([-1, 0], "The seed's claim holds on this benchmark"),
        ([1, 1, -1], "does not hold overall"),
        ([-1, -1, 1], "holds in most conditions, but not all"),
        ([1, -1, 0], "does not separate"),
        ([0, 0], "does not separate"),
    ],
)
def test_verdict_rule_follows_the_counts(signs, head):
    from dlplayground.studies.edges.verdict import FamilyTally, edge_verdict

    bounds = {1: (0.01, 0.05), -1: (-0.05, -0.01), 0: (-0.01, 0.01)}
    comparisons = [_comparison("shapes", 0.1 * i, 0.03 * s, *bounds[s]) for i, s in enumerate(signs)]
    tally = FamilyTally(comparisons)
    assert (tally.gradient_wins, tally.laplacian_wins) == (signs.count(1), signs.count(-1))
    verdict = edge_verdict(tally, [], [0.1 * i for i in range(len(signs))], face_fallback=True)
    assert head in verdict.split(". ")[0]  # the head line
    assert f"above zero in {signs.count(1)}, the Laplacian won in {signs.count(-1)}" in verdict
    assert ("The Laplacian won only on" in verdict) == (-1 in signs)


def test_verdict_without_both_families():
    from dlplayground.studies.edges.verdict import FamilyTally, edge_verdict

    assert edge_verdict(FamilyTally([]), [], [0.0], face_fallback=False).startswith("Only one operator family")
