"""Non-face images, one named *source* at a time: offline sources shipped with scikit-image, and hard negatives
cut from the face images themselves.

A face detector is only as good as the non-faces it is tested against, and non-faces from a different data set
than the faces differ in ways that have nothing to do with faces (brightness, sharpness, resize history). So
every non-face set here is a separate, named source, and each image carries a *group* (the photograph or face
image it was cut from), so a study can keep images cut from one photograph on one side of a train/test split.

Offline sources (nothing is downloaded; both ship inside scikit-image):

* ``lfw_backgrounds`` -- ``lfw_subset()[100:]``, the 100 non-face 25 x 25 crops that accompany the 100 LFW
  faces: *background crops cut from the same photographs as the faces* (walls, clothes, blurred
  surroundings), so they share the faces' camera, compression and resize history. scikit-image does not say
  which photograph each came from, so each crop is its own group.
* ``sample_image_patches`` -- random square patches of random side (``min_side_px`` .. ``max_side_px``,
  log-uniform) from the bundled sample photographs in ``SAMPLE_IMAGES`` (textures, text, coins, the moon, a
  coffee cup, a rocket, a motorcycle, a clock, ...), resized to the frame size. Their group is the photograph,
  so patches of one texture never sit on both sides of a split. ``astronaut`` and ``camera`` (a person's face)
  and ``chelsea`` (a cat's face) are left out so no "non-face" contains a face.

Hard negatives from the faces (``shifted_face_crops``): given each face as a *frame* larger than the face
window (the window is the frame's centre), the windows in the frame's corners are cut out. They come from the
same image, at the same scale and with the same resize history as the face, but are misaligned by a third of
the window side in both directions (intersection over union with the face window 2/7 at the default
geometry), so they show parts of a face -- an eye and hair, a cheek and collar -- the way a detector scanning
an image sees them next to every face. This is Sung & Poggio's and Turk & Pentland's test: a face detector must
reject near misses, not only textures. Each crop's group is its face's group.

Everything goes through the same grey conversion (``rgb_to_grey``, BT.601) and the same ``to_square`` resize as
every face, so the sources differ in content and origin, not in this module's preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dlplayground.data.image_folder import rgb_to_grey, to_square
from dlplayground.data.olivetti import LFW_FACES

LFW_BACKGROUNDS = "lfw backgrounds"
SAMPLE_PATCHES = "sample-photo patches"
SHIFTED_CROPS = "shifted face crops"
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def _stereo_left() -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0]


def _sample_loaders() -> dict[str, Callable[[], np.ndarray]]:
    from skimage import data

    return {
        "brick": data.brick, "grass": data.grass, "gravel": data.gravel, "coffee": data.coffee,
        "coins": data.coins, "moon": data.moon, "page": data.page, "text": data.text, "rocket": data.rocket,
        "hubble_deep_field": data.hubble_deep_field, "retina": data.retina, "clock": data.clock,
        "cell": data.cell, "motorcycle": _stereo_left,
    }


SAMPLE_IMAGES = ("brick", "grass", "gravel", "coffee", "coins", "moon", "page", "text", "rocket",
                 "hubble_deep_field", "retina", "clock", "cell", "motorcycle")
EXCLUDED_SAMPLE_IMAGES = {"astronaut": "shows a person's face", "camera": "shows a person's face",
                          "chelsea": "shows a cat's face"}


@dataclass(frozen=True)
class NonFaceImages:
    """One source of non-face images: ``(n, size, size)`` float64 grey in [0, 1] and, per image, its origin,
    its group (the photograph or face image it was cut from) and its (height, width) before resizing."""

    name: str
    images: np.ndarray
    origins: tuple[str, ...]
    groups: tuple[str, ...]
    original_shapes: np.ndarray
    source: str
    """A human-readable line for the output (says "offline fallback" where packaged data stands in)."""
    is_fallback: bool = True

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 3 or self.images.shape[1] != self.images.shape[2]:
            raise ValueError(f"NonFaceImages.images must be (n, s, s), got {self.images.shape}")
        if len(self.origins) != n or len(self.groups) != n or self.original_shapes.shape != (n, 2):
            raise ValueError("NonFaceImages: origins, groups and original_shapes need one entry per image")


def _as_grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == bool:
        return image.astype(np.float64)
    if image.ndim == 3:
        if image.shape[-1] == 4:  # RGBA: composite onto black, as the folder loader does
            alpha = image[..., 3:4].astype(np.float64) / 255.0
            return rgb_to_grey(image[..., :3].astype(np.float64) / 255.0 * alpha)
        return rgb_to_grey(image)
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    return np.clip(image.astype(np.float64) / scale, 0.0, 1.0)


def lfw_nonfaces(size: int) -> NonFaceImages:
    """The 100 background crops of ``skimage.data.lfw_subset`` resized to ``size`` x ``size`` (one group each)."""
    from skimage import data

    raw = np.clip(np.asarray(data.lfw_subset(), dtype=np.float64)[LFW_FACES:], 0.0, 1.0)
    images = np.stack([to_square(img, size) for img in raw])
    return NonFaceImages(
        name=LFW_BACKGROUNDS, images=images, origins=("lfw_subset background",) * len(images),
        groups=tuple(f"lfw background {i}" for i in range(len(images))),
        original_shapes=np.tile(np.asarray(raw.shape[1:]), (len(raw), 1)),
        source=(f"scikit-image lfw_subset background crops ({len(images)} images, 25x25 px, cut from the same "
                "photographs as the lfw faces)"),
    )


def sample_image_patches(
    n: int, size: int, rng: np.random.Generator, *, min_side_px: int = 12, max_side_px: int = 160,
) -> NonFaceImages:
    """``n`` random square patches from the sample photographs, each resized to ``size`` x ``size``.

    Patches are spread evenly over the photographs (round-robin in a shuffled order) so no single texture
    dominates; the side is log-uniform in [min_side_px, max_side_px], clipped to the photograph. A patch's
    group is its photograph.
    """
    if n <= 0:
        return NonFaceImages(SAMPLE_PATCHES, np.empty((0, size, size)), (), (), np.empty((0, 2), dtype=np.int64),
                             "no sample-image patches")
    loaders = _sample_loaders()
    photos = {name: _as_grey(loaders[name]()) for name in SAMPLE_IMAGES}
    order = [SAMPLE_IMAGES[i] for i in rng.permutation(len(SAMPLE_IMAGES))]
    images = np.empty((n, size, size), dtype=np.float64)
    shapes = np.empty((n, 2), dtype=np.int64)
    origins = []
    for i in range(n):
        name = order[i % len(order)]
        photo = photos[name]
        side = int(round(np.exp(rng.uniform(np.log(min_side_px), np.log(max_side_px)))))
        side = max(2, min(side, *photo.shape))
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        images[i] = to_square(photo[top:top + side, left:left + side], size)
        shapes[i] = (side, side)
        origins.append(f"skimage:{name}")
    return NonFaceImages(
        name=SAMPLE_PATCHES, images=images, origins=tuple(origins), groups=tuple(origins), original_shapes=shapes,
        source=(f"{n} patches ({min_side_px}-{max_side_px} px) from {len(SAMPLE_IMAGES)} scikit-image sample "
                "photographs"),
    )


def offline_nonfaces(size: int, n_patches: int, rng: np.random.Generator) -> list[NonFaceImages]:
    """The offline non-face sources, separately: the ``lfw_subset`` backgrounds and the sample-photo patches."""
    sources = [lfw_nonfaces(size), sample_image_patches(n_patches, size, rng)]
    return [source for source in sources if len(source.images)]


def window_offset(frame_px: int, window_px: int) -> int:
    """Offset of a corner window from the centre window along each axis, in pixels: (frame - window) // 2."""
    if not 0 < window_px <= frame_px:
        raise ValueError(f"window of {window_px} px does not fit a frame of {frame_px} px")
    return (frame_px - window_px) // 2


