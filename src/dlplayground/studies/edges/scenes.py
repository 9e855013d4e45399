"""Synthetic images whose edges are known exactly: shapes, cartoon faces, textured shapes, lines and roofs.

Five scene kinds (``SCENE_KINDS``), chosen so that no edge model is favoured:

* ``shapes``   -- random ellipses, rectangles and triangles, flat grey levels: step edges, Canny's model;
* ``faces``    -- cartoon faces (head, hair, eyes, brows, nose, mouth) under a smooth illumination ramp that
  changes the contrast along every edge;
* ``textured`` -- the shapes, each region (and the ground) filled with its own oriented sinusoidal grating
  (period 3-8 px, amplitude 0.02-0.05): region boundaries are the edges, the texture is not -- as BSDS
  annotators draw object boundaries, not the stripes of a shirt;
* ``lines``    -- thin bars (1-2 px) brighter or darker than a shaded ground: line edges;
* ``roofs``    -- tent-shaped ridges and valleys (half-width 3-6 px): roof edges, a crease in the grey level.

A region scene is a list of filled regions (ellipses and polygons, painted in order, later ones on top) in
continuous pixel coordinates, each with a grey level. From it we render

* ``labels`` -- which region covers each pixel centre (the scene sampled once per pixel);
* ``edges``  -- the ground truth: pixels whose label differs from the pixel to their right or below,
  i.e. a 1-pixel-thin boundary drawn on the top/left side of every region border (the matching tolerance
  absorbs which side a detector marks), none on the 1-pixel frame of the image;
* ``image``  -- the grey levels anti-aliased by 4 x 4 supersampling, so edges fall between pixels at
  sub-pixel positions as in a photograph, then optionally shaded by a smooth illumination ramp (faces,
  lines, roofs) that changes contrast along an edge without creating new ones.

Adjacent regions always differ by at least ``MIN_CONTRAST`` in grey level, so every ground-truth region
edge is a real step (a grating's peak-to-peak amplitude stays below it). Line and roof scenes
(``curves``) have no regions: their truth is each curve's 1-pixel centreline. Blur and noise are applied
afterwards by ``degrade``; they move no edge.

``make_scenes`` caches the last few scene sets it built (read-only arrays): every condition of a kind
rebuilds the same scenes, and a worker process scoring several of them builds each set once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage as ndi
from skimage import draw

from dlplayground.errors import UserInputError, choices_text
from dlplayground.studies.edges.curves import Curve, centrelines, random_curve, render_curves

SUPERSAMPLE = 4
MIN_CONTRAST = 0.15
SCENE_KINDS = ("shapes", "faces", "textured", "lines", "roofs")
"""Every scene kind; a kind's position here is part of its random streams, so new kinds go at the end."""


@dataclass(frozen=True)
class Region:
    """An ellipse (center, radii, rotation in radians) or a polygon (vertices), filled with ``value``."""

    kind: str
    value: float
    center: tuple[float, float] = (0.0, 0.0)
    radii: tuple[float, float] = (1.0, 1.0)
    rotation: float = 0.0
    vertices: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Grating:
    """An oriented sinusoidal texture: ``amplitude * sin(2 pi (r cos a + c sin a) / period + phase)``."""

    amplitude: float
    period_px: float
    orientation: float
    phase: float

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        along = rows * np.cos(self.orientation) + cols * np.sin(self.orientation)
        return self.amplitude * np.sin(2 * np.pi * along / self.period_px + self.phase)


@dataclass(frozen=True)
class Scene:
    """A rendered synthetic image with its ground truth."""

    kind: str
    image: np.ndarray
    labels: np.ndarray
    edges: np.ndarray
    regions: tuple[Region, ...] = field(default=(), repr=False)
    curves: tuple[Curve, ...] = field(default=(), repr=False)


