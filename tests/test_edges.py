"""Edge operators and scenes: each operator finds a square's edges at the right place, our maps match
scikit-image's, round-off never makes a candidate, and every scene kind has the ground truth it claims."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.feature import canny

from dlplayground.errors import UserInputError
from dlplayground.studies.edges.evaluation import Condition, condition_data
from dlplayground.studies.edges.matching import match_edges
from dlplayground.studies.edges.operators import (
    FAMILY_MEMBERS,
    OPERATORS,
    STRENGTH_FLOOR,
    check_image,
    check_image_stack,
    edge_response,
    non_maximum_suppression,
    operator_grid,
    zero_crossings,
)
from dlplayground.studies.edges.scenes import MIN_CONTRAST, SCENE_KINDS, degrade, make_scenes
from dlplayground.studies.edges.scoring import threshold_grid

ALL_PAIRS = [(op, s) for s in (0.0, 1.0, 2.0) for op in OPERATORS if s > 0 or OPERATORS[op].allows_unsmoothed]


def _square(size=48, lo=12, hi=36, noise=0.0, seed=0):
    """A bright square on a dark ground; its true boundary is the ring between pixels lo-1|lo and hi-1|hi."""
    image = np.full((size, size), 0.2)
    image[lo:hi, lo:hi] = 0.8
    if noise:
        image = image + np.random.default_rng(seed).normal(0, noise, image.shape)
    # truth: the inner boundary ring of the square (the tolerance absorbs inner vs outer side)
    truth = np.zeros((size, size), bool)
    truth[lo:hi, lo:hi] = True
    truth &= ~ndi.binary_erosion(truth)
    return image, truth


def _strong_edges(op, sigma, image):
    response = edge_response(image, op, sigma)
    return response.edges(0.3 * response.strength.max())


@pytest.mark.parametrize(("op", "sigma"), ALL_PAIRS)
def test_each_operator_finds_the_square_at_the_right_place(op, sigma):
    image, truth = _square()
    edges = _strong_edges(op, sigma, image)
    distance = ndi.distance_transform_edt(~truth)
    # every detected pixel lies within 1.5 px of the true boundary (no displaced or spurious edges) ...
    assert edges.any()
    assert distance[edges].max() <= 1.5
    # ... and the boundary is found almost everywhere, thin (one-to-one F high); corners may round off at sigma 2
    counts = match_edges(edges, truth, tolerance_px=1.5)
    assert counts.recall >= (0.9 if sigma < 2 else 0.8)
    assert counts.precision >= 0.9
    assert not edges[:10].any()  # nothing inside flat areas
    assert not edges[20:28, 20:28].any()


@pytest.mark.parametrize(("op", "sigma"), [("dog", 2.0), ("log", 2.0), ("canny", 2.0), ("sobel", 1.0)])
def test_noisy_square_still_found(op, sigma):
    image, truth = _square(noise=0.05, seed=3)
    response = edge_response(image, op, sigma)
    best = max(match_edges(response.edges(t), truth).f_measure
               for t in np.quantile(response.strength[response.strength > 0], np.linspace(0, 0.99, 25)))
    assert best >= 0.8


def test_gradient_nms_is_one_pixel_thin_on_a_pixel_aligned_step():
    image = np.zeros((20, 20))
    image[:, 10:] = 1.0
    for op in ("sobel", "scharr", "dog"):
        edges = _strong_edges(op, 1.0 if op == "dog" else 0.0, image)
        cols = np.nonzero(edges[5])[0]
        assert cols.tolist() in ([9], [10]), op  # exactly one pixel per row, next to the step


def test_zero_crossing_marks_the_pixel_nearer_zero():
    lap = np.zeros((5, 7))
    lap[:, :3] = 1.0
    lap[:, 3] = 0.2  # nearer zero than its right neighbour
    lap[:, 4:] = -1.0
    strength = zero_crossings(lap)
    assert np.all(strength[:, 3] == pytest.approx(1.2))
    assert not strength[:, [0, 1, 2, 4, 5, 6]].any()


def test_zero_crossing_through_an_exact_zero():
    lap = np.zeros((5, 7))
    lap[:, :3] = 1.0
    lap[:, 4:] = -1.0  # column 3 is exactly 0 between opposite signs
    strength = zero_crossings(lap)
    assert np.all(strength[:, 3] == pytest.approx(1.0))


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_our_canny_equals_skimage_canny_pixel_for_pixel(sigma):
    for kind in SCENE_KINDS:
        scene = make_scenes(kind, 1, seed=4, size=64)[0]
        image = degrade(scene.image, 0.0, 0.05, np.random.default_rng(0))
        ours = edge_response(image, "canny", sigma)
        for high in np.quantile(ours.strength[ours.strength > 0], [0.3, 0.7, 0.95]):
            ref = canny(image, sigma=sigma, low_threshold=0.4 * high, high_threshold=high)
            np.testing.assert_array_equal(ours.edges(high), ref)


def test_nms_with_canny_ties_matches_skimage_nms():
    rng = np.random.default_rng(1)
    image = ndi.gaussian_filter(rng.random((40, 40)), 1.5)
    gy, gx = ndi.sobel(image, axis=0), ndi.sobel(image, axis=1)
    ours = non_maximum_suppression(gy, gx, keep_ties=True)
    ours[[0, -1], :] = 0
    ours[:, [0, -1]] = 0
    # skimage's Canny with sigma ~ 0 and zero thresholds keeps every NMS maximum of the Sobel magnitude
    ref = canny(image, sigma=1e-6, low_threshold=0.0, high_threshold=0.0, mode="nearest")
    assert (ours > 0).sum() > 50
    np.testing.assert_array_equal(ours > 0, ref)


def test_gradient_operators_agree_with_skimage_canny_on_clean_shapes():
    scene = make_scenes("shapes", 1, seed=2, size=64)[0]
    ref = canny(scene.image, sigma=1.0, low_threshold=0.02, high_threshold=0.05)
    for op in ("sobel", "scharr", "dog"):
        ours = _strong_edges(op, 1.0, scene.image)
        assert match_edges(ours, ref, tolerance_px=1.0).f_measure > 0.85, op


def test_threshold_for_count_hits_the_target():
    image, _ = _square(noise=0.05)
    for op in ("sobel", "log"):
        r = edge_response(image, op, 1.0)
        assert r.edges(r.threshold_for_count(60)).sum() == 60
    # Canny's hysteresis moves in whole linked chains: the count lands near the target, not on it
    r = edge_response(image, "canny", 1.0)
    for target in (30, 60, 90):
        count = r.edges(r.threshold_for_count(target)).sum()
        reachable = {int(r.edges(t).sum()) for t in np.linspace(0, r.strength.max(), 400)}
        assert abs(count - target) <= min(abs(c - target) for c in reachable), target


def test_flat_image_has_no_edges():
    for op, sigma in ALL_PAIRS:
        response = edge_response(np.full((16, 16), 0.5), op, sigma)
        assert not response.strength.any()
        assert not response.edges(0.0).any()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((4, 4, 3)), "2-D grey-scale"),
        (np.zeros(10), "2-D grey-scale"),
        (np.zeros((3, 3)), "too small"),
        (np.array([["a", "b"], ["c", "d"]] * 3), "numeric"),
        (np.array([[1, None]] * 5, dtype=object), "numeric"),
        (np.where(np.eye(6) > 0, np.nan, 0.0), "NaN"),
        (np.full((6, 6), np.inf), "NaN or infinite"),
        (np.zeros((6, 6), complex), "complex"),
    ],
)
def test_bad_images_are_rejected(value, message):
    with pytest.raises(UserInputError, match=message):
        check_image(value)
    with pytest.raises(UserInputError, match=message):
        edge_response(value, "sobel", 1.0)


def test_bad_stacks_and_operator_choices():
    with pytest.raises(UserInputError, match="empty dataset"):
        check_image_stack(np.zeros((0, 8, 8)))
    with pytest.raises(UserInputError, match="empty dataset"):
        check_image_stack([])
    with pytest.raises(UserInputError, match=r"\(n, h, w\)"):
        check_image_stack(np.zeros((8, 8)))
    with pytest.raises(UserInputError, match="images\\[1\\]"):
        check_image_stack([np.zeros((8, 8)), np.full((8, 8), np.nan)])
    with pytest.raises(UserInputError, match="unknown edge operator 'prewitt'"):
        edge_response(np.zeros((8, 8)), "prewitt", 1.0)
    with pytest.raises(UserInputError, match="needs sigma > 0"):
        edge_response(np.zeros((8, 8)), "log", 0.0)
    with pytest.raises(UserInputError, match="sigma must be"):
        edge_response(np.zeros((8, 8)), "sobel", -1.0)
    assert ("log", 0.0) not in operator_grid(["log", "sobel"], [0.0, 1.0])
    assert ("sobel", 0.0) in operator_grid(["log", "sobel"], [0.0, 1.0])
    assert check_image(np.eye(6, dtype=bool)).dtype == np.float64


# ------------------------------------------------------------------------------------- dead band
def test_zero_crossings_ignore_values_inside_the_dead_band():
    lap = np.zeros((5, 9))
    lap[:, :4] = 1e-12  # round-off either side of zero: no crossing with a band of 1e-9
    lap[:, 4:] = -1e-12
    assert zero_crossings(lap).any()  # without a band, round-off crosses
    assert not zero_crossings(lap, dead_band=1e-9).any()
    # a real crossing through one in-band pixel is kept, marked at that pixel
    lap[:, :3], lap[:, 3], lap[:, 4:] = 1.0, 1e-12, -1.0
    strength = zero_crossings(lap, dead_band=1e-9)
    assert np.all(strength[:, 3] == pytest.approx(1.0))
    assert not strength[:, [0, 1, 2, 4, 5, 6, 7, 8]].any()


@pytest.mark.parametrize("op", ["laplace3", "log", "sobel", "dog"])
def test_shaded_scenes_give_only_meaningful_candidates(op):
    """Before the dead band 60-70 % of the 3x3 Laplacian's candidates on a shaded face were round-off (< 1e-9)."""
    sigma = 0.0 if OPERATORS[op].allows_unsmoothed else 1.0
    scenes = make_scenes("faces", 3, seed=0, size=96)
    strengths = [edge_response(s.image, op, sigma).strength for s in scenes]
    candidates = np.concatenate([s[s > 0] for s in strengths])
    assert len(candidates) > 200
    assert candidates.min() > 1e-9
    assert threshold_grid(strengths, 20)[0] > 1e-9  # the grid starts at a real strength


