"""The edge study's resolved configuration: every knob that sets the scale of a run, checked on creation.

``FULL_DEFAULTS`` and ``QUICK_DEFAULTS`` are the two starting points (``--quick`` picks the second);
``study.resolve`` overrides them with the flags given explicitly, so the recorded config holds the values
the run used, never ``None`` for "the default".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlplayground.errors import UserInputError, choices_text
from dlplayground.studies.edges.matching import DEFAULT_TOLERANCE_PX
from dlplayground.studies.edges.operators import OPERATORS, operator_grid
from dlplayground.studies.edges.scenes import SCENE_KINDS
from dlplayground.studies.runner import StudyConfig

FULL_DEFAULTS: dict[str, Any] = {
    "operators": tuple(OPERATORS), "sigmas_px": (0.0, 1.0, 2.0, 3.0), "noise_levels": (0.0, 0.05, 0.1, 0.2),
    "blur_levels_px": (0.0, 1.0, 2.0), "scene_kinds": SCENE_KINDS, "tune_images_per_kind": 8,
    "score_images_per_kind": 24, "scene_size_px": 96, "n_thresholds": 20, "tolerance_px": DEFAULT_TOLERANCE_PX,
    "bootstrap_resamples": 1000, "permutations": 10000, "face_images": 100, "face_noise_levels": (0.02, 0.05, 0.1),
    "face_sigmas_px": (0.0, 1.0, 2.0), "face_edge_density": 0.08, "face_noise_draws": 2, "bsds_images": 10,
}
"""The default run (``workers`` is resolved from the machine: min(2, CPUs))."""
QUICK_DEFAULTS: dict[str, Any] = {
    **FULL_DEFAULTS, "sigmas_px": (1.0,), "noise_levels": (0.0, 0.1), "blur_levels_px": (0.0,),
    "tune_images_per_kind": 3, "score_images_per_kind": 4, "scene_size_px": 64, "n_thresholds": 10,
    "bootstrap_resamples": 200, "permutations": 500, "face_images": 6, "face_noise_levels": (0.05,),
    "face_sigmas_px": (1.0,), "face_noise_draws": 1, "workers": 1, "bsds_images": 2,
}
"""Seconds-scale smoke run: every code path (every scene kind), tiny sizes, in-process."""
CI_LEVEL = 0.95
"""Confidence level of the per-operator intervals; 1 - CI_LEVEL is the family-wise error rate of the decisions."""


@dataclass(frozen=True, kw_only=True)
class EdgeStudyConfig(StudyConfig):
    """The edge study's config, resolved; recorded in ``result.json``. Invalid values raise ``UserInputError``."""

    olivetti: Path | None
    """Olivetti cache file or the folder holding it; ``None``: not given (scikit-learn's data home, else the
    lfw_subset fallback)."""
    bsds: Path | None
    """BSDS500 folder (``images/`` + ``groundTruth/``, or a folder above them); ``None``: synthetic scenes only."""
    bsds_images: int
    """BSDS images read per split (the first by id): tuning on ``val``, scoring on ``test``."""
    operators: tuple[str, ...]
    """Operators compared (names of ``operators.OPERATORS``)."""
    sigmas_px: tuple[float, ...]
    """Gaussian scales (px) each operator may choose from on the tuning images; 0 = the raw 3x3 kernels only."""
    noise_levels: tuple[float, ...]
    """Additive Gaussian noise sigmas (grey levels on a 0-1 scale)."""
    blur_levels_px: tuple[float, ...]
    """Gaussian blur (px) applied before the noise."""
    scene_kinds: tuple[str, ...]
    """Synthetic scene kinds (``scenes.SCENE_KINDS``)."""
    tune_images_per_kind: int
    """Tuning images per kind: where scales and thresholds are chosen (never scored)."""
    score_images_per_kind: int
    """Held-out images per kind: the scored images and the bootstrap's and permutation test's unit."""
    scene_size_px: int
    """Side of the square synthetic images (px)."""
    n_thresholds: int
    """Thresholds per sweep."""
    tolerance_px: float
    """Matching radius (px) for pairing detected with true edge pixels on the synthetic scenes."""
    bootstrap_resamples: int
    """Bootstrap resamples of the images for every interval."""
    permutations: int
    """Random within-image swaps per paired permutation test (the smallest p-value is 1 / (1 + this))."""
    face_images: int
    """Real faces for the stability measurement, spread evenly over the set (half tune, half are compared)."""
    face_noise_levels: tuple[float, ...]
    """Noise sigmas added to the faces."""
    face_sigmas_px: tuple[float, ...]
    """Scales (px) run on the faces."""
    face_edge_density: float
    """Share of pixels every face edge map keeps (its threshold is set to hit it)."""
    face_noise_draws: int
    """Noise draws per face and noise level (their agreements are averaged per face)."""
    workers: int
    """Processes for the scoring (results do not depend on it)."""

    def __post_init__(self) -> None:
        if not self.operators:
            raise UserInputError("--operators: need at least one operator")
        for name in self.operators:
            if name not in OPERATORS:
                raise UserInputError(f"--operators: unknown operator {name!r}; expected {choices_text(OPERATORS)}")
        for flag, values in (("--sigmas", self.sigmas_px), ("--noise-levels", self.noise_levels),
                             ("--blur-levels", self.blur_levels_px), ("--face-noise-levels", self.face_noise_levels),
                             ("--face-sigmas", self.face_sigmas_px)):
            if not values:
                raise UserInputError(f"{flag}: need at least one value")
            if any(not math.isfinite(v) or v < 0 for v in values):
                raise UserInputError(f"{flag}: values must be finite and >= 0, got {list(values)}")
        if not self.scene_kinds:
            raise UserInputError("--scene-kinds: need at least one scene kind")
        for kind in self.scene_kinds:
            if kind not in SCENE_KINDS:
                raise UserInputError(f"--scene-kinds: unknown scene kind {kind!r}; "
                                     f"expected {choices_text(SCENE_KINDS)}")
        if not operator_grid(list(self.operators), list(self.sigmas_px)):
            raise UserInputError("--sigmas/--operators: no operator is defined at these scales "
                                 "(sigma = 0 only suits sobel, scharr and laplace3)")
        for flag, value, low in (
            ("--images-per-kind", self.score_images_per_kind, 2), ("--tune-images", self.tune_images_per_kind, 1),
            ("--face-images", self.face_images, 2), ("--thresholds", self.n_thresholds, 2),
            ("--bootstrap", self.bootstrap_resamples, 50), ("--permutations", self.permutations, 100),
            ("--workers", self.workers, 1), ("--face-noise-draws", self.face_noise_draws, 1),
            ("--scene-size", self.scene_size_px, 32), ("--bsds-images", self.bsds_images, 1),
        ):
            if value < low:
                raise UserInputError(f"{flag} must be >= {low}, got {value}")
        if not math.isfinite(self.tolerance_px) or self.tolerance_px < 0:
            raise UserInputError(f"--tolerance-px must be a finite number >= 0, got {self.tolerance_px}")
        if not 0 < self.face_edge_density < 0.5:
            raise UserInputError(f"--face-edge-density must be in (0, 0.5), got {self.face_edge_density}")

    @property
    def display_sigma(self) -> float:
        """The scale used for example figures: 1 px if run, else the smallest positive one run."""
        positive = [s for s in self.sigmas_px if s > 0]
        return 1.0 if 1.0 in positive else (min(positive) if positive else self.sigmas_px[0])