def _paint(regions: list[Region], background: float, shape: tuple[int, int], scale: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Labels and values on a grid ``scale`` times finer; sample (R, C) sits at ((R + .5)/scale - .5, ...)."""
    h, w = shape[0] * scale, shape[1] * scale
    labels = np.zeros((h, w), np.int32)
    values = np.full((h, w), background)

    def to_grid(x: float | np.ndarray) -> float | np.ndarray:
        return scale * (x + 0.5) - 0.5

    for index, region in enumerate(regions, start=1):
        if region.kind == "ellipse":
            rr, cc = draw.ellipse(to_grid(region.center[0]), to_grid(region.center[1]),
                                  region.radii[0] * scale, region.radii[1] * scale,
                                  shape=(h, w), rotation=region.rotation)
        else:
            verts = np.asarray(region.vertices, dtype=float)
            rr, cc = draw.polygon(to_grid(verts[:, 0]), to_grid(verts[:, 1]), shape=(h, w))
        labels[rr, cc] = index
        values[rr, cc] = region.value
    return labels, values


def _shade(image: np.ndarray, shading: tuple[float, float]) -> np.ndarray:
    """Multiply by the illumination ramp ``1 + a r + b c`` (r, c from -0.5 to 0.5 across the image)."""
    if shading == (0.0, 0.0):
        return image
    size = image.shape[0]
    rows, cols = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    return image * (1.0 + shading[0] * rows + shading[1] * cols)


def render(regions: list[Region], background: float, size: int, kind: str,
           shading: tuple[float, float] = (0.0, 0.0), textures: Sequence[Grating] = ()) -> Scene:
    """Render ``regions`` on a ``size`` x ``size`` canvas; ``shading`` = (row, col) illumination slopes.

    ``textures``, if given, holds one grating per label (0 = the ground, i = the i-th region), added to the
    grey level of every fine sample the label covers before the supersampled average.
    """
    labels, _ = _paint(regions, background, (size, size), 1)
    fine_labels, fine = _paint(regions, background, (size, size), SUPERSAMPLE)
    if textures:
        coords = (np.arange(size * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
        rows, cols = np.meshgrid(coords, coords, indexing="ij")
        for label, grating in enumerate(textures):
            covered = fine_labels == label
            fine[covered] += grating(rows[covered], cols[covered])
    image = _shade(fine.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3)), shading)
    edges = np.zeros((size, size), bool)
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edges[:-1, :] |= labels[:-1, :] != labels[1:, :]
    # the 1-pixel frame holds no edge: no operator can see past it (scikit-image's Canny clears it too)
    edges[0, :] = edges[-1, :] = edges[:, 0] = edges[:, -1] = False
    return Scene(kind=kind, image=image, labels=labels, edges=edges, regions=tuple(regions))


GREY_LEVELS = np.round(np.arange(0.05, 0.951, MIN_CONTRAST), 2)
"""The grey levels of random shapes: 0.05 ... 0.95 in steps of MIN_CONTRAST, each used once per image."""


def _shape_regions(rng: np.random.Generator, size: int) -> tuple[list[Region], float]:
    """3-5 random ellipses, rotated rectangles and triangles, and the ground's grey level."""
    levels = rng.permutation(GREY_LEVELS)
    background = float(levels[0])
    regions: list[Region] = []
    for value in levels[1 : int(rng.integers(4, 7))].tolist():
        center = tuple(rng.uniform(0.2, 0.8, 2) * size)
        choice = rng.integers(3)
        if choice == 0:
            regions.append(Region("ellipse", value, center=center, radii=tuple(rng.uniform(0.08, 0.22, 2) * size),
                                  rotation=float(rng.uniform(0, np.pi))))
        else:
            n_vertices = 4 if choice == 1 else 3
            angle0 = rng.uniform(0, 2 * np.pi)
            if n_vertices == 4:
                half = rng.uniform(0.08, 0.2, 2) * size
                corners = [(-half[0], -half[1]), (-half[0], half[1]), (half[0], half[1]), (half[0], -half[1])]
            else:
                radius = rng.uniform(0.12, 0.25) * size
                # jittered around an equilateral triangle: no slivers thinner than the tolerance
                angles = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3]) + rng.uniform(-0.45, 0.45, 3)
                corners = [(radius * np.sin(a), radius * np.cos(a)) for a in angles]
            c, s = np.cos(angle0), np.sin(angle0)
            verts = tuple((center[0] + c * dr - s * dc, center[1] + s * dr + c * dc) for dr, dc in corners)
            regions.append(Region("polygon", value, vertices=verts))
    return regions, background


