"""Edge operators compared at a matched scale: first derivative + non-maximum suppression vs. Laplacian
zero-crossings, with Canny as the reference.

Every operator turns a grey-scale image into an *edge strength* map that is zero everywhere except at
candidate edge pixels, so that a threshold sweep, the scorer and the figures treat all of them the same:

================  ===========  ====================================================================
operator          family       candidate pixels and their strength
================  ===========  ====================================================================
``sobel``         gradient     Gaussian(sigma) pre-smoothing, 3x3 Sobel (``scipy.ndimage.sobel``),
                               non-maximum suppression (NMS) along the gradient; strength = |grad|
``scharr``        gradient     the same with the 3x3 Scharr kernel (``skimage.filters.scharr``)
``dog``           gradient     derivative of Gaussian (``ndimage.gaussian_filter(order=1)``) + NMS
``laplace3``      laplacian    Gaussian(sigma) pre-smoothing, plain 3x3 Laplacian (``ndimage.laplace``),
                               zero-crossings; strength = slope |L(p) - L(q)| across the crossing
``log``           laplacian    Laplacian of Gaussian (``ndimage.gaussian_laplace``), zero-crossings
``canny``         reference    scikit-image's Canny, reproduced step for step (its smoothing, Sobel,
                               NMS and 8-connected hysteresis with low = 0.4 x high) so one strength
                               map serves a whole threshold sweep; checked against
                               ``skimage.feature.canny`` pixel for pixel in the tests
================  ===========  ====================================================================

*Matched scale*: ``sigma`` is the standard deviation (pixels) of the Gaussian every operator smooths with,
so at equal ``sigma`` the gradient and Laplacian operators see the same band of the image. ``sigma = 0``
is allowed for the 3x3 kernels only (their raw, unsmoothed form); DoG, LoG and Canny need ``sigma > 0``.

The filters come from scipy.ndimage / scikit-image; what is written here is the selection logic (NMS,
zero-crossings, hysteresis), not convolutions. The 1-pixel image border never holds an edge (as in
scikit-image's Canny): nothing beyond the frame is known there.

NMS tie rule. On a step that falls exactly between two pixels, a symmetric derivative kernel gives both
pixels the same magnitude; keeping both (as scikit-image's Canny does) makes a 2-pixel-thick edge that a
one-to-one scorer rightly charges as false positives. Our gradient operators keep a pixel when it is
``>=`` its neighbour *along* the gradient and ``>`` the one *against* it, so exactly one survives. The
``canny`` operator keeps scikit-image's rule (ties kept) so it stays the unmodified reference.

Zero-crossings follow Marr-Hildreth / MATLAB's ``edge(I, 'log')``: a sign change of L between
4-neighbours p, q marks whichever of p, q has the smaller |L| (the one nearer the crossing), with strength
|L(p) - L(q)|; a pixel where L is zero between opposite signs is a crossing too.

Dead band (meaningful strengths). On flat or linearly shaded ground the Laplacian is zero in exact
arithmetic but +-1e-17 in floating point, and a bare ``L(p) * L(q) < 0`` turns that round-off into
"crossings" -- on the shaded cartoon faces, 60-70 % of the 3x3 Laplacian's candidates had strengths below
1e-9 and filled the low end of the threshold grid. So, as MATLAB's ``edge`` does with its slope threshold
and scikit-image's Canny with its 1e-14 magnitude guard, values within ``STRENGTH_FLOOR`` x the image's
grey-level range of zero count as zero: a crossing needs one side above the band and the other below
it (or a single in-band pixel between the two), and a gradient maximum needs a magnitude above the same
floor. The floor is a millionth of the grey range: ten orders of magnitude above round-off, four below the
weakest real edge the benchmark draws, so it removes only numerical noise. Every candidate that remains is
a meaningful strength, and the threshold grid (``scoring.threshold_grid``) is built from them alone.

Families. ``FAMILY_MEMBERS`` names the operators each family fields in the gradient-vs-Laplacian
comparison: two each, built alike (a 3x3 kernel after Gaussian pre-smoothing; the Gaussian's own
derivative), so neither family gets more tries at the maximum. Scharr (a near-copy of Sobel) and Canny are
scored and reported per operator, outside the family comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

from dlplayground.errors import UserInputError, choices_text

Family = Literal["gradient", "laplacian", "reference"]

CANNY_LOW_RATIO = 0.4
"""Canny's low hysteresis threshold as a fraction of the high one (MATLAB's default ratio)."""
CANNY_MIN_STRENGTH = 1e-14
"""scikit-image's guard: a Canny magnitude below this is never an edge, whatever the thresholds."""
MIN_SIDE_PX = 5
STRENGTH_FLOOR = 1e-6
"""Dead band: strengths (and Laplacian values) within this fraction of the image's grey range count as zero."""


