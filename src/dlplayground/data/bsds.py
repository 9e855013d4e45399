"""The Berkeley Segmentation Data Set (BSDS500): images and human boundary annotations, from its own layout.

The layout is the one ``BSR_bsds500.tgz`` unpacks to (its folder ``BSR/BSDS500/data``)::

    images/{train,val,test}/<id>.jpg          colour photographs, 481 x 321 or 321 x 481 px
    groundTruth/{train,val,test}/<id>.mat     the human annotations of the image with the same id

Each ``.mat`` file holds one variable, ``groundTruth``: a 1 x k MATLAB cell array with one struct per human
annotator (k is usually 5 to 7), each with the fields ``Segmentation`` (h x w region labels) and
``Boundaries`` (h x w, 1 on that annotator's region boundaries). ``scipy.io.loadmat`` returns it as a (1, k)
object array whose element ``[0, i]`` is a (1, 1) struct array, so annotator ``i``'s boundary map is
``gt[0, i]["Boundaries"][0, 0]`` -- the access every BSDS reader uses.

What we return. Each image as grey levels in [0, 1] (float64): colour JPEGs through
``skimage.color.rgb2gray`` (ITU-R BT.709 luma), grey-scale ones divided by 255; the edge study's operators work
on grey images, as the benchmark's classic baselines (Canny, gradient magnitude) did. Each annotator's boundary
map as a boolean array and its segmentation as integers, all checked to have the image's shape. The path given
may be the ``data`` folder itself or a folder above it (``BSR``, ``BSDS500``): the first of ``DIR``,
``DIR/data``, ``DIR/BSDS500/data`` and ``DIR/BSR/BSDS500/data`` holding both ``images`` and ``groundTruth`` is
used.

Nothing here downloads (the dataset comes from the Berkeley vision group's site under its own terms); any
missing or malformed file ends in a ``UserInputError`` naming it and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlplayground.errors import UserInputError, choices_text

BSDS_SPLITS = ("train", "val", "test")
"""The three splits of BSDS500 (200 / 100 / 200 images)."""
IMAGE_SUFFIX = ".jpg"
TRUTH_SUFFIX = ".mat"
_ROOT_CANDIDATES = (".", "data", "BSDS500/data", "BSR/BSDS500/data")


@dataclass(frozen=True)
class BsdsImage:
    """One BSDS image and its human annotations (one boundary map and segmentation per annotator)."""

    name: str
    """The image id (file name without suffix)."""
    image: np.ndarray
    """(h, w) float64 grey levels in [0, 1]."""
    boundaries: tuple[np.ndarray, ...]
    """Each annotator's (h, w) boolean boundary map."""
    segmentations: tuple[np.ndarray, ...]
    """Each annotator's (h, w) region labels."""

    @property
    def annotators(self) -> int:
        return len(self.boundaries)


@dataclass(frozen=True)
class BsdsSplit:
    """The images of one split that were read, and how many the split holds."""

    root: Path
    split: str
    images: tuple[BsdsImage, ...]
    available: int
    """Images in the split folder (``images`` holds the first ``len(images)`` of them, by id)."""

    @property
    def source(self) -> str:
        return f"BSDS500 {self.split} ({len(self.images)} of {self.available} images) from {str(self.root)}"


def resolve_bsds_root(path: Path | str) -> Path:
    """The folder holding ``images/`` and ``groundTruth/``: ``path`` itself or a known sub-folder of it."""
    given = Path(path).expanduser()
    if not given.exists():
        raise UserInputError(f"--bsds {str(given)!r}: no such folder")
    if not given.is_dir():
        raise UserInputError(f"--bsds {str(given)!r}: not a folder (expected the BSDS500 'data' folder holding "
                             "images/ and groundTruth/)")
    for candidate in _ROOT_CANDIDATES:
        root = given / candidate
        if (root / "images").is_dir() and (root / "groundTruth").is_dir():
            return root.resolve()
    raise UserInputError(f"--bsds {str(given)!r}: no images/ and groundTruth/ folders in it or in "
                         f"{', '.join(c for c in _ROOT_CANDIDATES if c != '.')} below it (the BSDS500 layout)")