def random_shapes(rng: np.random.Generator, size: int = 96) -> Scene:
    """3-5 random ellipses, rotated rectangles and triangles on a flat background."""
    regions, background = _shape_regions(rng, size)
    return render(regions, background, size, "shapes")


def textured_shapes(rng: np.random.Generator, size: int = 96) -> Scene:
    """Random shapes whose regions and ground each carry their own grating (module docstring)."""
    regions, background = _shape_regions(rng, size)
    textures = [Grating(amplitude=float(rng.uniform(0.02, 0.05)), period_px=float(rng.uniform(3.0, 8.0)),
                        orientation=float(rng.uniform(0, np.pi)), phase=float(rng.uniform(0, 2 * np.pi)))
                for _ in range(len(regions) + 1)]
    return render(regions, background, size, "textured", textures=textures)


def _curve_scene(rng: np.random.Generator, size: int, kind: str, count: tuple[int, int], profile: str,
                 half_width_px: tuple[float, float]) -> Scene:
    """Curves of one profile on a flat ground under an illumination ramp; truth = their centrelines."""
    background = float(rng.uniform(0.35, 0.65))
    curves = tuple(random_curve(rng, size, profile, half_width_px, (0.2, 0.4))
                   for _ in range(int(rng.integers(count[0], count[1] + 1))))
    shading = (float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3)))
    image = _shade(background + render_curves(curves, size, SUPERSAMPLE), shading)
    return Scene(kind=kind, image=image, labels=np.zeros((size, size), np.int32), edges=centrelines(curves, size),
                 curves=curves)


def thin_lines(rng: np.random.Generator, size: int = 96) -> Scene:
    """3-5 bars 1-2 px wide, brighter or darker than the ground: line edges."""
    return _curve_scene(rng, size, "lines", (3, 5), "line", (0.5, 1.0))


def roof_ridges(rng: np.random.Generator, size: int = 96) -> Scene:
    """2-4 tent-shaped ridges or valleys of half-width 3-6 px: roof edges."""
    return _curve_scene(rng, size, "roofs", (2, 4), "roof", (3.0, 6.0))


