"""Eigenfaces study parts on known answers: the variance rule, image statistics, matching without leakage, the
grouped splits, face space, and the per-fold summaries (spread, within/cross/gap)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from dlplayground.errors import UserInputError
from dlplayground.stats import simultaneous_level
from dlplayground.studies.eigenfaces.classifiers import eigenface_search, fit_search_and_score, inner_grids
from dlplayground.studies.eigenfaces.config import SearchGrids
from dlplayground.studies.eigenfaces.evaluation import spread, summarise_method
from dlplayground.studies.eigenfaces.face_space import FaceSpace
from dlplayground.studies.eigenfaces.images import FACE, FACES, NONFACE, LabelledImages, standardise_images
from dlplayground.studies.eigenfaces.matching import fold_negatives, match_statistics
from dlplayground.studies.eigenfaces.shortcut import SHORTCUT_FEATURES, shortcut_features
from dlplayground.studies.eigenfaces.splits import grouped_splits
from dlplayground.studies.eigenfaces.transfer import ALL_SOURCES
from dlplayground.studies.eigenfaces.variance import (
    fit_whitened_pca,
    max_components_in_cv,
    n_components_for_variance,
    variance_curve,
)


# ----------------------------------------------------------------------------- explained-variance rule
def _spectrum(ratios: list[float], n: int = 40, dims: int = 10) -> np.ndarray:
    """``n`` points in ``dims`` dimensions whose PCA explained-variance ratios are exactly ``ratios``."""
    rng = np.random.default_rng(5)
    centred = rng.normal(size=(n, dims))
    centred -= centred.mean(axis=0)
    basis = np.linalg.qr(centred)[0][:, :len(ratios)]  # orthonormal, centred columns
    return basis * np.sqrt(ratios) @ np.linalg.qr(rng.normal(size=(dims, dims)))[0][:len(ratios)]


@pytest.mark.parametrize(
    ("target", "expected"), [(0.49, 1), (0.79, 2), (0.81, 3), (0.94, 3), (0.96, 4), (1.0, 4)],
)
def test_n_components_for_variance_known_answers(target: float, expected: int) -> None:
    X = _spectrum([0.5, 0.3, 0.15, 0.05])
    np.testing.assert_allclose(PCA().fit(X).explained_variance_ratio_[:4], [0.5, 0.3, 0.15, 0.05])
    # 1.0 keeps the 4 real components, not the 6 more that only carry floating-point round-off
    assert n_components_for_variance(X, target) == expected
    assert fit_whitened_pca(X, target).n_components_ == expected


def test_n_components_for_variance_rejects_bad_targets() -> None:
    X = _spectrum([1.0])
    with pytest.raises(ValueError, match="target"):
        n_components_for_variance(X, 0.0)
    with pytest.raises(ValueError, match="target"):
        fit_whitened_pca(X, 1.5)


def test_pca_component_count_matches_the_explained_variance_rule() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 40)) * np.linspace(5, 0.1, 40)  # decaying spectrum
    for target in (0.5, 0.8, 0.9, 0.95, 0.99):
        curve = variance_curve(X, target)
        s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)  # independent answer from the singular values
        cumulative = np.cumsum(s**2) / np.sum(s**2)
        k = curve.n_components
        assert cumulative[k - 1] >= target - 1e-12
        assert k == 1 or cumulative[k - 2] < target
        np.testing.assert_allclose(curve.cumulative, cumulative[:len(curve.ratios)])
    # the classifier's PCA is whitened: unit variance per kept component
    pca = fit_whitened_pca(X, 0.9)
    np.testing.assert_allclose(pca.transform(X).std(axis=0, ddof=1), 1.0, rtol=1e-6)


def test_component_cap_fits_every_cv_fold() -> None:
    assert max_components_in_cv(225, 576, 3) == 148  # 225 - 75 - 2
    assert max_components_in_cv(1000, 64, 5) == 64


def test_eigenface_search_chooses_a_family_by_inner_cv() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)  # linearly separable
    grids = SearchGrids.quick()
    fitted = fit_search_and_score(eigenface_search(5, grids, 0), X[:40], y[:40], X[40:])
    assert fitted.params["family"] in {"logistic", "SVC"}
    assert fitted.scores.shape == (20,)
    assert 0.5 < fitted.cv_roc_auc <= 1.0
    assert np.mean((fitted.scores > 0) == y[40:]) > 0.8
    assert inner_grids(grids, np.array([0, 0, 0, 1, 1])).folds == 2  # fewer folds than the smaller class


# ------------------------------------------------------------------------------------- image statistics
def test_standardise_images() -> None:
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(5, 6, 6))
    images[4] = 0.3  # flat: floored, not divided by zero
    X = standardise_images(images)
    assert X.shape == (5, 36)
    np.testing.assert_allclose(X.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(X[:4].std(axis=1), 1.0)
    np.testing.assert_allclose(X[4], 0.0, atol=1e-12)


def test_shortcut_features_known_values() -> None:
    flat = np.full((1, 8, 8), 0.5)
    checker = (np.indices((8, 8)).sum(axis=0) % 2).astype(float)[None]
    feats = dict(zip(SHORTCUT_FEATURES, shortcut_features(np.concatenate([flat, checker])).T, strict=True))
    assert feats["mean"].tolist() == pytest.approx([0.5, 0.5])
    assert feats["std"].tolist() == pytest.approx([0.0, 0.5])
    assert feats["sharpness"].tolist() == pytest.approx([0.0, 1.0])
    assert feats["entropy"].tolist() == pytest.approx([0.0, 1.0])
    assert feats["dark_fraction"].tolist() == pytest.approx([0.0, 0.5])
    assert feats["bright_fraction"].tolist() == pytest.approx([0.0, 0.5])


def test_labelled_images_tie_the_face_source_to_the_face_label() -> None:
    images = np.zeros((2, 4, 4))
    shapes = np.full((2, 2), 4)
    ok = LabelledImages(images, np.array([FACE, NONFACE]), ("a", "b"), shapes, (FACES, "x"), ("g1", "g2"))
    assert ok.negative_sources == ("x",)
    with pytest.raises(ValueError, match="exactly the face images"):
        LabelledImages(images, np.array([FACE, NONFACE]), ("a", "b"), shapes, ("x", FACES), ("g1", "g2"))
    with pytest.raises(ValueError, match="one entry per image"):
        LabelledImages(images, np.array([FACE, NONFACE]), ("a", "b"), shapes, (FACES, "x"), ("g1",))


# -------------------------------------------------------------------------------------- matching, leakage
def test_matching_picks_candidates_that_look_like_faces() -> None:
    rng = np.random.default_rng(2)
    faces = rng.normal(0, 1, size=(50, 3))
    near = rng.normal(0, 1, size=(200, 3))
    far = rng.normal(6, 1, size=(200, 3))
    chosen = match_statistics(faces, np.concatenate([near, far]), 100, rng)
    assert len(chosen) == len(set(chosen.tolist())) == 100
    assert np.mean(chosen < 200) > 0.95
    assert match_statistics(faces, near[:30], 100, rng).tolist() == list(range(30))  # too few: all


def _fold_fixture():
    """20 faces (10 train, 10 test) and a 200-image pool split 100/100; pool statistics spread over [-5, 5]."""
    rng = np.random.default_rng(9)
    sources = np.array([FACES] * 20 + ["pool"] * 200, dtype=object)
    stats = np.concatenate([rng.normal(0, 0.3, size=(20, 2)), rng.uniform(-5, 5, size=(200, 2))])
    train = np.r_[np.arange(10), np.arange(20, 120)]
    test = np.r_[np.arange(10, 20), np.arange(120, 220)]
    return sources, stats, train, test


def test_fold_negatives_keep_the_quota_and_match_the_training_faces() -> None:
    sources, stats, train, test = _fold_fixture()
    kept_train, kept_test = fold_negatives(sources, stats, train, test, ratio=2.0, match=True,
                                           rng=np.random.default_rng(0), faces=FACES)
    assert set(kept_train) <= set(train)
    assert set(kept_test) <= set(test)
    assert [np.sum(sources[kept] == "pool") for kept in (kept_train, kept_test)] == [20, 20]
    assert [np.sum(sources[kept] == FACES) for kept in (kept_train, kept_test)] == [10, 10]
    # matched non-faces sit near the faces (|stat| small); a random pick would spread over [-5, 5]
    assert np.abs(stats[kept_train[sources[kept_train] == "pool"]]).mean() < 1.0
    random_train, _ = fold_negatives(sources, stats, train, test, ratio=2.0, match=False,
                                     rng=np.random.default_rng(0), faces=FACES)
    assert np.abs(stats[random_train[sources[random_train] == "pool"]]).mean() > 1.5


def test_fold_negatives_never_look_at_the_test_faces() -> None:
    """Leakage check: moving the test faces' statistics anywhere changes no selected non-face."""
    sources, stats, train, test = _fold_fixture()
    before = fold_negatives(sources, stats, train, test, ratio=2.0, match=True, rng=np.random.default_rng(0),
                            faces=FACES)
    moved = stats.copy()
    moved[10:20] = 4.0  # the test faces now look like one corner of the pool
    after = fold_negatives(sources, moved, train, test, ratio=2.0, match=True, rng=np.random.default_rng(0),
                           faces=FACES)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    # ... whereas moving the training faces does change the selection: the check can fail
    moved = stats.copy()
    moved[:10] = 4.0
    changed = fold_negatives(sources, moved, train, test, ratio=2.0, match=True, rng=np.random.default_rng(0),
                             faces=FACES)
    assert not np.array_equal(before[0], changed[0])


