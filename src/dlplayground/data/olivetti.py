"""Face images for the studies: the Olivetti faces from scikit-learn's cache, or an announced fallback.

The real data is the file scikit-learn's ``fetch_olivetti_faces`` writes the first time it downloads:
``<data_home>/olivetti_py3.pkz``, a joblib pickle (zlib-compressed, ``compress=6``) of one array of shape
``(400, 4096)`` -- 400 faces of 64 x 64 pixels, stored column-major as they came from the original MATLAB
file. Subject ids are not stored; scikit-learn derives them as ``i // 10`` (10 contiguous images per
subject).

The full cache in a data home is read by ``fetch_olivetti_faces(data_home=..., download_if_missing=False)``
itself, so its post-processing (float32, min-max scale to [0, 1], reshape, transpose, subject ids) is
scikit-learn's own. Two things the fetcher does not do are done here:

* **Look without writing.** ``get_data_home`` creates the folder as a side effect, so the default data
  home (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``) is checked for the file first, and the fetcher
  is only called on a folder that already holds it.
* **Other files in the same format.** The fetcher hard-codes 400 images and the file name, so a cache
  named differently (``--olivetti path/to/file.pkz``) or holding a subset of the faces (a test file, the
  edge study's small inputs) gets the same post-processing here, step for step (``_sklearn_postprocess``;
  a test checks the two agree).

Nothing here downloads. With no path and no cache, ``load_face_images`` falls back to the 100 face
images in scikit-image's ``lfw_subset`` (shipped with the package) and says so in ``FaceImages.source``.

The cache is a pickle, so loading it runs code from that file: that is the documented format and the
file was written by the user's own scikit-learn, but we only unpickle a file that starts like a joblib
zlib/gzip/raw pickle and reject anything whose content is not a 2-D numeric array with 4096 columns --
before the fetcher ever sees it, so every bad file gets a clear error naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlplayground.errors import UserInputError

CACHE_FILE = "olivetti_py3.pkz"
"""The file name ``fetch_olivetti_faces`` writes (``_pkl_filepath(data_home, "olivetti.pkz")``)."""
FACE_SIDE_PX = 64
OLIVETTI_IMAGES = 400
"""Images in the real cache: the only size ``fetch_olivetti_faces`` reads."""
IMAGES_PER_SUBJECT = 10
LFW_FACES = 100
"""``skimage.data.lfw_subset()`` holds 200 images of 25 x 25 px: the first 100 are faces, the rest not."""

# joblib's compressed dumps start with a zlib (0x78) or gzip (0x1f 0x8b) header; an uncompressed dump
# is a plain pickle (protocol >= 2 starts with 0x80).
_MAGIC = (b"\x78", b"\x1f\x8b", b"\x80")


class OlivettiNotFoundError(UserInputError):
    """No Olivetti cache where we looked (the default data home, or the folder the user named)."""


@dataclass(frozen=True)
class FaceImages:
    """Grey-scale face images and where they came from.

    ``images`` is ``(n, h, w)`` float64 in [0, 1]; ``source`` is a human-readable line for the output
    (it says "offline fallback" when ``is_fallback``); ``targets`` holds subject ids where known.
    """

    images: np.ndarray
    source: str
    is_fallback: bool
    targets: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.shape[0] == 0:
            raise ValueError(f"FaceImages.images must be non-empty (n, h, w), not {self.images.shape}")
        if self.targets is not None and len(self.targets) != len(self.images):
            raise ValueError("FaceImages.targets must have one entry per image")


def default_data_home() -> Path:
    """scikit-learn's default data home (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``), not created.

    ``sklearn.datasets.get_data_home`` gives the same path but creates the folder; looking must not write.
    """
    return Path(os.environ.get("SCIKIT_LEARN_DATA", str(Path("~") / "scikit_learn_data"))).expanduser()


def _resolve_cache(path: Path | str | None) -> Path:
    if path is None:
        home = default_data_home()
        cache = home / CACHE_FILE
        if not cache.is_file():
            raise OlivettiNotFoundError(
                f"no Olivetti cache at {str(cache)!r}; pass --olivetti PATH (the {CACHE_FILE} file or the "
                "scikit-learn data home holding it). Nothing is downloaded."
            )
        return cache
    given = Path(path).expanduser()
    if given.is_dir():
        cache = given / CACHE_FILE
        if not cache.is_file():
            raise OlivettiNotFoundError(
                f"--olivetti {str(given)!r}: folder has no {CACHE_FILE} (the file scikit-learn's "
                "fetch_olivetti_faces writes into its data home)"
            )
        return cache
    if not given.exists():
        raise OlivettiNotFoundError(f"--olivetti {str(given)!r}: no such file or folder")
    if not given.is_file():
        raise UserInputError(f"--olivetti {str(given)!r}: not a regular file or folder")
    return given


def _read_cache(cache: Path) -> np.ndarray:
    """Unpickle the joblib cache and check it is the (n, 4096) array scikit-learn wrote."""
    try:
        with cache.open("rb") as handle:
            head = handle.read(2)
    except OSError as exc:
        raise UserInputError(f"--olivetti {str(cache)!r}: cannot be read: {exc.strerror or exc}") from None
    if not head.startswith(_MAGIC):
        raise UserInputError(
            f"--olivetti {str(cache)!r}: not a joblib pickle (the {CACHE_FILE} format scikit-learn writes)"
        )
    import joblib

    try:
        faces = joblib.load(cache)
    except Exception as exc:  # corrupt/truncated files raise anything from zlib.error to KeyError
        raise UserInputError(
            f"--olivetti {str(cache)!r}: cannot be read as a joblib pickle ({type(exc).__name__}); "
            f"expected scikit-learn's {CACHE_FILE}"
        ) from None
    if not isinstance(faces, np.ndarray):
        raise UserInputError(
            f"--olivetti {str(cache)!r}: holds a {type(faces).__name__}, expected a numpy array of shape "
            f"(n, {FACE_SIDE_PX * FACE_SIDE_PX})"
        )
    if faces.ndim != 2 or faces.shape[1] != FACE_SIDE_PX * FACE_SIDE_PX or faces.shape[0] == 0:
        raise UserInputError(
            f"--olivetti {str(cache)!r}: array of shape {faces.shape}, expected (n, "
            f"{FACE_SIDE_PX * FACE_SIDE_PX}) with n >= 1 (Olivetti: ({OLIVETTI_IMAGES}, 4096))"
        )
    if not (np.issubdtype(faces.dtype, np.number) and not np.issubdtype(faces.dtype, np.complexfloating)):
        raise UserInputError(f"--olivetti {str(cache)!r}: array of dtype {faces.dtype}, expected numbers")
    if not np.isfinite(faces).all():
        raise UserInputError(f"--olivetti {str(cache)!r}: array contains NaN or infinite values")
    if faces.max() == faces.min():
        raise UserInputError(f"--olivetti {str(cache)!r}: every pixel has the same value; not face images")
    return faces


def _sklearn_postprocess(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``fetch_olivetti_faces``'s post-processing, step for step, for files it cannot read itself.

    float32, min-max scale over the whole set, reshape to 64 x 64, transpose (the stored rows are
    column-major); subject ids ``i // 10`` where the file holds whole subjects.
    """
    faces = np.float32(faces)
    faces = faces - faces.min()
    faces /= faces.max()
    images = faces.reshape((-1, FACE_SIDE_PX, FACE_SIDE_PX)).transpose(0, 2, 1)
    n = len(images)
    targets = np.arange(n) // IMAGES_PER_SUBJECT if n % IMAGES_PER_SUBJECT == 0 else None
    return images, targets