def cartoon_face(rng: np.random.Generator, size: int = 96) -> Scene:
    """A frontal cartoon face (hair, head, eyes, pupils, brows, nose, mouth) with jitter and shading."""
    j = lambda scale: float(rng.normal(0.0, scale)) * size  # noqa: E731 - a jitter in image units
    background = float(rng.uniform(0.05, 0.3))
    skin = float(rng.uniform(0.55, 0.75))
    hair = float(rng.choice([rng.uniform(0.05, 0.2) if background > 0.22 else rng.uniform(0.35, 0.42),
                             rng.uniform(0.9, 1.0)]))
    if abs(hair - skin) < MIN_CONTRAST or abs(hair - background) < MIN_CONTRAST:
        hair = 0.95 if skin < 0.8 else 0.0
    cy, cx = 0.52 * size + j(0.02), 0.5 * size + j(0.02)
    head_r = (0.36 * size + j(0.015), 0.27 * size + j(0.015))
    regions = [
        Region("ellipse", hair, center=(cy - 0.06 * size, cx), radii=(head_r[0] * 0.95, head_r[1] * 1.1)),
        Region("ellipse", skin, center=(cy + 0.03 * size, cx), radii=head_r),
    ]
    eye_dy, eye_dx = -0.06 * size + j(0.01), 0.11 * size + j(0.008)
    eye_r = (0.035 * size + abs(j(0.005)), 0.065 * size + j(0.006))
    white = float(rng.uniform(0.9, 1.0)) if skin < 0.75 else 1.0
    pupil = float(rng.uniform(0.0, 0.15))
    brow = float(rng.uniform(0.1, 0.3))
    tilt = float(rng.normal(0.0, 0.12))
    for side in (-1, 1):
        ey, ex = cy + eye_dy, cx + side * eye_dx
        regions.append(Region("ellipse", white, center=(ey, ex), radii=eye_r))
        regions.append(Region("ellipse", pupil, center=(ey, ex + j(0.008)), radii=(eye_r[0] * 0.8,) * 2))
        by, half_w, half_h = ey - 0.075 * size, 0.07 * size, 0.012 * size + abs(j(0.003))
        a = side * tilt
        c, s = np.cos(a), np.sin(a)
        corners = [(-half_h, -half_w), (-half_h, half_w), (half_h, half_w), (half_h, -half_w)]
        regions.append(Region("polygon", brow, vertices=tuple((by + c * dr - s * dc, ex + s * dr + c * dc)
                                                               for dr, dc in corners)))
    nose = skin - float(rng.uniform(0.18, 0.3))
    ny = cy + 0.04 * size
    regions.append(Region("polygon", nose, vertices=((ny - 0.07 * size, cx), (ny + 0.07 * size, cx - 0.05 * size),
                                                     (ny + 0.07 * size, cx + 0.05 * size))))
    mouth = float(rng.uniform(0.2, 0.35))
    regions.append(Region("ellipse", mouth, center=(cy + 0.21 * size + j(0.01), cx + j(0.01)),
                          radii=(0.03 * size + abs(j(0.006)), 0.11 * size + j(0.01))))
    shading = (float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.4, 0.4)))
    return render(regions, background, size, "faces", shading=shading)


SCENE_MAKERS: dict[str, Callable[[np.random.Generator, int], Scene]] = {
    "shapes": random_shapes, "faces": cartoon_face, "textured": textured_shapes, "lines": thin_lines,
    "roofs": roof_ridges,
}


@lru_cache(maxsize=8)
def _cached_scenes(kind: str, n_images: int, seed: tuple[int, ...], size: int) -> tuple[Scene, ...]:
    rng = np.random.default_rng(list(seed))
    scenes = tuple(SCENE_MAKERS[kind](rng, size) for _ in range(n_images))
    for scene in scenes:  # shared between callers: nobody may write into them
        for array in (scene.image, scene.labels, scene.edges):
            array.setflags(write=False)
    return scenes


def make_scenes(kind: str, n_images: int, seed: int | Sequence[int], size: int = 96) -> list[Scene]:
    """``n_images`` scenes of ``kind``, reproducible from ``seed`` (an int or a sequence of ints)."""
    if kind not in SCENE_KINDS:
        raise UserInputError(f"unknown scene kind {kind!r}; expected {choices_text(SCENE_KINDS)}")
    if n_images < 1:
        raise UserInputError(f"need at least one image per scene kind, got {n_images}")
    key = (int(seed),) if isinstance(seed, int | np.integer) else tuple(int(s) for s in seed)
    return list(_cached_scenes(kind, n_images, key, size))


def degrade(image: np.ndarray, blur_sigma_px: float, noise_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur (pixels), then additive Gaussian noise (grey levels; not clipped, so it stays Gaussian)."""
    if blur_sigma_px < 0 or noise_sigma < 0:
        raise UserInputError(f"blur and noise must be >= 0, got blur={blur_sigma_px}, noise={noise_sigma}")
    out = ndi.gaussian_filter(image, blur_sigma_px, mode="nearest") if blur_sigma_px > 0 else image.copy()
    if noise_sigma > 0:
        out = out + rng.normal(0.0, noise_sigma, size=out.shape)
    return out