def split_ids(root: Path, split: str) -> list[str]:
    """The image ids of ``split``, sorted; every image must have its ground-truth file."""
    if split not in BSDS_SPLITS:
        raise UserInputError(f"unknown BSDS split {split!r}; expected {choices_text(BSDS_SPLITS)}")
    image_dir, truth_dir = root / "images" / split, root / "groundTruth" / split
    for folder in (image_dir, truth_dir):
        if not folder.is_dir():
            raise UserInputError(f"--bsds: missing folder {str(folder)!r} (the BSDS500 layout has "
                                 f"images/{split} and groundTruth/{split})")
    ids = sorted(p.stem for p in image_dir.glob(f"*{IMAGE_SUFFIX}"))
    if not ids:
        raise UserInputError(f"--bsds: no {IMAGE_SUFFIX} images in {str(image_dir)!r}")
    missing = [i for i in ids if not (truth_dir / f"{i}{TRUTH_SUFFIX}").is_file()]
    if missing:
        raise UserInputError(f"--bsds: {len(missing)} image(s) in {str(image_dir)!r} have no ground truth in "
                             f"{str(truth_dir)!r}, e.g. {missing[0]}{TRUTH_SUFFIX}")
    return ids


def read_image(path: Path) -> np.ndarray:
    """A BSDS JPEG as (h, w) float64 grey levels in [0, 1] (colour through ``skimage.color.rgb2gray``)."""
    from PIL import Image, UnidentifiedImageError
    from skimage.color import rgb2gray

    try:
        with Image.open(path) as handle:
            mode = handle.mode
            pixels = np.asarray(handle.convert("L" if mode in ("L", "1", "I;16", "I") else "RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise UserInputError(f"--bsds: cannot read image {str(path)!r} ({exc})") from None
    if pixels.ndim == 2:
        return pixels.astype(np.float64) / 255.0
    return np.asarray(rgb2gray(pixels), dtype=np.float64)


def _field(struct: object, name: str, path: Path, index: int) -> np.ndarray:
    try:
        value = struct[name]  # type: ignore[index]
    except (ValueError, KeyError, IndexError, TypeError):
        raise UserInputError(f"--bsds: {str(path)!r}: annotator {index} has no field {name!r} (expected structs "
                             "with Segmentation and Boundaries)") from None
    while isinstance(value, np.ndarray) and value.dtype == object:  # (1, 1) cells around the array
        if value.size != 1:
            raise UserInputError(f"--bsds: {str(path)!r}: annotator {index}'s {name} is not one array")
        value = value.reshape(-1)[0]
    array = np.asarray(value)
    if array.ndim != 2 or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise UserInputError(f"--bsds: {str(path)!r}: annotator {index}'s {name} is not a 2-D numeric array "
                             f"(got shape {array.shape}, dtype {array.dtype})")
    return array


def read_ground_truth(path: Path) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Every annotator's (boundaries, segmentation) from one ``groundTruth`` .mat file (module docstring)."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        content = loadmat(path)
    except (MatReadError, OSError, ValueError, TypeError) as exc:
        raise UserInputError(f"--bsds: cannot read {str(path)!r} as a MATLAB .mat file ({exc})") from None
    if "groundTruth" not in content:
        found = sorted(k for k in content if not k.startswith("__"))
        raise UserInputError(f"--bsds: {str(path)!r} has no 'groundTruth' variable (found {found or 'none'})")
    cell = np.asarray(content["groundTruth"])
    if cell.dtype != object or cell.size == 0:
        raise UserInputError(f"--bsds: {str(path)!r}: 'groundTruth' is not a non-empty cell array of structs")
    boundaries, segmentations = [], []
    for index, struct in enumerate(cell.reshape(-1)):
        boundaries.append(_field(struct, "Boundaries", path, index) != 0)
        segmentations.append(_field(struct, "Segmentation", path, index).astype(np.int64))
    return tuple(boundaries), tuple(segmentations)


def load_bsds_image(root: Path, split: str, name: str) -> BsdsImage:
    """One image of ``split`` with its annotations, shapes checked."""
    image_path = root / "images" / split / f"{name}{IMAGE_SUFFIX}"
    truth_path = root / "groundTruth" / split / f"{name}{TRUTH_SUFFIX}"
    image = read_image(image_path)
    boundaries, segmentations = read_ground_truth(truth_path)
    for index, (b, s) in enumerate(zip(boundaries, segmentations, strict=True)):
        if b.shape != image.shape or s.shape != image.shape:
            raise UserInputError(f"--bsds: {str(truth_path)!r}: annotator {index}'s maps have shape {b.shape}, "
                                 f"the image {str(image_path)!r} has {image.shape}")
    return BsdsImage(name=name, image=image, boundaries=boundaries, segmentations=segmentations)


def load_bsds_split(path: Path | str, split: str, limit: int | None = None) -> BsdsSplit:
    """The first ``limit`` images of ``split`` (by id; all when ``None``) with their annotations."""
    if limit is not None and limit < 1:
        raise UserInputError(f"--bsds-images must be >= 1, got {limit}")
    root = resolve_bsds_root(path)
    ids = split_ids(root, split)
    chosen = ids if limit is None else ids[:limit]
    return BsdsSplit(root=root, split=split, images=tuple(load_bsds_image(root, split, i) for i in chosen),
                     available=len(ids))
