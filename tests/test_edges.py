"""Edge operators: each finds a synthetic square's edges at the right place; our maps match scikit-image's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.feature import canny

from dlplayground.errors import UserInputError
from dlplayground.studies.edges.operators import (
    OPERATORS,
    check_image,
    check_image_stack,
    edge_response,
    non_maximum_suppression,
    operator_grid,
    zero_crossings,
)
from dlplayground.studies.edges.scenes import SCENE_KINDS, degrade, make_scenes
from dlplayground.studies.edges.scoring import match_edges

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