@dataclass(frozen=True)
class OperatorSpec:
    """One edge operator: its name, family and whether it can run unsmoothed (``sigma = 0``)."""

    name: str
    family: Family
    label: str
    allows_unsmoothed: bool


OPERATORS: dict[str, OperatorSpec] = {
    spec.name: spec
    for spec in (
        OperatorSpec("sobel", "gradient", "Sobel + NMS", True),
        OperatorSpec("scharr", "gradient", "Scharr + NMS", True),
        OperatorSpec("dog", "gradient", "DoG + NMS", False),
        OperatorSpec("laplace3", "laplacian", "3x3 Laplacian ZC", True),
        OperatorSpec("log", "laplacian", "LoG ZC", False),
        OperatorSpec("canny", "reference", "Canny (skimage)", False),
    )
}
GRADIENT_OPERATORS = tuple(name for name, spec in OPERATORS.items() if spec.family == "gradient")
LAPLACIAN_OPERATORS = tuple(name for name, spec in OPERATORS.items() if spec.family == "laplacian")
FAMILY_MEMBERS: dict[str, tuple[str, ...]] = {"gradient": ("sobel", "dog"), "laplacian": ("laplace3", "log")}
"""The equal-sized families of the gradient-vs-Laplacian comparison (module docstring)."""


def operator_label(name: str) -> str:
    """The operator's name as tables, figures and the verdict print it (e.g. ``DoG + NMS``)."""
    return OPERATORS[name].label