def test_round_off_on_a_ramp_makes_no_crossing_but_a_step_does():
    rows = np.linspace(0.2, 0.8, 32)[:, None] * np.ones((1, 32))
    ramp = rows + np.random.default_rng(0).normal(0, 1e-15, rows.shape)  # shading plus round-off
    for sigma in (0.0, 1.0):  # the 3x3 kernel sums to zero: on a ramp its Laplacian is round-off only
        smooth = ndi.gaussian_filter(ramp, sigma, mode="nearest") if sigma else ramp
        assert np.abs(ndi.laplace(smooth, mode="nearest")[6:-6]).max() < 1e-12  # off the padded border rows
        assert not edge_response(ramp, "laplace3", sigma).strength.any()
    step = ramp.copy()
    step[:, 16:] += 0.15
    strength = edge_response(step, "laplace3", 0.0).strength
    assert strength[2:-2, 15:17].max(axis=1).min() > 0.1  # the weakest real step stays, far above the band
    assert STRENGTH_FLOOR * np.ptp(step) < 1e-5


def test_families_are_equal_sized_and_exist():
    assert len(FAMILY_MEMBERS["gradient"]) == len(FAMILY_MEMBERS["laplacian"])
    for family, members in FAMILY_MEMBERS.items():
        assert all(OPERATORS[m].family == family for m in members)


