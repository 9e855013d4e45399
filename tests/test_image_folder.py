"""Face-folder loader: every mode to the same grey, mixed sizes resized (not refused), both layouts, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlplayground.data.image_folder import (
    LUMA_WEIGHTS,
    load_face_folder,
    load_image_folder,
    read_grey_image,
    rgb_to_grey,
    to_square,
)
from dlplayground.errors import UserInputError

RED_GREY = LUMA_WEIGHTS[0]  # pure red (255, 0, 0) in BT.601 luma


def solid(mode: str, size: tuple[int, int], value) -> Image.Image:
    return Image.new(mode, size, value)


def test_every_mode_becomes_the_same_grey(tmp_path: Path) -> None:
    red = (255, 0, 0)
    solid("RGB", (20, 20), red).save(tmp_path / "rgb.png")
    solid("RGB", (20, 20), red).save(tmp_path / "rgb.bmp")
    solid("RGBA", (20, 20), (*red, 255)).save(tmp_path / "rgba_opaque.png")
    palette = solid("RGB", (20, 20), red).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.save(tmp_path / "palette.gif")
    solid("CMYK", (20, 20), (0, 255, 255, 0)).save(tmp_path / "cmyk.tif")
    for name in ("rgb.png", "rgb.bmp", "rgba_opaque.png", "palette.gif", "cmyk.tif"):
        grey, _ = read_grey_image(tmp_path / name)
        assert grey.shape == (20, 20)
        np.testing.assert_allclose(grey, RED_GREY, atol=1.5 / 255, err_msg=name)


def test_grey_alpha_and_high_bit_depth(tmp_path: Path) -> None:
    solid("L", (8, 8), 128).save(tmp_path / "l.png")
    solid("RGBA", (8, 8), (255, 255, 255, 0)).save(tmp_path / "transparent.png")  # hidden white under alpha 0
    solid("LA", (8, 8), (200, 128)).save(tmp_path / "la.png")
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(tmp_path / "sixteen.png")
    solid("1", (8, 8), 1).save(tmp_path / "bilevel.png")
    assert read_grey_image(tmp_path / "l.png")[0][0, 0] == pytest.approx(128 / 255)
    assert read_grey_image(tmp_path / "transparent.png")[0].max() == 0.0  # composited onto black
    assert read_grey_image(tmp_path / "la.png")[0][0, 0] == pytest.approx(200 / 255 * 128 / 255, abs=1e-3)
    assert read_grey_image(tmp_path / "sixteen.png")[0][0, 0] == pytest.approx(1.0)
    assert read_grey_image(tmp_path / "bilevel.png")[0][0, 0] == pytest.approx(1.0)


def test_rgb_to_grey_matches_pillow() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float64) / 255
    np.testing.assert_allclose(rgb_to_grey(rgb), pillow, atol=1 / 255)  # Pillow rounds to integers


def test_to_square_crops_the_centre_then_resizes() -> None:
    wide = np.zeros((10, 30))
    wide[:, 10:20] = 1.0  # the centre square is white, the sides black
    out = to_square(wide, 5)
    assert out.shape == (5, 5)
    np.testing.assert_allclose(out, 1.0)
    tall = np.zeros((40, 20))
    tall[10:30, :] = 0.5
    np.testing.assert_allclose(to_square(tall, 20), 0.5)  # same size after crop: no interpolation


def test_mixed_sizes_and_modes_are_resized_to_one_size(tmp_path: Path) -> None:
    solid("RGB", (64, 48), (10, 200, 30)).save(tmp_path / "a.jpg", quality=95)
    solid("L", (16, 16), 90).save(tmp_path / "b.png")
    solid("RGBA", (100, 130), (0, 0, 255, 255)).save(tmp_path / "c.png")
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    (tmp_path / ".hidden").mkdir()
    solid("L", (5, 5), 0).save(tmp_path / ".hidden" / "skip.png")
    loaded = load_image_folder(tmp_path, 16)
    assert loaded.images.shape == (3, 16, 16)
    assert [p.name for p in loaded.paths] == ["a.jpg", "b.png", "c.png"]
    assert loaded.original_shapes.tolist() == [[48, 64], [16, 16], [130, 100]]
    assert loaded.modes == ("RGB", "L", "RGBA")
    assert loaded.n_resized == 2
    assert loaded.images.min() >= 0.0
    assert loaded.images.max() <= 1.0
    assert loaded.images[1].mean() == pytest.approx(90 / 255)
    assert loaded.images[2].mean() == pytest.approx(LUMA_WEIGHTS[2], abs=1e-3)


def test_limit_reads_a_seeded_subset(tmp_path: Path) -> None:
    for i in range(12):
        solid("L", (6, 6), i * 20).save(tmp_path / f"{i:02d}.png")
    first = load_image_folder(tmp_path, 6, limit=5, rng=np.random.default_rng(3))
    again = load_image_folder(tmp_path, 6, limit=5, rng=np.random.default_rng(3))
    assert len(first.paths) == 5
    assert first.paths == again.paths


def test_labelled_layout_splits_faces_and_nonfaces(tmp_path: Path) -> None:
    for split in ("train", "test"):
        (tmp_path / split / "faces").mkdir(parents=True)
        (tmp_path / split / "Non-Face").mkdir(parents=True)
        for i in range(3):
            solid("L", (10, 10), 200).save(tmp_path / split / "faces" / f"f{i}.png")
            solid("L", (10, 10), 20).save(tmp_path / split / "Non-Face" / f"n{i}.png")
    folder = load_face_folder(tmp_path, 8)
    assert folder.layout.startswith("labelled")
    assert len(folder.faces.images) == 6
    assert len(folder.nonfaces.images) == 6
    assert folder.faces.images.mean() == pytest.approx(200 / 255)
    assert folder.nonfaces.images.mean() == pytest.approx(20 / 255)


def test_faces_only_layout(tmp_path: Path) -> None:
    (tmp_path / "person_a").mkdir()
    solid("L", (10, 10), 100).save(tmp_path / "person_a" / "1.png")
    solid("L", (12, 12), 100).save(tmp_path / "2.png")
    folder = load_face_folder(tmp_path, 8)
    assert folder.nonfaces is None
    assert folder.layout == "faces only"
    assert len(folder.faces.images) == 2


# ------------------------------------------------------------------------------------------ bad input
def test_missing_folder_and_file_instead_of_folder(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"--faces .*nope.*no such folder"):
        load_face_folder(tmp_path / "nope", 8)
    file = tmp_path / "a.png"
    solid("L", (4, 4), 0).save(file)
    with pytest.raises(UserInputError, match=r"not a folder"):
        load_face_folder(file, 8)


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(UserInputError, match=r"no image files found"):
        load_face_folder(tmp_path, 8)


def test_unreadable_image_is_named_not_skipped(tmp_path: Path) -> None:
    solid("L", (8, 8), 10).save(tmp_path / "good.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff this is not really a jpeg")
    with pytest.raises(UserInputError, match=r"broken\.jpg.*cannot be read as an image"):
        load_face_folder(tmp_path, 8)


@pytest.mark.parametrize("empty_class", ["faces", "nonfaces"])
def test_one_class_empty(tmp_path: Path, empty_class: str) -> None:
    (tmp_path / "faces").mkdir()
    (tmp_path / "non_faces").mkdir()
    full = "non_faces" if empty_class == "faces" else "faces"
    solid("L", (8, 8), 10).save(tmp_path / full / "x.png")
    expected = r"face class is empty" if empty_class == "faces" else r"non_faces.*non-face class is empty"
    with pytest.raises(UserInputError, match=expected):
        load_face_folder(tmp_path, 8)
