"""The Olivetti loader reads the real scikit-learn cache format and refuses anything else clearly."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from dlplayground.data.olivetti import (
    CACHE_FILE,
    FaceImages,
    OlivettiNotFoundError,
    load_face_images,
    load_olivetti,
)
from dlplayground.errors import UserInputError


def _write_cache(folder, n=20, seed=0):
    """Write a cache exactly as fetch_olivetti_faces does: joblib.dump(mat['faces'].T, ..., compress=6)."""
    rng = np.random.default_rng(seed)
    # Column-major 64x64 faces as in the MATLAB file; pixel (row 3, col 5) of image k is marked so we can
    # check the transpose: in the stored (n, 4096) row it sits at index col * 64 + row.
    faces = rng.integers(10, 200, size=(n, 4096)).astype(np.uint8)
    faces[:, 5 * 64 + 3] = 255
    faces[0, 0] = 0
    path = folder / CACHE_FILE
    joblib.dump(faces, path, compress=6)
    return path, faces


def test_reads_cache_file_and_folder_in_sklearn_format(tmp_path):
    path, raw = _write_cache(tmp_path)
    for given in (path, tmp_path, str(tmp_path)):
        faces = load_olivetti(given)
        assert isinstance(faces, FaceImages)
        assert faces.images.shape == (20, 64, 64)
        assert faces.images.dtype == np.float64
        assert faces.images.min() == 0.0
        assert faces.images.max() == 1.0
        assert not faces.is_fallback
        assert "Olivetti" in faces.source
        assert str(tmp_path) in faces.source
        np.testing.assert_array_equal(faces.targets, np.arange(20) // 10)
        # the transpose scikit-learn applies: stored column-major -> image[row, col]
        assert np.all(faces.images[:, 3, 5] == 1.0)
        expected = (raw[1].astype(float) - 0) / 255
        np.testing.assert_allclose(faces.images[1], expected.reshape(64, 64).T)


def test_matches_sklearn_fetcher_on_full_size_cache(tmp_path):
    from sklearn.datasets import fetch_olivetti_faces

    _write_cache(tmp_path, n=400, seed=1)
    ours = load_olivetti(tmp_path)
    theirs = fetch_olivetti_faces(data_home=str(tmp_path), download_if_missing=False)
    np.testing.assert_allclose(ours.images, theirs.images, atol=1e-6)
    np.testing.assert_array_equal(ours.targets, theirs.target)


def test_full_cache_in_a_data_home_is_read_by_the_sklearn_fetcher(tmp_path, monkeypatch):
    import sklearn.datasets

    calls = []
    fetch = sklearn.datasets.fetch_olivetti_faces

    def spy(**kwargs):
        calls.append(kwargs)
        return fetch(**kwargs)

    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", spy)
    path, _ = _write_cache(tmp_path, n=400, seed=2)
    for given in (tmp_path, path):
        faces = load_olivetti(given)
        assert faces.images.shape == (400, 64, 64)
        assert faces.images.dtype == np.float64
    assert calls == [{"data_home": str(tmp_path), "download_if_missing": False}] * 2
    small = tmp_path / "small"
    small.mkdir()
    _write_cache(small, n=20)
    load_olivetti(small)  # a subset: the fetcher hard-codes 400 images, so it is not asked
    assert len(calls) == 2


def test_subset_gets_exactly_the_fetchers_postprocessing(tmp_path):
    from sklearn.datasets import fetch_olivetti_faces

    full = tmp_path / "full"
    full.mkdir()
    _, raw = _write_cache(full, n=400, seed=3)  # row 0 holds the set's min (0) and max (255)
    subset = tmp_path / "subset.pkz"  # another file name, too: only the fetcher needs olivetti_py3.pkz
    joblib.dump(raw[:20], subset, compress=6)
    theirs = fetch_olivetti_faces(data_home=str(full), download_if_missing=False)
    ours = load_olivetti(subset)
    np.testing.assert_array_equal(ours.images, theirs.images[:20].astype(np.float64))
    np.testing.assert_array_equal(ours.targets, theirs.target[:20])


def test_missing_path_and_missing_cache_in_folder(tmp_path):
    with pytest.raises(OlivettiNotFoundError, match="no such file"):
        load_olivetti(tmp_path / "nope.pkz")
    with pytest.raises(OlivettiNotFoundError, match=CACHE_FILE):
        load_olivetti(tmp_path)


def test_no_default_cache_falls_back_to_lfw(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "empty_home"))
    with pytest.raises(OlivettiNotFoundError, match="--olivetti"):
        load_olivetti()
    faces = load_face_images()
    assert faces.is_fallback
    assert "offline fallback" in faces.source
    assert faces.images.shape == (100, 25, 25)
    assert not (tmp_path / "empty_home").exists()  # looking must not create the data home


def test_default_data_home_is_used_when_present(tmp_path, monkeypatch):
    _write_cache(tmp_path)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    faces = load_face_images()
    assert not faces.is_fallback
    assert faces.images.shape == (20, 64, 64)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"hello, not a pickle", "not a joblib pickle"),
        (b"\x78\x9c garbage that is not zlib", "cannot be read"),
    ],
)
def test_rejects_files_of_another_format(tmp_path, payload, message):
    bad = tmp_path / "bad.pkz"
    bad.write_bytes(payload)
    with pytest.raises(UserInputError, match=message):
        load_olivetti(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.zeros((3, 100)), "shape"),
        (np.zeros((0, 4096)), "shape"),
        ({"faces": 1}, "dict"),
        (np.full((2, 4096), np.nan), "NaN"),
        (np.ones((2, 4096)), "same value"),
    ],
)
def test_rejects_wrong_content(tmp_path, content, message):
    bad = tmp_path / CACHE_FILE
    joblib.dump(content, bad, compress=6)
    with pytest.raises(UserInputError, match=message):
        load_face_images(bad)


def test_corrupt_default_cache_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch):
    (tmp_path / CACHE_FILE).write_bytes(b"\x1f\x8b truncated")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    with pytest.raises(UserInputError, match="cannot be read"):
        load_face_images()