# ----------------------------------------------------------------------------------------- grouped splits
def test_grouped_splits_keep_groups_together_and_test_every_source() -> None:
    # 12 subjects x 3 faces; a negative source cut from the faces (same groups); patches from 6 photographs
    faces = [f"subject {i // 3}" for i in range(36)]
    crops = [f"subject {i}" for i in range(12)]
    patches = [f"photo {i % 6}" for i in range(30)]
    sources = np.array([FACES] * 36 + ["crops"] * 12 + ["patches"] * 30, dtype=object)
    groups = np.array(faces + crops + patches, dtype=object)
    splits = grouped_splits(sources, groups, folds=3, repeats=2, seed=0)
    assert [(s.repeat, s.fold) for s in splits] == [(r, f) for r in range(2) for f in range(3)]
    for split in splits:
        assert not set(groups[split.train]) & set(groups[split.test])  # no subject or photograph on both sides
        assert set(sources[split.test]) == {FACES, "crops", "patches"}
        assert len(np.intersect1d(split.train, split.test)) == 0
        assert len(split.train) + len(split.test) == len(sources)
    for repeat in range(2):  # each repeat tests every image exactly once
        tested = np.concatenate([s.test for s in splits if s.repeat == repeat])
        assert sorted(tested.tolist()) == list(range(len(sources)))
    assert any(not np.array_equal(a.test, b.test) for a, b in zip(splits[:3], splits[3:], strict=True))
    again = grouped_splits(sources, groups, folds=3, repeats=2, seed=0)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(splits, again, strict=True))


