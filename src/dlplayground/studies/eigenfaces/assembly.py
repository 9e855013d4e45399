"""Assemble the study's faces and non-faces from the user's paths, or the announced offline default.

Every source goes through the same grey conversion and resize (``data.image_folder``); the non-faces are
picked from a larger *pool* -- by ``match_statistics`` unless matching is off -- so trivial statistics stop
giving the class away. A random sample of the pool, as many as were kept, is held back for the confound
check ("how well would trivial statistics have separated the classes without matching?").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlplayground.data.image_folder import load_face_folder, rgb_to_grey, to_square
from dlplayground.data.nonfaces import offline_nonfaces
from dlplayground.errors import UserInputError
from dlplayground.studies.eigenfaces.images import FACE, NONFACE, LabelledImages
from dlplayground.studies.eigenfaces.matching import match_statistics
from dlplayground.studies.eigenfaces.shortcut import shortcut_features

MIN_PER_CLASS = 10
POOL_FACTOR = 10
"""Non-face candidates drawn per non-face kept, for the matching (CIFAR-10)."""


@dataclass(frozen=True, kw_only=True)
class FaceDataRequest:
    """Where the study's images come from and how many to keep (the study's data flags)."""

    faces: Path | None
    """A folder of face images (a labelled layout also supplies non-faces)."""
    olivetti: Path | None
    """scikit-learn's Olivetti cache file or data home."""
    cifar: Path | None
    """CIFAR-10 python batches (non-faces)."""
    image_size_px: int
    max_per_class: int
    nonfaces_per_face: float
    patches: int
    """Offline default only: candidate patches from scikit-image's sample photographs."""
    match: bool
    """Keep the non-faces whose trivial statistics match the faces' (else a random subset of the pool)."""


@dataclass(frozen=True)
class ImagePart:
    """Images of one class from one source, already grey and resized."""

    images: np.ndarray
    label: int
    origins: tuple[str, ...]
    original_shapes: np.ndarray
    source: str
    is_fallback: bool


@dataclass(frozen=True)
class FaceDataset:
    """The assembled data and how it was made (sources, matching, the confound check's sample)."""

    data: LabelledImages
    source: str
    fallback: bool
    matched: bool
    pool_size: int
    unmatched_features: np.ndarray
    """Trivial statistics of a random subset of the non-face pool, as many as were kept: the confound check."""


def _subset(part: ImagePart, limit: int, rng: np.random.Generator) -> ImagePart:
    if len(part.images) <= limit:
        return part
    keep = np.sort(rng.choice(len(part.images), size=limit, replace=False))
    return ImagePart(part.images[keep], part.label, tuple(part.origins[i] for i in keep), part.original_shapes[keep],
                     part.source, part.is_fallback)


def _merge(parts: Sequence[ImagePart]) -> ImagePart:
    return ImagePart(
        np.concatenate([p.images for p in parts]), parts[0].label,
        tuple(o for p in parts for o in p.origins), np.concatenate([p.original_shapes for p in parts]),
        "; ".join(p.source for p in parts), any(p.is_fallback for p in parts),
    )


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack([to_square(img, size) for img in images]) if len(images) else np.empty((0, size, size))


def _face_parts(request: FaceDataRequest, rng: np.random.Generator) -> tuple[list[ImagePart], list[ImagePart]]:
    """Faces from ``--faces`` and/or Olivetti (or its fallback); non-faces found under ``--faces``."""
    from dlplayground.data.olivetti import load_face_images, load_olivetti

    size = request.image_size_px
    faces: list[ImagePart] = []
    nonfaces: list[ImagePart] = []
    if request.faces is not None:
        folder = load_face_folder(request.faces, size, limit=request.max_per_class, rng=rng)
        f = folder.faces
        faces.append(ImagePart(f.images, FACE, ("faces folder",) * len(f.images), f.original_shapes,
                               f"{len(f.images)} faces from {str(folder.root)} ({folder.layout}; {f.n_resized} "
                               f"resized to {size}x{size})", False))
        if folder.nonfaces is not None:
            n = folder.nonfaces
            nonfaces.append(ImagePart(n.images, NONFACE, ("faces folder non-faces",) * len(n.images),
                                      n.original_shapes, f"{len(n.images)} non-faces from {str(folder.root)}", False))
    if request.olivetti is not None or request.faces is None:
        loaded = load_olivetti(request.olivetti) if request.olivetti is not None else load_face_images(None)
        origin = "lfw_subset faces" if loaded.is_fallback else "olivetti"
        shapes = np.tile(np.asarray(loaded.images.shape[1:]), (len(loaded.images), 1))
        faces.append(ImagePart(_resize_all(loaded.images, size), FACE, (origin,) * len(loaded.images), shapes,
                               loaded.source, loaded.is_fallback))
    return faces, nonfaces


