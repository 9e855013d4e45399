"""Assemble the study's faces and its negative sources from the user's paths, or the announced offline default.

Every image goes the same way (``data.image_folder``): grey (BT.601), centre-cropped to a square and resized to
a *frame* of ``frame_px``, of which the centre ``window_px`` window is kept. For a face the window is the face;
the frame's corners give the *shifted face crops* (hard negatives with the faces' own resize history,
``data.nonfaces.shifted_face_crops``). Every negative source stays separate and named, and every image carries
its group (Olivetti subject, photograph, face image), so the splits can keep a group on one side and the
evaluation can score each source on its own.

Nothing is selected here by looking at the data: each negative source keeps a seeded random subset of at most
``max_per_class`` candidates; which of them a fold uses (matched to that fold's training faces, or random) is
decided per fold (``matching.fold_negatives``), so no test face ever influences a training or test non-face.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlplayground.data.image_folder import load_face_folder, rgb_to_grey, to_square
from dlplayground.data.nonfaces import NonFaceImages, centre_windows, offline_nonfaces, shifted_face_crops
from dlplayground.errors import UserInputError
from dlplayground.studies.eigenfaces.images import FACE, FACES, NONFACE, LabelledImages

MIN_PER_CLASS = 10
FOLDER_NEGATIVES = "faces-folder negatives"
CIFAR = "CIFAR-10"


@dataclass(frozen=True, kw_only=True)
class FaceDataRequest:
    """Where the study's images come from, the window geometry and how many to keep (the study's data flags)."""

    faces: Path | None
    """A folder of face images (a labelled layout also supplies non-faces)."""
    olivetti: Path | None
    """scikit-learn's Olivetti cache file or data home."""
    cifar: Path | None
    """CIFAR-10 python batches (non-faces)."""
    window_px: int
    frame_px: int
    max_per_class: int
    crops_per_face: int
    patches: int
    """Offline default only: candidate patches from scikit-image's sample photographs."""


@dataclass(frozen=True)
class FaceFrames:
    """Faces of one source as frames (``frame_px`` square; the face is the centre window)."""

    frames: np.ndarray
    origins: tuple[str, ...]
    groups: tuple[str, ...]
    original_shapes: np.ndarray
    source: str
    is_fallback: bool
    grouped_by_subject: bool


@dataclass(frozen=True)
class FaceDataset:
    """The assembled data and how it was made."""

    data: LabelledImages
    source: str
    fallback: bool
    frame_px: int
    descriptions: dict[str, str]
    """One line per source (``faces`` and every negative source) for the output and the data table."""
    grouped_by_subject: bool
    """True when the faces carry subject ids (Olivetti): the splits then keep a person on one side."""


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack([to_square(img, size) for img in images]) if len(images) else np.empty((0, size, size))


def _face_frames(request: FaceDataRequest, rng: np.random.Generator) -> tuple[list[FaceFrames], list[NonFaceImages]]:
    """Faces from ``--faces`` and/or Olivetti (or its fallback); non-faces found under ``--faces``."""
    from dlplayground.data.olivetti import load_face_images, load_olivetti

    frame, window = request.frame_px, request.window_px
    faces: list[FaceFrames] = []
    negatives: list[NonFaceImages] = []
    if request.faces is not None:
        folder = load_face_folder(request.faces, frame, limit=request.max_per_class, rng=rng)
        f = folder.faces
        names = tuple(f"faces folder: {p.relative_to(folder.root)}" for p in f.paths)
        faces.append(FaceFrames(f.images, ("faces folder",) * len(names), names, f.original_shapes,
                                f"{len(names)} faces from {str(folder.root)} ({folder.layout}; one group per image, "
                                "no subject ids)", False, False))
        if folder.nonfaces is not None:
            n = folder.nonfaces
            negatives.append(NonFaceImages(
                FOLDER_NEGATIVES, centre_windows(n.images, window), ("faces folder non-face",) * len(n.paths),
                tuple(f"faces folder: {p.relative_to(folder.root)}" for p in n.paths), n.original_shapes,
                f"{len(n.paths)} non-faces from {str(folder.root)}", False))
    if request.olivetti is not None or request.faces is None:
        loaded = load_olivetti(request.olivetti) if request.olivetti is not None else load_face_images(None)
        origin = "lfw_subset faces" if loaded.is_fallback else "olivetti"
        n = len(loaded.images)
        by_subject = loaded.targets is not None
        groups = (tuple(f"{origin} subject {t}" for t in loaded.targets) if by_subject
                  else tuple(f"{origin} image {i}" for i in range(n)))
        how = "grouped by subject" if by_subject else "one group per image: no subject ids shipped"
        faces.append(FaceFrames(_resize_all(loaded.images, frame), (origin,) * n, groups,
                                np.tile(np.asarray(loaded.images.shape[1:]), (n, 1)), f"{loaded.source}; {how}",
                                loaded.is_fallback, by_subject))
    return faces, negatives