# ----------------------------------------------------------------------------------------- scenes
def test_scene_cache_returns_the_same_read_only_scenes():
    first = make_scenes("lines", 2, seed=(3, 4), size=48)
    again = make_scenes("lines", 2, seed=(3, 4), size=48)
    assert first[0] is again[0]
    with pytest.raises(ValueError, match="read-only"):
        first[0].image[0, 0] = 1.0
    assert make_scenes("lines", 2, seed=(3, 5), size=48)[0].image.tolist() != first[0].image.tolist()


def test_textured_scenes_keep_region_edges_and_real_steps():
    for scene in make_scenes("textured", 3, seed=1, size=64):
        np.testing.assert_array_equal(scene.edges[1:-1, 1:-1], (
            (scene.labels[1:-1, 1:-1] != scene.labels[1:-1, 2:]) | (scene.labels[1:-1, 1:-1] != scene.labels[2:, 1:-1])
        ))
        # inside one region the grating varies the grey level, but by less than a step between regions
        inner = ndi.binary_erosion(scene.labels == 0, iterations=3)
        spread = np.ptp(scene.image[inner])
        assert 0.02 < spread < MIN_CONTRAST


def _thin(mask):
    """No 2 x 2 block fully set: a 1-pixel-thin line."""
    return not (mask[:-1, :-1] & mask[1:, :-1] & mask[:-1, 1:] & mask[1:, 1:]).any()


