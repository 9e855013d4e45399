"""Offline non-face sources and the hard negatives cut from face frames: geometry, groups, provenance."""

from __future__ import annotations

import numpy as np
import pytest

from dlplayground.data.nonfaces import (
    CORNERS,
    LFW_BACKGROUNDS,
    SAMPLE_IMAGES,
    SAMPLE_PATCHES,
    SHIFTED_CROPS,
    NonFaceImages,
    centre_windows,
    corner_iou,
    lfw_nonfaces,
    offline_nonfaces,
    sample_image_patches,
    shifted_face_crops,
    window_offset,
)


def test_window_geometry_known_values() -> None:
    assert window_offset(25, 15) == 5
    assert window_offset(26, 15) == 5  # an odd margin: the extra pixel stays unused
    assert window_offset(15, 15) == 0
    # corner windows of a 15 px window in a 25 px frame overlap the centre window by 10 x 10 px
    assert corner_iou(25, 15) == pytest.approx(100 / (2 * 225 - 100))
    assert corner_iou(15, 15) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="does not fit"):
        window_offset(10, 11)


def test_centre_windows_cut_the_middle() -> None:
    frames = np.arange(2 * 25 * 25, dtype=float).reshape(2, 25, 25)
    np.testing.assert_array_equal(centre_windows(frames, 15), frames[:, 5:20, 5:20])


def test_shifted_crops_are_exact_corner_windows_with_their_face_group() -> None:
    frames = np.arange(3 * 25 * 25, dtype=float).reshape(3, 25, 25) / (3 * 25 * 25)
    corners = {(0, 0): "top-left", (0, 10): "top-right", (10, 0): "bottom-left", (10, 10): "bottom-right"}
    crops = shifted_face_crops(frames, 15, ("a", "b", "c"), 2, np.random.default_rng(0),
                               original_shapes=np.array([[40, 30], [50, 50], [25, 25]]))
    assert crops.name == SHIFTED_CROPS
    assert len(crops.images) == 6
    assert crops.groups == ("a", "a", "b", "b", "c", "c")
    np.testing.assert_array_equal(crops.original_shapes, [[40, 30], [40, 30], [50, 50], [50, 50], [25, 25], [25, 25]])
    for n, (crop, origin) in enumerate(zip(crops.images, crops.origins, strict=True)):
        face = frames[n // 2]
        # each crop is the pixel-exact corner window its origin names: no further resize
        (top, left), = [pos for pos, name in corners.items() if name in origin]
        np.testing.assert_array_equal(crop, face[top:top + 15, left:left + 15])
    # two distinct corners per face
    assert all(crops.origins[2 * i] != crops.origins[2 * i + 1] for i in range(3))
    assert "IoU 0.29" in crops.source


def test_shifted_crops_reject_impossible_requests() -> None:
    frames = np.zeros((2, 15, 15))
    with pytest.raises(ValueError, match="no room"):
        shifted_face_crops(frames, 15, ("a", "b"), 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="per_face"):
        shifted_face_crops(np.zeros((2, 25, 25)), 15, ("a", "b"), len(CORNERS) + 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="one group per face"):
        shifted_face_crops(np.zeros((2, 25, 25)), 15, ("a",), 1, np.random.default_rng(0))


def test_sample_patches_are_grouped_by_photograph() -> None:
    patches = sample_image_patches(2 * len(SAMPLE_IMAGES), 12, np.random.default_rng(1))
    assert patches.name == SAMPLE_PATCHES
    assert patches.images.shape == (2 * len(SAMPLE_IMAGES), 12, 12)
    assert patches.groups == patches.origins
    # round-robin over the photographs: every photograph twice
    assert sorted(set(patches.groups)) == sorted(f"skimage:{name}" for name in SAMPLE_IMAGES)
    assert all(patches.groups.count(g) == 2 for g in set(patches.groups))
    assert ((patches.images >= 0) & (patches.images <= 1)).all()
    assert len(sample_image_patches(0, 12, np.random.default_rng(1)).images) == 0


def test_lfw_backgrounds_and_the_offline_sources() -> None:
    lfw = lfw_nonfaces(25)
    assert lfw.name == LFW_BACKGROUNDS
    assert lfw.images.shape == (100, 25, 25)
    assert len(set(lfw.groups)) == 100  # no photograph ids are shipped: one group each
    assert "same photographs" in lfw.source
    sources = offline_nonfaces(25, 28, np.random.default_rng(0))
    assert [s.name for s in sources] == [LFW_BACKGROUNDS, SAMPLE_PATCHES]
    assert [len(s.images) for s in sources] == [100, 28]
    assert all(s.is_fallback for s in sources)
    assert [s.name for s in offline_nonfaces(25, 0, np.random.default_rng(0))] == [LFW_BACKGROUNDS]


def test_nonface_images_need_one_entry_per_image() -> None:
    with pytest.raises(ValueError, match="one entry per image"):
        NonFaceImages("x", np.zeros((2, 4, 4)), ("a", "b"), ("g",), np.zeros((2, 2)), "test")
    with pytest.raises(ValueError, match=r"\(n, s, s\)"):
        NonFaceImages("x", np.zeros((2, 4, 5)), ("a", "b"), ("g", "h"), np.zeros((2, 2)), "test")