# ------------------------------------------------------------------------------------------ input
def check_image(image: object, name: str = "image") -> np.ndarray:
    """Return ``image`` as a float64 (h, w) array, or raise ``UserInputError`` saying what is wrong.

    Accepted: a 2-D array of real numbers (bool and integers are converted), at least 5 x 5 pixels,
    all finite. Colour images must be converted to grey first (we do not guess a conversion).
    """
    try:
        array = np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise UserInputError(f"{name}: not an array ({exc})") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise UserInputError(f"{name}: expected a numeric grey-scale image, got an array of dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise UserInputError(f"{name}: expected real pixel values, got complex dtype {array.dtype}")
    if array.ndim != 2:
        hint = " (a colour image? convert it to grey first)" if array.ndim == 3 and array.shape[-1] in (3, 4) else ""
        raise UserInputError(f"{name}: expected a 2-D grey-scale image (h, w), got shape {array.shape}{hint}")
    if min(array.shape) < MIN_SIDE_PX:
        raise UserInputError(f"{name}: image of shape {array.shape} is too small; need at least "
                             f"{MIN_SIDE_PX} x {MIN_SIDE_PX} pixels")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise UserInputError(f"{name}: image contains NaN or infinite values")
    return array


def check_image_stack(images: object, name: str = "images") -> np.ndarray:
    """Return a non-empty (n, h, w) float64 stack of valid images, or raise ``UserInputError``."""
    if isinstance(images, list | tuple):
        if not images:
            raise UserInputError(f"{name}: empty dataset (no images)")
        checked = [check_image(im, f"{name}[{i}]") for i, im in enumerate(images)]
        if len({im.shape for im in checked}) != 1:
            raise UserInputError(f"{name}: images differ in shape; expected one (h, w) for all")
        return np.stack(checked)
    if not isinstance(images, np.ndarray):
        raise UserInputError(f"{name}: expected an (n, h, w) array or a list of images, got {type(images).__name__}")
    array = images
    if array.ndim != 3:
        raise UserInputError(f"{name}: expected an (n, h, w) stack of grey-scale images, got shape {array.shape}")
    if array.shape[0] == 0:
        raise UserInputError(f"{name}: empty dataset (no images)")
    return np.stack([check_image(im, f"{name}[{i}]") for i, im in enumerate(array)])


def check_operator(name: str, sigma: float) -> OperatorSpec:
    """The spec for ``name``; raise ``UserInputError`` for an unknown name or a scale it cannot use."""
    spec = OPERATORS.get(name)
    if spec is None:
        raise UserInputError(f"unknown edge operator {name!r}; expected {choices_text(OPERATORS)}")
    if not np.isfinite(sigma) or sigma < 0:
        raise UserInputError(f"sigma must be a finite number >= 0 (pixels), got {sigma}")
    if sigma == 0 and not spec.allows_unsmoothed:
        raise UserInputError(f"operator {name!r} needs sigma > 0 (only sobel, scharr and laplace3 run unsmoothed)")
    return spec


# ------------------------------------------------------------------------------------ selection
def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    return ndi.gaussian_filter(image, sigma, mode="nearest") if sigma > 0 else image


def _clear_border(strength: np.ndarray) -> np.ndarray:
    strength[0, :] = strength[-1, :] = 0.0
    strength[:, 0] = strength[:, -1] = 0.0
    return strength


def strength_floor(image: np.ndarray) -> float:
    """The dead band of ``image``: ``STRENGTH_FLOOR`` times its grey-level range (0 for a flat image)."""
    return STRENGTH_FLOOR * float(np.ptp(image))


def non_maximum_suppression(gy: np.ndarray, gx: np.ndarray, *, keep_ties: bool = False,
                            min_magnitude: float = 0.0) -> np.ndarray:
    """Gradient magnitude where it is a local maximum across the edge and above ``min_magnitude``, else zero.

    The magnitude is compared with its two neighbours along the gradient direction, each linearly
    interpolated between the axis neighbour and the diagonal neighbour (scikit-image's Canny scheme,
    written with the same arithmetic so ``keep_ties=True`` reproduces it exactly). ``gy``/``gx`` are the
    derivatives along axis 0 (rows) and axis 1 (columns).
    """
    magnitude = np.hypot(gy, gx)
    h, w = magnitude.shape
    padded = np.pad(magnitude, 1, mode="edge")
    ay, ax = np.abs(gy), np.abs(gx)
    # sign 0 -> -1, as Canny's "is_down = isobel <= 0": only the line matters, both ways are compared
    sy = np.where(gy > 0, 1, -1)
    sx = np.where(gx > 0, 1, -1)
    rows, cols = np.mgrid[0:h, 0:w]
    rows = rows + 1
    cols = cols + 1
    rows_major = ay >= ax
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(rows_major, ax / ay, ay / ax)
    weight = np.nan_to_num(weight, nan=0.0)
    # axis neighbour: one step along the major axis; diagonal: one step along both axes
    axis_dr = np.where(rows_major, sy, 0)
    axis_dc = np.where(rows_major, 0, sx)

    def interpolated(direction: int) -> np.ndarray:
        axis = padded[rows + direction * axis_dr, cols + direction * axis_dc]
        diag = padded[rows + direction * sy, cols + direction * sx]
        return diag * weight + axis * (1.0 - weight)

    forward, backward = interpolated(+1), interpolated(-1)
    if keep_ties:
        keep = (forward <= magnitude) & (backward <= magnitude)
    else:
        keep = (forward <= magnitude) & (backward < magnitude)
    keep &= magnitude > min_magnitude
    return np.where(keep, magnitude, 0.0)


def _pairs(array: np.ndarray, axis: int, gap: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``array`` and itself shifted by ``gap`` along ``axis``, cropped to where both exist."""
    if axis == 0:
        return array[:-gap, :], array[gap:, :]
    return array[:, :-gap], array[:, gap:]


def zero_crossings(laplacian: np.ndarray, dead_band: float = 0.0) -> np.ndarray:
    """Strength map of the zero-crossings of ``laplacian`` (slope across the crossing), zero elsewhere.

    Values with ``|L| <= dead_band`` count as zero (module docstring): a crossing is a pair of 4-neighbours
    one above ``+dead_band`` and one below ``-dead_band``, or one in-band pixel between such a pair.
    """
    lap = laplacian
    strength = np.zeros_like(lap)
    mag = np.abs(lap)
    positive, negative = lap > dead_band, lap < -dead_band
    for axis in (0, 1):
        a, b = _pairs(lap, axis)
        pos_a, pos_b = _pairs(positive, axis)
        neg_a, neg_b = _pairs(negative, axis)
        crossing = (pos_a & neg_b) | (neg_a & pos_b)
        slope = np.where(crossing, np.abs(a - b), 0.0)
        mag_a, mag_b = _pairs(mag, axis)
        a_nearer = mag_a <= mag_b
        view_a, view_b = _pairs(strength, axis)  # views: writing into them writes into ``strength``
        np.maximum(view_a, np.where(a_nearer, slope, 0.0), out=view_a)
        np.maximum(view_b, np.where(~a_nearer, slope, 0.0), out=view_b)
        # a zero (in-band) pixel between opposite signs (noise-free flat steps of the 3x3 kernel)
        before, after = _pairs(lap, axis, gap=2)
        pos_before, pos_after = _pairs(positive, axis, gap=2)
        neg_before, neg_after = _pairs(negative, axis, gap=2)
        middle = mag[1:-1, :] if axis == 0 else mag[:, 1:-1]
        through_zero = (middle <= dead_band) & ((pos_before & neg_after) | (neg_before & pos_after))
        view_m = strength[1:-1, :] if axis == 0 else strength[:, 1:-1]
        np.maximum(view_m, np.where(through_zero, np.abs(after - before) / 2, 0.0), out=view_m)
    return strength


def hysteresis(strength: np.ndarray, low: float, high: float) -> np.ndarray:
    """Canny's double threshold: 8-connected runs of ``strength >= low`` that reach ``high`` somewhere."""
    low_mask = strength >= max(low, CANNY_MIN_STRENGTH)
    labels, count = ndi.label(low_mask, np.ones((3, 3), bool))
    if count == 0:
        return low_mask
    good = np.zeros(count + 1, bool)
    good[np.unique(labels[low_mask & (strength >= high)])] = True
    good[0] = False
    return good[labels]


# -------------------------------------------------------------------------------------- response
@dataclass(frozen=True)
class EdgeResponse:
    """An operator's edge strength on one image; ``edges(t)`` is the binary map at threshold ``t``.

    ``strength`` is zero off the candidate pixels (NMS maxima or zero-crossings). For Canny the
    threshold is the high hysteresis threshold (low = ``CANNY_LOW_RATIO`` x high).
    """

    operator: str
    sigma: float
    strength: np.ndarray
    hysteresis_low_ratio: float | None = None

    @property
    def candidates(self) -> np.ndarray:
        return self.strength > 0

    def edges(self, threshold: float) -> np.ndarray:
        if self.hysteresis_low_ratio is not None:
            return hysteresis(self.strength, self.hysteresis_low_ratio * threshold, threshold)
        return (self.strength >= threshold) & (self.strength > 0)

    def threshold_for_count(self, n_pixels: int) -> float:
        """The threshold whose edge map has about ``n_pixels`` pixels (all candidates if fewer exist)."""
        values = np.sort(self.strength[self.strength > 0])[::-1]
        if len(values) == 0:
            return np.inf
        if self.hysteresis_low_ratio is None:
            return float(values[min(n_pixels, len(values)) - 1])
        # hysteresis: the count falls (in jumps: whole linked chains) as the high threshold rises; bisect
        # for the jump that crosses the target and take whichever side lands nearer it
        lo, hi = 0.0, float(values[0])
        count_lo, count_hi = int(self.edges(lo).sum()), int(self.edges(hi).sum())
        if count_hi >= n_pixels:
            return hi
        for _ in range(30):
            mid = (lo + hi) / 2
            count = int(self.edges(mid).sum())
            if count > n_pixels:
                lo, count_lo = mid, count
            else:
                hi, count_hi = mid, count
        return hi if n_pixels - count_hi <= count_lo - n_pixels else lo


def _gradient(image: np.ndarray, operator: str, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    if operator == "dog":
        return (ndi.gaussian_filter(image, sigma, order=(1, 0), mode="nearest"),
                ndi.gaussian_filter(image, sigma, order=(0, 1), mode="nearest"))
    smooth = _smooth(image, sigma)
    if operator == "sobel":
        return ndi.sobel(smooth, axis=0, mode="nearest") / 8, ndi.sobel(smooth, axis=1, mode="nearest") / 8
    from skimage.filters import scharr

    return scharr(smooth, axis=0, mode="nearest") / 2, scharr(smooth, axis=1, mode="nearest") / 2


def _canny_strength(image: np.ndarray, sigma: float) -> np.ndarray:
    """scikit-image's Canny up to (not including) hysteresis: its smoothing, Sobel and NMS (ties kept)."""
    from skimage.filters import gaussian

    kwargs = {"sigma": sigma, "mode": "constant", "cval": 0.0, "preserve_range": False}
    bleed_over = gaussian(np.ones_like(image), **kwargs) + np.finfo(np.float64).eps
    smoothed = gaussian(image, **kwargs) / bleed_over
    strength = non_maximum_suppression(ndi.sobel(smoothed, axis=0), ndi.sobel(smoothed, axis=1), keep_ties=True)
    strength[strength < CANNY_MIN_STRENGTH] = 0.0  # the bleed-over division leaves ~1e-16 on flat ground
    return strength


def edge_response(image: np.ndarray, operator: str, sigma: float) -> EdgeResponse:
    """Run ``operator`` at scale ``sigma`` (pixels) on a grey-scale ``image``; see the module table."""
    spec = check_operator(operator, sigma)
    image = check_image(image)
    if operator == "canny":
        strength = _canny_strength(image, sigma)
        return EdgeResponse(operator, sigma, _clear_border(strength), CANNY_LOW_RATIO)
    floor = strength_floor(image)
    if spec.family == "gradient":
        gy, gx = _gradient(image, operator, sigma)
        strength = non_maximum_suppression(gy, gx, min_magnitude=floor)
    elif operator == "log":
        strength = zero_crossings(ndi.gaussian_laplace(image, sigma, mode="nearest"), floor)
    else:
        strength = zero_crossings(ndi.laplace(_smooth(image, sigma), mode="nearest"), floor)
    return EdgeResponse(operator, sigma, _clear_border(strength))


def operator_grid(operators: list[str], sigmas: list[float]) -> list[tuple[str, float]]:
    """Every (operator, sigma) pair that is defined: sigma = 0 only for the unsmoothed 3x3 kernels."""
    for name in operators:
        if name not in OPERATORS:
            raise UserInputError(f"unknown edge operator {name!r}; expected {choices_text(OPERATORS)}")
    return [(name, s) for s in sigmas for name in operators if s > 0 or OPERATORS[name].allows_unsmoothed]
