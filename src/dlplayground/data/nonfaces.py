"""Offline non-face images: scikit-image's ``lfw_subset`` non-faces plus patches cut from its sample images.

Used when the user gives no non-face data (no ``--cifar``, no non-face folder under ``--faces``). Both
sources ship inside scikit-image, so nothing is downloaded:

* ``lfw_subset()[100:]`` -- the 100 non-face 25 x 25 crops that accompany the 100 LFW faces. They are
  cut from the same photographs as the faces, but most are smooth background (walls, clothes, blurred
  surroundings) -- much less sharp than the faces, which a shortcut could exploit;
* random square patches of random side (``min_side_px`` .. ``max_side_px``, log-uniform) from the
  bundled sample photographs listed in ``SAMPLE_IMAGES`` (textures, text, coins, the moon, a coffee cup,
  a rocket, a motorcycle, a clock, ...). Small patches are enlarged and large ones shrunk to the target
  size, so the set spans sharp and smooth content. ``astronaut`` and ``camera`` (which show a person's
  face) and ``chelsea`` (a cat's face) are left out so no "non-face" contains a face.

Both go through the same grey conversion (``rgb_to_grey``, BT.601) and the same ``to_square`` resize as
every face, so the classes differ in content, not in preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlplayground.data.image_folder import rgb_to_grey, to_square
from dlplayground.data.olivetti import LFW_FACES

LFW_SOURCE = "lfw_subset"


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
    """Non-face images (n, size, size) float64 grey in [0, 1]; ``origins`` names each image's source."""

    images: np.ndarray
    origins: tuple[str, ...]
    original_shapes: np.ndarray
    source: str
    is_fallback: bool = True


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
    """The 100 non-face crops of ``skimage.data.lfw_subset`` resized to ``size`` x ``size``."""
    from skimage import data

    raw = np.clip(np.asarray(data.lfw_subset(), dtype=np.float64)[LFW_FACES:], 0.0, 1.0)
    images = np.stack([to_square(img, size) for img in raw])
    return NonFaceImages(
        images=images, origins=(LFW_SOURCE,) * len(images),
        original_shapes=np.tile(np.asarray(raw.shape[1:]), (len(raw), 1)),
        source=f"scikit-image lfw_subset non-faces ({len(images)} images, 25x25 px)",
    )


def sample_image_patches(
    n: int, size: int, rng: np.random.Generator, *, min_side_px: int = 12, max_side_px: int = 160,
) -> NonFaceImages:
    """``n`` random square patches from the sample photographs, each resized to ``size`` x ``size``.

    Patches are spread evenly over the photographs (round-robin in a shuffled order) so no single texture
    dominates; the side is log-uniform in [min_side_px, max_side_px], clipped to the photograph.
    """
    if n <= 0:
        return NonFaceImages(np.empty((0, size, size)), (), np.empty((0, 2), dtype=np.int64),
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
        images=images, origins=tuple(origins), original_shapes=shapes,
        source=(f"{n} patches ({min_side_px}-{max_side_px} px) from {len(SAMPLE_IMAGES)} scikit-image sample "
                "photographs"),
    )


def offline_nonfaces(size: int, n_patches: int, rng: np.random.Generator) -> NonFaceImages:
    """The offline non-face set: ``lfw_subset`` non-faces plus ``n_patches`` sample-image patches."""
    lfw = lfw_nonfaces(size)
    patches = sample_image_patches(n_patches, size, rng)
    return NonFaceImages(
        images=np.concatenate([lfw.images, patches.images]),
        origins=lfw.origins + patches.origins,
        original_shapes=np.concatenate([lfw.original_shapes, patches.original_shapes]),
        source=f"{lfw.source} + {patches.source} (offline fallback; pass --cifar DIR for the real data)",
    )
