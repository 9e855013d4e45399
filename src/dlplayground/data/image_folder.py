"""A folder of images (a Kaggle-style face data set) read as grey-scale images of one size.

Any format Pillow reads is accepted (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM/PPM, ...), at any depth below
the folder. Two layouts are understood:

* **faces only** -- every image under the folder is a face (e.g. a flat folder of face crops);
* **labelled** -- an image whose path below the folder passes through a folder named ``non_face``,
  ``nonfaces``, ``no_face``, ``not_face``, ``background`` or ``negative`` (any case, ``-``/``_``/space
  ignored, singular or plural) is a non-face, every other image is a face. This covers the usual Kaggle
  "face / non-face" layouts such as ``train/faces``, ``train/non_faces``, ``test/...``.

Every image is brought to the same representation, in the same way for every source in the study:

* **Grey**: whatever the mode (``1``, ``L``, ``P``, ``RGB``, ``RGBA``, ``CMYK``, 16-bit, float), the image
  is converted to RGB and then to luma with the ITU-R BT.601 weights Pillow's ``convert("L")`` uses
  (``rgb_to_grey``). Transparent pixels are composited onto black, so hidden colour under alpha = 0
  cannot leak in. EXIF orientation is applied first (phone photos are often stored rotated).
* **Size**: images of mixed sizes are *resized, not refused*: each is centre-cropped to a square (keeping
  the aspect ratio, so faces are not stretched) and resized with anti-aliasing to ``size`` x ``size``
  (``to_square``). The loader records every original size, so a study can report how many were resized
  and check that image size is not what tells the classes apart.

A missing folder, a folder without images, or a file that cannot be decoded raises ``UserInputError``
naming the path: a broken file is reported, not silently skipped, so a count never changes under you.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlplayground.errors import UserInputError

IMAGE_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm",
})
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma, as Pillow's ``convert("L")``; used for every RGB source so all are grey alike."""

NONFACE_FOLDER_NAMES = frozenset({
    "nonface", "nonfaces", "noface", "nofaces", "notface", "notfaces", "background", "backgrounds",
    "negative", "negatives",
})


