"""The study's images and labels, and the per-image standardisation every model sees.

Label convention: 1 = face (the positive class), 0 = non-face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE, NONFACE = 1, 0
CONTRAST_FLOOR = 0.02
"""Per-image std floor (grey units in [0, 1], about 5 of 255 levels): a flat patch is not blown up to
unit contrast out of its sensor noise."""


@dataclass(frozen=True)
class LabelledImages:
    """The study's data: grey images of one size, labels (1 = face), and where each image came from.

    ``origins`` names each image's source (e.g. ``lfw_subset faces``, ``skimage:brick``, ``cifar:cat``);
    ``original_shapes`` its (height, width) before resizing -- both for the shortcut analysis.
    """

    images: np.ndarray
    labels: np.ndarray
    origins: tuple[str, ...]
    original_shapes: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 3 or self.images.shape[1] != self.images.shape[2]:
            raise ValueError(f"images must be (n, s, s), got {self.images.shape}")
        if self.labels.shape != (n,) or len(self.origins) != n or self.original_shapes.shape != (n, 2):
            raise ValueError("labels, origins and original_shapes need one entry per image")
        if not set(np.unique(self.labels)) <= {FACE, NONFACE}:
            raise ValueError("labels must be 0 (non-face) or 1 (face)")

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def n_faces(self) -> int:
        return int(np.sum(self.labels == FACE))

    @property
    def n_nonfaces(self) -> int:
        return int(np.sum(self.labels == NONFACE))


def standardise_images(images: np.ndarray, floor: float = CONTRAST_FLOOR) -> np.ndarray:
    """Flatten ``(n, h, w)`` images and give each zero mean and unit std (std floored at ``floor``).

    Applied to every class alike, so no classifier can separate the classes by brightness or contrast.
    """
    flat = images.reshape(len(images), -1).astype(np.float64)
    centred = flat - flat.mean(axis=1, keepdims=True)
    scale = np.maximum(flat.std(axis=1, keepdims=True), floor)
    return centred / scale
