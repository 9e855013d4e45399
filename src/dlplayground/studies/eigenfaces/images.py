"""The study's images and labels, and the per-image standardisation every model sees.

Label convention: 1 = face (the positive class), 0 = non-face. Every image also names its *source* (``faces``
for every face, else the negative source it came from: ``lfw backgrounds``, ``shifted face crops``, ``CIFAR-10``,
...) and its *group* (the subject, photograph or face image it was cut from), which the splits keep together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE, NONFACE = 1, 0
FACES = "faces"
"""The source name of every face image (negative sources have their own names)."""
CONTRAST_FLOOR = 0.02
"""Per-image std floor (grey units in [0, 1], about 5 of 255 levels): a flat patch is not blown up to
unit contrast out of its sensor noise."""


@dataclass(frozen=True)
class LabelledImages:
    """The study's data: grey images of one size, labels (1 = face), and where each image came from.

    ``sources`` names each image's source (``FACES`` for faces; the negative source otherwise) -- the unit of
    the per-source and leave-one-source-out evaluation; ``groups`` the subject, photograph or face image it was
    cut from -- the unit the splits keep on one side; ``origins`` a finer origin (e.g. ``olivetti``,
    ``skimage:brick``, ``cifar:cat``, ``shifted crop (top-left)``); ``original_shapes`` its (height, width)
    before resizing.
    """

    images: np.ndarray
    labels: np.ndarray
    origins: tuple[str, ...]
    original_shapes: np.ndarray
    sources: tuple[str, ...]
    groups: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 3 or self.images.shape[1] != self.images.shape[2]:
            raise ValueError(f"images must be (n, s, s), got {self.images.shape}")
        if (self.labels.shape != (n,) or len(self.origins) != n or self.original_shapes.shape != (n, 2)
                or len(self.sources) != n or len(self.groups) != n):
            raise ValueError("labels, origins, original_shapes, sources and groups need one entry per image")
        if not set(np.unique(self.labels)) <= {FACE, NONFACE}:
            raise ValueError("labels must be 0 (non-face) or 1 (face)")
        if any((source == FACES) != (label == FACE) for source, label in zip(self.sources, self.labels, strict=True)):
            raise ValueError(f"the source {FACES!r} must name exactly the face images")

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def n_faces(self) -> int:
        return int(np.sum(self.labels == FACE))

    @property
    def n_nonfaces(self) -> int:
        return int(np.sum(self.labels == NONFACE))

    @property
    def negative_sources(self) -> tuple[str, ...]:
        """The negative sources, in the order they first appear."""
        return tuple(dict.fromkeys(s for s in self.sources if s != FACES))

    def source_mask(self, source: str) -> np.ndarray:
        return np.asarray(self.sources, dtype=object) == source


def standardise_images(images: np.ndarray, floor: float = CONTRAST_FLOOR) -> np.ndarray:
    """Flatten ``(n, h, w)`` images and give each zero mean and unit std (std floored at ``floor``).

    Applied to every class alike, so no classifier can separate the classes by brightness or contrast.
    """
    flat = images.reshape(len(images), -1).astype(np.float64)
    centred = flat - flat.mean(axis=1, keepdims=True)
    scale = np.maximum(flat.std(axis=1, keepdims=True), floor)
    return centred / scale