def _merge_faces(parts: Sequence[FaceFrames], limit: int, rng: np.random.Generator) -> FaceFrames:
    frames = np.concatenate([p.frames for p in parts])
    origins = tuple(o for p in parts for o in p.origins)
    groups = tuple(g for p in parts for g in p.groups)
    shapes = np.concatenate([p.original_shapes for p in parts])
    keep = np.arange(len(frames)) if len(frames) <= limit else np.sort(rng.choice(len(frames), limit, replace=False))
    return FaceFrames(frames[keep], tuple(origins[i] for i in keep), tuple(groups[i] for i in keep), shapes[keep],
                      "; ".join(p.source for p in parts), any(p.is_fallback for p in parts),
                      all(p.grouped_by_subject for p in parts))


def _cifar_source(request: FaceDataRequest, rng: np.random.Generator) -> NonFaceImages:
    from dlplayground.data.cifar10 import load_cifar10

    cifar = load_cifar10(request.cifar)
    keep = np.sort(rng.choice(len(cifar.images), size=min(request.max_per_class, len(cifar.images)), replace=False))
    frames = _resize_all(rgb_to_grey(cifar.images[keep]), request.frame_px)
    origins = tuple(f"cifar:{cifar.label_names[i]}" for i in cifar.labels[keep])
    return NonFaceImages(
        CIFAR, centre_windows(frames, request.window_px), origins,
        tuple(f"cifar image {i}" for i in keep), np.tile(np.asarray(cifar.images.shape[1:3]), (len(keep), 1)),
        f"{len(keep)} of {cifar.source}", False)


def _capped(source: NonFaceImages, limit: int, rng: np.random.Generator) -> NonFaceImages:
    if len(source.images) <= limit:
        return source
    keep = np.sort(rng.choice(len(source.images), size=limit, replace=False))
    return NonFaceImages(source.name, source.images[keep], tuple(source.origins[i] for i in keep),
                         tuple(source.groups[i] for i in keep), source.original_shapes[keep],
                         f"{source.source} (random {limit} kept)", source.is_fallback)


def assemble_face_dataset(
    request: FaceDataRequest, rng: np.random.Generator, announce: Callable[[str], None] = lambda message: None,
) -> FaceDataset:
    """Assemble the faces and every negative source from the paths given (or the offline default); announce each.

    Negative sources: the labelled folder's non-faces and/or CIFAR-10 when given, else the offline sources
    (``lfw_subset`` backgrounds, sample-photo patches); always, unless ``crops_per_face`` is 0, the shifted
    crops of the faces themselves.
    """
    window = request.window_px
    face_parts, negatives = _face_frames(request, rng)
    n_faces = sum(len(p.frames) for p in face_parts)
    if n_faces < MIN_PER_CLASS:
        raise UserInputError(
            f"only {n_faces} face images ({'; '.join(p.source for p in face_parts)}); the study needs at least "
            f"{MIN_PER_CLASS} per class"
        )
    faces = _merge_faces(face_parts, request.max_per_class, rng)
    if request.cifar is not None:
        negatives.append(_cifar_source(request, rng))
    if not negatives:
        negatives.extend(NonFaceImages(s.name, centre_windows(s.images, window), s.origins, s.groups,
                                       s.original_shapes, s.source + " (offline fallback; pass --cifar DIR for real "
                                       "non-faces)", True)
                         for s in offline_nonfaces(request.frame_px, request.patches, rng))
    if request.crops_per_face > 0:
        negatives.append(shifted_face_crops(faces.frames, window, faces.groups, request.crops_per_face, rng,
                                            original_shapes=faces.original_shapes, is_fallback=faces.is_fallback))
    negatives = [_capped(s, request.max_per_class, rng) for s in negatives]
    announce(f"faces: {faces.source}")
    for source in negatives:
        announce(f"negative source {source.name!r}: {source.source}")
        if len(source.images) < MIN_PER_CLASS:
            raise UserInputError(f"negative source {source.name!r} has only {len(source.images)} images; the study "
                                 f"needs at least {MIN_PER_CLASS} per source")
    n = len(faces.frames)
    data = LabelledImages(
        images=np.concatenate([centre_windows(faces.frames, window), *(s.images for s in negatives)]),
        labels=np.concatenate([np.full(n, FACE), *(np.full(len(s.images), NONFACE) for s in negatives)]),
        origins=faces.origins + tuple(o for s in negatives for o in s.origins),
        original_shapes=np.concatenate([faces.original_shapes, *(s.original_shapes for s in negatives)]),
        sources=(FACES,) * n + tuple(s.name for s in negatives for _ in s.origins),
        groups=faces.groups + tuple(g for s in negatives for g in s.groups),
    )
    descriptions = {FACES: faces.source, **{s.name: s.source for s in negatives}}
    return FaceDataset(
        data=data, source=" | ".join(f"{name}: {text}" for name, text in descriptions.items()),
        fallback=faces.is_fallback or any(s.is_fallback for s in negatives), frame_px=request.frame_px,
        descriptions=descriptions, grouped_by_subject=faces.grouped_by_subject,
    )