# ------------------------------------------------------------------------------ shared preprocessing
def rgb_to_grey(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB (uint8 in 0..255, or float in [0, 1]) to float64 grey in [0, 1] (BT.601 luma)."""
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3:
        raise ValueError(f"rgb_to_grey expects a trailing axis of 3 channels, got shape {rgb.shape}")
    scale = 255.0 if rgb.dtype == np.uint8 else 1.0
    grey = np.tensordot(rgb.astype(np.float64) / scale, np.asarray(LUMA_WEIGHTS), axes=([-1], [0]))
    return np.clip(grey, 0.0, 1.0)


def to_square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop a ``(h, w)`` grey image to a square and resize it to ``size`` x ``size`` in [0, 1].

    Bilinear interpolation with anti-aliasing when shrinking (scikit-image's default), so a large photo
    and a small crop end up with comparable sharpness rather than one aliased and one smooth.
    """
    from skimage.transform import resize

    if image.ndim != 2:
        raise ValueError(f"to_square expects a 2-D grey image, got shape {image.shape}")
    h, w = image.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = np.asarray(image[top:top + side, left:left + side], dtype=np.float64)
    if side != size:
        square = resize(square, (size, size), order=1, mode="reflect", anti_aliasing=side > size)
    return np.clip(square, 0.0, 1.0)


# ------------------------------------------------------------------------------------ one image
def read_grey_image(path: Path, *, flag: str = "--faces") -> tuple[np.ndarray, str]:
    """Read one image file as float64 grey in [0, 1] at its own size; return it and its Pillow mode."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            opened.seek(0)  # multi-frame GIF/TIFF: the first frame
            img = ImageOps.exif_transpose(opened)
            img.load()
            mode = opened.mode
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UserInputError(
            f"{flag}: {str(path)!r} cannot be read as an image ({type(exc).__name__}: {exc})"
        ) from None
    if img.width == 0 or img.height == 0:
        raise UserInputError(f"{flag}: {str(path)!r} is an empty image ({img.width}x{img.height})")
    return _pil_to_grey(img, path, flag), mode


def _pil_to_grey(img, path: Path, flag: str) -> np.ndarray:  # img: PIL.Image.Image
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        # 16/32-bit integer or float data: scale by the range the data evidently uses.
        arr = np.asarray(img, dtype=np.float64)
        top = float(np.nanmax(arr)) if arr.size else 0.0
        scale = 65535.0 if mode.startswith("I;16") or top > 255.0 else (255.0 if top > 1.0 else 1.0)
        grey = arr / scale
    elif mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
        grey = rgb_to_grey(rgba[..., :3] * rgba[..., 3:4])  # composite onto black
    else:
        try:
            rgb = np.asarray(img.convert("RGB"))
        except (ValueError, OSError) as exc:
            raise UserInputError(f"{flag}: {str(path)!r}: image mode {mode!r} cannot be converted to grey "
                                 f"({exc})") from None
        grey = rgb_to_grey(rgb)
    if not np.isfinite(grey).all():
        raise UserInputError(f"{flag}: {str(path)!r} contains NaN or infinite pixel values")
    return np.clip(grey, 0.0, 1.0)


# --------------------------------------------------------------------------------------- a folder
@dataclass(frozen=True)
class FolderImages:
    """Images read from a folder, all grey and ``size`` x ``size``, with where each came from.

    ``original_shapes`` is ``(n, 2)`` (height, width before cropping/resizing) and ``modes`` the Pillow
    mode of each file, so a study can show that size or colour mode does not give the class away.
    """

    images: np.ndarray
    paths: tuple[Path, ...]
    original_shapes: np.ndarray
    modes: tuple[str, ...]

    @property
    def n_resized(self) -> int:
        """How many images were not already square at the target size (and so were cropped/resized)."""
        size = self.images.shape[1]
        return int(np.sum((self.original_shapes[:, 0] != size) | (self.original_shapes[:, 1] != size)))


def find_images(folder: Path) -> list[Path]:
    """Every image file at any depth below ``folder`` (by suffix; hidden files skipped), sorted."""
    found = [
        p for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


def read_images(paths: Sequence[Path], size: int, *, flag: str = "--faces") -> FolderImages:
    """Read ``paths`` as grey ``size`` x ``size`` images (see the module docstring for the conversion)."""
    images = np.empty((len(paths), size, size), dtype=np.float64)
    shapes = np.empty((len(paths), 2), dtype=np.int64)
    modes = []
    for i, path in enumerate(paths):
        grey, mode = read_grey_image(path, flag=flag)
        shapes[i] = grey.shape
        images[i] = to_square(grey, size)
        modes.append(mode)
    return FolderImages(images=images, paths=tuple(paths), original_shapes=shapes, modes=tuple(modes))


def _subsample(paths: list[Path], limit: int | None, rng: np.random.Generator | None) -> list[Path]:
    if limit is None or len(paths) <= limit:
        return paths
    rng = rng if rng is not None else np.random.default_rng(0)
    keep = np.sort(rng.choice(len(paths), size=limit, replace=False))
    return [paths[i] for i in keep]


def _is_nonface_path(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts[:-1]
    return any(re.sub(r"[\s_\-]+", "", part.lower()) in NONFACE_FOLDER_NAMES for part in parts)


def _check_folder(folder: Path | str, flag: str) -> Path:
    root = Path(folder).expanduser()
    if not root.exists():
        raise UserInputError(f"{flag} {str(root)!r}: no such folder")
    if not root.is_dir():
        raise UserInputError(f"{flag} {str(root)!r}: not a folder (expected a folder of image files)")
    return root


def _images_below(folder: Path | str, flag: str) -> tuple[Path, list[Path]]:
    """The checked folder and every image file below it; a clear error when there is none."""
    root = _check_folder(folder, flag)
    paths = find_images(root)
    if not paths:
        raise UserInputError(
            f"{flag} {str(root)!r}: no image files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))} "
            "at any depth)"
        )
    return root, paths


def load_image_folder(
    folder: Path | str, size: int, *, limit: int | None = None, rng: np.random.Generator | None = None,
    flag: str = "--faces",
) -> FolderImages:
    """Every image below ``folder`` as one class; ``limit`` keeps a seeded random subset (read only those)."""
    root, paths = _images_below(folder, flag)
    return read_images(_subsample(paths, limit, rng), size, flag=flag)


@dataclass(frozen=True)
class FaceFolder:
    """A face folder split into its classes; ``nonfaces`` is ``None`` in the faces-only layout."""

    root: Path
    faces: FolderImages
    nonfaces: FolderImages | None

    @property
    def layout(self) -> str:
        return "faces only" if self.nonfaces is None else "labelled (face / non-face folders)"


def load_face_folder(
    folder: Path | str, size: int, *, limit: int | None = None, rng: np.random.Generator | None = None,
    flag: str = "--faces",
) -> FaceFolder:
    """Read a face data set folder in either layout (module docstring); ``limit`` caps each class.

    Raises ``UserInputError`` when the folder is missing, holds no images, or -- in the labelled layout --
    when one class has no images (naming the folder and the non-face folder names looked for).
    """
    root, paths = _images_below(folder, flag)
    nonface_paths = [p for p in paths if _is_nonface_path(p, root)]
    face_paths = [p for p in paths if not _is_nonface_path(p, root)]
    if not nonface_paths:
        empty = sorted(d for d in root.rglob("*") if d.is_dir() and _is_nonface_path(d / "x", root))
        if empty:
            raise UserInputError(
                f"{flag} {str(root)!r}: the non-face folder {str(empty[0])!r} holds no image files; "
                "the non-face class is empty (remove the folder for a faces-only set)"
            )
    if not face_paths:
        raise UserInputError(
            f"{flag} {str(root)!r}: every image is under a non-face folder; the face class is empty "
            "(faces are the images outside folders named non_face/background/negative)"
        )
    rng = rng if rng is not None else np.random.default_rng(0)
    faces = read_images(_subsample(face_paths, limit, rng), size, flag=flag)
    nonfaces = read_images(_subsample(nonface_paths, limit, rng), size, flag=flag) if nonface_paths else None
    return FaceFolder(root=root, faces=faces, nonfaces=nonfaces)
