"""The BSDS500 loader on a tiny folder written in the dataset's exact layout (JPEGs + groundTruth .mat cells)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from dlplayground.data.bsds import load_bsds_split, read_ground_truth, resolve_bsds_root
from dlplayground.errors import UserInputError

SHAPE = (24, 36)


def bsds_annotations(shape: tuple[int, int], index: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two annotators: both see a vertical boundary at column 12 + index; the second also a horizontal one."""
    h, w = shape
    first = np.zeros(shape, np.uint16) + 1
    first[:, 12 + index:] = 2
    second = first.copy()
    second[h // 2:, :] += 2
    out = []
    for seg in (first, second):
        bound = np.zeros(shape, np.uint8)
        bound[:, :-1] |= (seg[:, :-1] != seg[:, 1:]).astype(np.uint8)
        bound[:-1, :] |= (seg[:-1, :] != seg[1:, :]).astype(np.uint8)
        out.append((seg, bound))
    return out


def write_bsds_folder(root: Path, per_split: int = 2, shape: tuple[int, int] = SHAPE) -> Path:
    """``root/BSR/BSDS500/data`` in the BSDS500 layout: a two-tone JPEG per image, its .mat with 2 annotators."""
    data = root / "BSR" / "BSDS500" / "data"
    for split in ("train", "val", "test"):
        (data / "images" / split).mkdir(parents=True)
        (data / "groundTruth" / split).mkdir(parents=True)
        for i in range(per_split):
            name = f"{100 + i}{split[0]}"
            annotations = bsds_annotations(shape, i)
            rgb = np.zeros((*shape, 3), np.uint8)
            rgb[...] = (40, 60, 80)
            rgb[annotations[0][0] == 2] = (200, 180, 160)
            Image.fromarray(rgb).save(data / "images" / split / f"{name}.jpg", quality=95)
            cell = np.empty((1, len(annotations)), dtype=object)
            for k, (seg, bound) in enumerate(annotations):
                cell[0, k] = {"Segmentation": seg, "Boundaries": bound}
            scipy.io.savemat(data / "groundTruth" / split / f"{name}.mat", {"groundTruth": cell})
    return data


def test_reads_the_layout_back(tmp_path):
    data = write_bsds_folder(tmp_path)
    split = load_bsds_split(tmp_path, "test")  # a folder above data/ is accepted
    assert split.root == data.resolve()
    assert split.available == 2
    assert [im.name for im in split.images] == ["100t", "101t"]
    first = split.images[0]
    assert first.image.shape == SHAPE
    assert first.image.dtype == np.float64
    assert 0.0 <= first.image.min() < 0.3 < 0.6 < first.image.max() <= 1.0  # the two tones, grey
    assert first.annotators == 2
    expected = bsds_annotations(SHAPE, 0)
    for (seg, bound), got_b, got_s in zip(expected, first.boundaries, first.segmentations, strict=True):
        assert got_b.dtype == bool
        np.testing.assert_array_equal(got_b, bound.astype(bool))
        np.testing.assert_array_equal(got_s, seg)
    # the bright half of the image is where annotator 0's segment 2 lies
    assert first.image[:, 20].mean() > first.image[:, 2].mean() + 0.3
    assert "BSDS500 test (2 of 2 images)" in split.source


def test_limit_takes_the_first_ids_and_root_is_found_directly(tmp_path):
    data = write_bsds_folder(tmp_path, per_split=3)
    assert resolve_bsds_root(data) == data.resolve()
    split = load_bsds_split(data, "val", limit=2)
    assert [im.name for im in split.images] == ["100v", "101v"]
    assert split.available == 3


def test_grey_jpeg_is_read_as_grey(tmp_path):
    data = write_bsds_folder(tmp_path, per_split=1)
    path = data / "images" / "train" / "100t.jpg"
    Image.fromarray(np.full(SHAPE, 128, np.uint8)).save(path)
    image = load_bsds_split(data, "train").images[0].image
    assert image.shape == SHAPE
    assert image.mean() == pytest.approx(128 / 255, abs=0.01)


def test_bad_folders_and_files_are_named(tmp_path):
    with pytest.raises(UserInputError, match="no such folder"):
        load_bsds_split(tmp_path / "nowhere", "test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match="no images/ and groundTruth/"):
        load_bsds_split(tmp_path / "empty", "test")
    data = write_bsds_folder(tmp_path / "set")
    with pytest.raises(UserInputError, match="unknown BSDS split 'dev'"):
        load_bsds_split(data, "dev")
    with pytest.raises(UserInputError, match="--bsds-images must be >= 1"):
        load_bsds_split(data, "test", limit=0)
    (data / "groundTruth" / "test" / "101t.mat").unlink()
    with pytest.raises(UserInputError, match=r"no ground truth .* 101t\.mat"):
        load_bsds_split(data, "test")
    scipy.io.savemat(data / "groundTruth" / "val" / "100v.mat", {"labels": np.zeros(SHAPE)})
    with pytest.raises(UserInputError, match="no 'groundTruth' variable"):
        load_bsds_split(data, "val")
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = {"Segmentation": np.ones((5, 5), np.uint16), "Boundaries": np.zeros((5, 5), np.uint8)}
    scipy.io.savemat(data / "groundTruth" / "train" / "100t.mat", {"groundTruth": cell})
    with pytest.raises(UserInputError, match=r"shape \(5, 5\)"):
        load_bsds_split(data, "train")
    cell[0, 0] = {"Segmentation": np.ones(SHAPE, np.uint16)}
    scipy.io.savemat(data / "groundTruth" / "train" / "100t.mat", {"groundTruth": cell})
    with pytest.raises(UserInputError, match="no field 'Boundaries'"):
        read_ground_truth(data / "groundTruth" / "train" / "100t.mat")
    (data / "groundTruth" / "train" / "101t.mat").write_text("not a mat file")
    with pytest.raises(UserInputError, match=r"cannot read .*101t\.mat"):
        read_ground_truth(data / "groundTruth" / "train" / "101t.mat")
    (data / "images" / "train" / "100t.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UserInputError, match=r"cannot read image .*100t\.jpg"):
        load_bsds_split(data, "train")
