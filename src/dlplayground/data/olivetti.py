"""Face images for the studies: the Olivetti faces from scikit-learn's cache, or an announced fallback.

The real data is the file scikit-learn's ``fetch_olivetti_faces`` writes the first time it downloads:
``<data_home>/olivetti_py3.pkz``, a joblib pickle (zlib-compressed, ``compress=6``) of one array of shape
``(400, 4096)`` -- 400 faces of 64 x 64 pixels, stored column-major as they came from the original MATLAB
file. Subject ids are not stored; scikit-learn derives them as ``i // 10`` (10 contiguous images per
subject). We read that file directly, applying exactly scikit-learn's post-processing (min-max scale to
[0, 1], reshape, transpose), rather than calling the fetcher, because

* the fetcher hard-codes 400 images, so a small test file in the same format could not be read, and
* ``get_data_home`` creates the folder as a side effect; looking for data must not write anything.

Nothing here downloads. With no path and no cache, ``load_face_images`` falls back to the 100 face
images in scikit-image's ``lfw_subset`` (shipped with the package) and says so in ``FaceImages.source``.

The cache is a pickle, so loading it runs code from that file: that is the documented format and the
file was written by the user's own scikit-learn, but we only unpickle a file that starts like a joblib
zlib/gzip/raw pickle and reject anything whose content is not a 2-D numeric array with 4096 columns.
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
    """scikit-learn's default data home (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``), not created."""
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
            f"{FACE_SIDE_PX * FACE_SIDE_PX}) with n >= 1 (Olivetti: (400, 4096))"
        )
    if not (np.issubdtype(faces.dtype, np.number) and not np.issubdtype(faces.dtype, np.complexfloating)):
        raise UserInputError(f"--olivetti {str(cache)!r}: array of dtype {faces.dtype}, expected numbers")
    faces = faces.astype(np.float64)
    if not np.isfinite(faces).all():
        raise UserInputError(f"--olivetti {str(cache)!r}: array contains NaN or infinite values")
    if faces.max() == faces.min():
        raise UserInputError(f"--olivetti {str(cache)!r}: every pixel has the same value; not face images")
    return faces


def load_olivetti(path: Path | str | None = None) -> FaceImages:
    """Read the Olivetti faces from scikit-learn's cache; never downloads.

    ``path`` may be the ``olivetti_py3.pkz`` file itself or a data home folder holding it; ``None`` looks
    in scikit-learn's default data home. Raises ``OlivettiNotFoundError`` (a ``UserInputError``) when the
    file is absent and ``UserInputError`` when it is not the right format. Post-processing is exactly
    ``fetch_olivetti_faces``'s: min-max scale over the whole set, reshape to 64 x 64, transpose.
    """
    cache = _resolve_cache(path)
    faces = _read_cache(cache)
    faces = faces - faces.min()
    faces /= faces.max()
    images = faces.reshape((-1, FACE_SIDE_PX, FACE_SIDE_PX)).transpose(0, 2, 1).copy()
    n = len(images)
    # scikit-learn's convention: 10 images per subject, contiguous; only meaningful in whole subjects.
    targets = np.arange(n) // IMAGES_PER_SUBJECT if n % IMAGES_PER_SUBJECT == 0 else None
    return FaceImages(
        images=images, source=f"Olivetti faces ({n} images) from {str(cache.parent)}",
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