def centre_windows(frames: np.ndarray, window_px: int) -> np.ndarray:
    """The centre ``window_px`` x ``window_px`` window of every ``(n, frame, frame)`` frame."""
    o = window_offset(frames.shape[1], window_px)
    return frames[:, o:o + window_px, o:o + window_px]


def corner_iou(frame_px: int, window_px: int) -> float:
    """Intersection over union of a corner window with the centre window (both ``window_px`` wide)."""
    overlap = (window_px - window_offset(frame_px, window_px)) ** 2
    return overlap / (2 * window_px**2 - overlap)


def shifted_face_crops(
    frames: np.ndarray, window_px: int, groups: Sequence[str], per_face: int, rng: np.random.Generator,
    *, original_shapes: np.ndarray | None = None, is_fallback: bool = False,
) -> NonFaceImages:
    """Hard negatives: ``per_face`` distinct corner windows (random corners) of each face frame (module docstring).

    ``frames`` are ``(n, frame, frame)`` face images whose centre window is the face; the crops keep the
    frame's pixels exactly (no further resize), so they share the faces' resize history. ``groups`` names each
    face's group; every crop inherits it, and its face's ``original_shapes`` row (default: the frame size).
    """
    n, frame_px = len(frames), frames.shape[1]
    if len(groups) != n:
        raise ValueError("shifted_face_crops: one group per face frame")
    if not 1 <= per_face <= len(CORNERS):
        raise ValueError(f"per_face must be 1..{len(CORNERS)}, got {per_face}")
    step = 2 * window_offset(frame_px, window_px)
    if step == 0:
        raise ValueError(f"a {window_px} px window fills the {frame_px} px frame: no room for a shifted crop")
    shapes = np.full((n, 2), frame_px, dtype=np.int64) if original_shapes is None else np.asarray(original_shapes)
    images, origins, crop_groups, parents = [], [], [], []
    for i in range(n):
        for c in np.sort(rng.choice(len(CORNERS), size=per_face, replace=False)):
            top, left = step * (c // 2), step * (c % 2)
            images.append(frames[i, top:top + window_px, left:left + window_px])
            origins.append(f"shifted crop ({CORNERS[c]})")
            crop_groups.append(groups[i])
            parents.append(i)
    shift_share = window_offset(frame_px, window_px) / window_px
    return NonFaceImages(
        name=SHIFTED_CROPS, images=np.stack(images), origins=tuple(origins), groups=tuple(crop_groups),
        original_shapes=shapes[parents],
        source=(f"{len(images)} corner windows of the face frames ({per_face} per face; shifted by {shift_share:.0%} "
                f"of the window each way, IoU {corner_iou(frame_px, window_px):.2f} with the face window)"),
        is_fallback=is_fallback,
    )
