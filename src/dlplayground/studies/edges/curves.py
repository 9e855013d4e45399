"""Curvilinear features for the line and roof scenes: smooth random curves, their profiles and their centrelines.

Step edges (a jump between two flat regions) are the model Canny's detector is optimal for; the line and
roof scenes test the operators on the two other edge profiles of the classic taxonomy:

* a **line** edge is a thin bar (1-2 px wide) brighter or darker than its surround: the profile across it is a
  narrow box;
* a **roof** edge is a crease: the grey level rises linearly to a crest and falls again, a tent of half-width
  3-6 px -- a discontinuity in the first derivative, not in the grey level.

In both the edge a human marks, and our ground truth, is the curve's centreline: one 1-pixel-thin line per
curve (BSDS annotators likewise draw a thin bar once, not both of its sides). Neither family of operators
marks the centre by construction -- gradient maxima and Laplacian zero-crossings both flank it -- so these
scenes ask which detector's flanking responses land closer and cleaner; they are not tuned for either.

Rendering is by supersampling, as for the region scenes: the profile is evaluated at the centres of a grid
``scale`` times finer and averaged, with the distance to the curve taken from a KD-tree over points sampled
every ``SAMPLE_STEP_PX`` along it (distance error below 0.01 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

SAMPLE_STEP_PX = 0.05
"""Spacing of the points sampled along a curve (px)."""


@dataclass(frozen=True)
class Curve:
    """A quadratic Bezier curve (three control points, (row, col) px) with a profile across it.

    ``profile`` is ``"line"`` (a box of ``half_width_px``) or ``"roof"`` (a tent of ``half_width_px``);
    ``contrast`` is the grey-level change at the centre (negative: darker than the ground).
    """

    control: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    profile: str
    half_width_px: float
    contrast: float

    def points(self, step_px: float = SAMPLE_STEP_PX) -> np.ndarray:
        """(m, 2) points along the curve, at most ``step_px`` apart."""
        p0, p1, p2 = (np.asarray(c, dtype=float) for c in self.control)
        chord = np.linalg.norm(p1 - p0) + np.linalg.norm(p2 - p1)  # bounds the arc length
        t = np.linspace(0.0, 1.0, max(2, int(np.ceil(chord / step_px)) + 1))[:, None]
        return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2

    def weight(self, distance_px: np.ndarray) -> np.ndarray:
        """The profile at ``distance_px`` from the centreline: 1 at the centre, 0 beyond the half-width."""
        if self.profile == "line":
            return (distance_px <= self.half_width_px).astype(float)
        return np.clip(1.0 - distance_px / self.half_width_px, 0.0, None)


def random_curve(rng: np.random.Generator, size: int, profile: str, half_width_px: tuple[float, float],
                 contrast: tuple[float, float]) -> Curve:
    """A gently bent curve across a good part of the image, ends kept off the frame."""
    margin = 0.1 * size
    p0 = rng.uniform(margin, size - 1 - margin, 2)
    direction = rng.uniform(0, 2 * np.pi)
    length = rng.uniform(0.4, 0.8) * size
    p2 = np.clip(p0 + length * np.array([np.sin(direction), np.cos(direction)]), margin, size - 1 - margin)
    bend = rng.normal(0.0, 0.15 * size, 2)
    p1 = (p0 + p2) / 2 + bend
    sign = rng.choice([-1.0, 1.0])
    return Curve(control=(tuple(p0), tuple(p1), tuple(p2)), profile=profile,
                 half_width_px=float(rng.uniform(*half_width_px)), contrast=float(sign * rng.uniform(*contrast)))


def render_curves(curves: Sequence[Curve], size: int, scale: int) -> np.ndarray:
    """The summed profiles of ``curves`` on a ``size`` x ``size`` image, supersampled ``scale`` x ``scale``."""
    n_fine = size * scale
    total = np.zeros((n_fine, n_fine))
    for curve in curves:
        points = curve.points()
        # fine sample (R, C) sits at pixel coordinate (R + 0.5) / scale - 0.5; only samples near the curve
        # are measured exactly: a coarse distance transform from the samples' cells picks them
        cells = np.clip(np.rint((points + 0.5) * scale - 0.5).astype(int), 0, n_fine - 1)
        seeds = np.ones((n_fine, n_fine), bool)
        seeds[cells[:, 0], cells[:, 1]] = False
        reach = curve.half_width_px + SAMPLE_STEP_PX
        near = np.argwhere(ndi.distance_transform_edt(seeds) <= reach * scale + 2)
        distance, _ = cKDTree(points).query((near + 0.5) / scale - 0.5, distance_upper_bound=reach)
        inside = np.isfinite(distance)
        total[near[inside, 0], near[inside, 1]] += curve.contrast * curve.weight(distance[inside])
    return total.reshape(size, scale, size, scale).mean(axis=(1, 3))


def centrelines(curves: Sequence[Curve], size: int) -> np.ndarray:
    """The ground truth: each curve's centreline rasterised 1 pixel thin (8-connected), frame cleared."""
    from skimage.morphology import skeletonize

    truth = np.zeros((size, size), bool)
    for curve in curves:
        pixels = np.rint(curve.points()).astype(int)
        inside = ((pixels >= 0) & (pixels < size)).all(axis=1)
        truth[pixels[inside, 0], pixels[inside, 1]] = True
    truth = skeletonize(truth)
    truth[0, :] = truth[-1, :] = truth[:, 0] = truth[:, -1] = False
    return truth