def _cifar_part(request: FaceDataRequest, limit: int, rng: np.random.Generator) -> ImagePart:
    from dlplayground.data.cifar10 import load_cifar10

    cifar = load_cifar10(request.cifar)
    keep = np.sort(rng.choice(len(cifar.images), size=min(limit, len(cifar.images)), replace=False))
    grey = rgb_to_grey(cifar.images[keep])
    origins = tuple(f"cifar:{cifar.label_names[i]}" for i in cifar.labels[keep])
    shapes = np.tile(np.asarray(cifar.images.shape[1:3]), (len(keep), 1))
    return ImagePart(_resize_all(grey, request.image_size_px), NONFACE, origins, shapes,
                     f"{len(keep)} of {cifar.source}", False)


def assemble_face_dataset(
    request: FaceDataRequest, rng: np.random.Generator, announce: Callable[[str], None] = lambda message: None,
) -> FaceDataset:
    """Assemble faces and non-faces from the paths given (or the offline default); announce each source.

    The non-face *pool* (CIFAR-10 images, a labelled folder's non-faces, or the offline patches) is larger
    than needed; if ``request.match``, the kept non-faces are those whose trivial statistics best match
    the faces' (``match_statistics``), otherwise a random subset.
    """
    faces, pool_parts = _face_parts(request, rng)
    n_faces = sum(len(p.images) for p in faces)
    if n_faces < MIN_PER_CLASS:
        raise UserInputError(
            f"only {n_faces} face images ({'; '.join(p.source for p in faces)}); the study needs at least "
            f"{MIN_PER_CLASS} per class"
        )
    merged_faces = _subset(_merge(faces), request.max_per_class, rng)
    n_faces = len(merged_faces.images)
    wanted = max(MIN_PER_CLASS, min(request.max_per_class, int(round(request.nonfaces_per_face * n_faces))))
    if request.cifar is not None:
        pool_limit = wanted if not request.match else max(POOL_FACTOR * wanted, 2000)
        pool_parts.append(_cifar_part(request, pool_limit, rng))
    if not pool_parts:
        offline = offline_nonfaces(request.image_size_px, request.patches, rng)
        pool_parts.append(ImagePart(offline.images, NONFACE, offline.origins, offline.original_shapes,
                                    offline.source, True))
    for part in faces:
        announce(f"faces: {part.source}")
    for part in pool_parts:
        announce(f"non-face pool: {part.source}")
    pool = _merge(pool_parts)
    if len(pool.images) < MIN_PER_CLASS:
        raise UserInputError(
            f"only {len(pool.images)} non-face images ({'; '.join(p.source for p in pool_parts)}); the study "
            f"needs at least {MIN_PER_CLASS} per class"
        )
    pool_stats = shortcut_features(pool.images)
    n_keep = min(wanted, len(pool.images))
    random_keep = np.sort(rng.choice(len(pool.images), size=n_keep, replace=False))
    matched = bool(request.match) and len(pool.images) > wanted
    if matched:
        keep = match_statistics(shortcut_features(merged_faces.images), pool_stats, n_keep, rng)
        how = f"{n_keep} of {len(pool.images)} matched to the faces on trivial statistics"
    else:
        keep = random_keep
        how = f"random {n_keep} of {len(pool.images)}" if n_keep < len(pool.images) else f"all {n_keep}"
    announce(f"non-faces kept: {how}")
    data = LabelledImages(
        images=np.concatenate([merged_faces.images, pool.images[keep]]),
        labels=np.concatenate([np.full(n_faces, FACE), np.full(n_keep, NONFACE)]),
        origins=merged_faces.origins + tuple(pool.origins[i] for i in keep),
        original_shapes=np.concatenate([merged_faces.original_shapes, pool.original_shapes[keep]]),
    )
    return FaceDataset(
        data=data, source=f"faces: {merged_faces.source} | non-faces ({how}): {pool.source}",
        fallback=merged_faces.is_fallback or pool.is_fallback, matched=matched, pool_size=len(pool.images),
        unmatched_features=pool_stats[random_keep],
    )