def load_olivetti(path: Path | str | None = None) -> FaceImages:
    """Read the Olivetti faces from scikit-learn's cache; never downloads.

    ``path`` may be the ``olivetti_py3.pkz`` file itself or a data home folder holding it; ``None`` looks
    in scikit-learn's default data home. Raises ``OlivettiNotFoundError`` (a ``UserInputError``) when the
    file is absent and ``UserInputError`` when it is not the right format. The full cache in a data home
    is read by ``fetch_olivetti_faces``; any other file in its format gets the same post-processing here.
    """
    cache = _resolve_cache(path)
    raw = _read_cache(cache)
    if cache.name == CACHE_FILE and raw.shape[0] == OLIVETTI_IMAGES:
        from sklearn.datasets import fetch_olivetti_faces

        # The file exists, so the data home does too: the fetcher's makedirs writes nothing.
        bunch = fetch_olivetti_faces(data_home=str(cache.parent), download_if_missing=False)
        images, targets = bunch.images, np.asarray(bunch.target)
    else:
        images, targets = _sklearn_postprocess(raw)
    images = np.asarray(images, dtype=np.float64)
    return FaceImages(
        images=images, source=f"Olivetti faces ({len(images)} images) from {str(cache.parent)}",
        is_fallback=False, targets=targets,
    )


def load_lfw_fallback() -> FaceImages:
    """The 100 face images of scikit-image's ``lfw_subset`` (25 x 25 px), marked as the offline fallback."""
    from skimage import data

    images = np.asarray(data.lfw_subset(), dtype=np.float64)[:LFW_FACES]
    images = np.clip(images, 0.0, 1.0)
    return FaceImages(
        images=images,
        source=(f"scikit-image lfw_subset faces ({len(images)} images, 25x25 px) "
                "(offline fallback; pass --olivetti PATH for the real data)"),
        is_fallback=True, targets=None,
    )


def load_face_images(path: Path | str | None = None) -> FaceImages:
    """Olivetti if ``path`` is given (errors propagate) or a cache is in the default data home; else the
    announced ``lfw_subset`` fallback. A corrupt cache in the default data home is an error, not a silent
    fallback: the user has data there and should learn it is unreadable."""
    if path is not None:
        return load_olivetti(path)
    try:
        return load_olivetti(None)
    except OlivettiNotFoundError:
        return load_lfw_fallback()