def test_grouped_splits_refuse_a_source_with_too_few_groups() -> None:
    sources = np.array([FACES] * 10 + ["patches"] * 10, dtype=object)
    groups = np.array([f"f{i}" for i in range(10)] + ["photo a", "photo b"] * 5, dtype=object)
    with pytest.raises(UserInputError, match="'patches' has only 2 groups"):
        grouped_splits(sources, groups, folds=3, repeats=1, seed=0)


# -------------------------------------------------------------------------------------------- face space
def test_face_space_separates_a_subspace() -> None:
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(50, 5)))[0].T  # faces live in a 5-D subspace of R^50
    faces = rng.normal(size=(80, 5)) @ basis * 3 + rng.normal(0, 0.05, size=(80, 50))
    others = rng.normal(size=(80, 50))
    space = FaceSpace.fit(faces, 0.95)
    assert space.curve.n_components <= 6
    assert space.score(faces).min() > space.score(others).max()


# -------------------------------------------------------------------------------------------- summaries
def test_spread_is_the_percentile_interval_of_the_folds() -> None:
    values = np.linspace(0.6, 1.0, 41)
    s = spread(values, 0.9)
    assert s.mean == pytest.approx(0.8)
    assert (s.low, s.high) == pytest.approx((0.62, 0.98))
    assert spread([0.7, np.nan, 0.9], 0.95).mean == pytest.approx(0.8)  # an undefined fold is left out


def test_summarise_method_known_within_cross_and_gap() -> None:
    sources = ("a", "b", "c")
    trains = (*sources, ALL_SOURCES)
    folds = 4
    auc = np.empty((4, 3, folds))
    # within-source 0.9 + fold jitter; cross-source 0.6 + the same jitter: the paired gap is exactly 0.3
    jitter = np.array([0.0, 0.02, -0.02, 0.01])
    for i in range(4):
        for j in range(3):
            auc[i, j] = (0.9 if i == j or i == 3 else 0.6) + jitter
    m = summarise_method("clf", auc, trains, sources, 0.95)
    assert m.within.mean == pytest.approx(0.9 + jitter.mean())
    assert m.cross.mean == pytest.approx(0.6 + jitter.mean())
    np.testing.assert_allclose(m.gap.values, 0.3)
    assert (m.gap.low, m.gap.high) == pytest.approx((0.3, 0.3))
    assert set(m.cross_cells) == {(a, b) for a in sources for b in sources if a != b}
    assert all(cell.level == pytest.approx(simultaneous_level(0.95, 6)) for cell in m.cross_cells.values())
    assert m.pooled["b"].mean == pytest.approx(0.9 + jitter.mean())
    assert m.worst_cross[1].mean == pytest.approx(0.6 + jitter.mean())
    single = summarise_method("clf", auc[[0, 3]][:, :1], ("a", ALL_SOURCES), ("a",), 0.95)
    assert (single.cross, single.gap, single.cross_cells) == (None, None, {})
    with pytest.raises(ValueError, match="expected"):
        summarise_method("clf", auc, trains[:3], sources, 0.95)