@pytest.mark.parametrize("kind", ["lines", "roofs"])
def test_curve_scenes_truth_is_the_thin_centreline(kind):
    for scene in make_scenes(kind, 3, seed=2, size=64):
        assert scene.curves
        assert scene.edges.sum() > 20
        assert _thin(scene.edges)
        assert not scene.edges[0].any()
        assert not scene.edges[:, -1].any()
        points = np.concatenate([c.points() for c in scene.curves])
        truth = np.argwhere(scene.edges)
        distance = np.min(np.hypot(*(truth[:, None, :] - points[None, :, :]).transpose(2, 0, 1)), axis=1)
        assert distance.max() <= 0.75  # every truth pixel sits on a curve
        # the image departs from the shaded ground only near the curves (within the profile's half-width)
        half = max(c.half_width_px for c in scene.curves)
        far = ndi.distance_transform_edt(~ndi.binary_dilation(scene.edges, iterations=1)) > half + 2
        ground = scene.image[far]
        rows, cols = np.nonzero(far)
        design = np.column_stack([np.ones(len(rows)), rows, cols])
        fit = np.linalg.lstsq(design, ground, rcond=None)[0]
        assert np.abs(design @ fit - ground).max() < 0.02  # flat ground times a linear ramp: linear


def test_roof_is_a_crease_and_line_a_bar():
    roof = make_scenes("roofs", 1, seed=5, size=64)[0]
    line = make_scenes("lines", 1, seed=5, size=64)[0]
    for scene, profile in ((roof, "roof"), (line, "line")):
        curve = scene.curves[0]
        assert curve.profile == profile
        d = np.linspace(0, 8, 17)
        w = curve.weight(d)
        assert w[0] == 1.0
        assert w[-1] == 0.0
        if profile == "roof":
            assert np.all(np.diff(w[d <= curve.half_width_px]) < 0)  # linear fall: a tent
        else:
            assert set(np.unique(w)) == {0.0, 1.0}  # a box


def test_conditions_share_scenes_but_never_noise():
    a, b = Condition("shapes", 0.0, 0.05), Condition("shapes", 0.0, 0.1)
    images_a, truths_a = condition_data(a, "score", 3, 48, seed=0)
    images_b, truths_b = condition_data(b, "score", 3, 48, seed=0)
    clean = make_scenes("shapes", 3, seed=(0, SCENE_KINDS.index("shapes"), 2), size=48)
    for ia, ib, ta, tb, scene in zip(images_a, images_b, truths_a, truths_b, clean, strict=True):
        np.testing.assert_array_equal(ta, tb)  # the same scenes
        noise_a, noise_b = (ia - scene.image) / 0.05, (ib - scene.image) / 0.1
        assert abs(np.corrcoef(noise_a.ravel(), noise_b.ravel())[0, 1]) < 0.1  # independent, not rescaled copies
    tuning, _ = condition_data(a, "tune", 3, 48, seed=0)
    assert not np.allclose(tuning[0], images_a[0], atol=0.3)  # tuning scenes are other scenes
