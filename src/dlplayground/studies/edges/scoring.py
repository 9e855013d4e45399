"""Scoring edge strength maps against ground truth the way the field does: threshold sweeps, ODS, OIS, AP, FOM.

Each operator's strength map is swept over one threshold grid per dataset (``threshold_grid``); at every
threshold the binary map is matched to the truth (``matching``: one-to-one within a tolerance, one or several
annotators) and the counts ``(matched_detected, detected, matched_true, true)`` are kept per image. From the
counts, as in the Berkeley benchmark (BSDS500's ``collect_eval_bdry.m``):

* **ODS** (optimal dataset scale): the one threshold maximising F of the counts summed over all images;
* **OIS** (optimal image scale): each image at its own best threshold, counts then summed over images;
* **AP** (average precision, BSDS's "area under the PR curve"): the dataset's precision-recall curve (counts
  summed over images at each threshold), reduced to its distinct recall values (the first threshold reaching
  each), precision linearly interpolated at recall 0, 0.01, ..., 1, where the curve does not reach a level it
  contributes 0, and the sum times 0.01. As in BSDS, a threshold with no detection counts as precision 0
  here (``max(eps, sumP)``), not as the "nothing wrong claimed" precision 1 the F-measures use (F is 0
  there either way). We use our threshold grid, not BSDS's 99 evenly spaced probabilities, and no
  sub-threshold interpolation of the ODS point.
* **F at a fixed threshold** (``heldout_f``): the study's primary score -- the threshold chosen on a tuning
  set, F of the counts summed over the scored images. ODS and OIS choose their threshold on the images they
  score (that is their definition, and the field reports them so); this one does not.

Pratt's figure of merit (``matching.pratt_fom``) is taken at each threshold as well (synthetic scenes only: it
is defined for one truth map; NaN with several annotators).

Every count function takes counts with any leading axes, so ``dlplayground.stats.bootstrap`` can hand it a
stack of resampled datasets: ``ods_f`` re-picks its threshold in every resample, as the ODS definition
requires.

Thinning. BSDS thins every binary map (``bwmorph(E, 'thin', inf)``) before matching; ``sweep(thin=True)``
does the same with ``skimage.morphology.thin`` and the BSDS scoring uses it. The synthetic benchmark does not
thin: its one-to-one matching charges a thick map for its extra pixels, which is the stricter test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from dlplayground.errors import UserInputError
from dlplayground.studies.edges.matching import (
    DEFAULT_TOLERANCE_PX,
    PRATT_ALPHA,
    Matcher,
    as_annotations,
    check_pair,
    f_measure,
)
from dlplayground.studies.edges.operators import EdgeResponse, check_image, edge_response

AP_RECALL_LEVELS = np.linspace(0.0, 1.0, 101)
"""Recall levels at which AP interpolates the precision (BSDS: 0:0.01:1)."""


def threshold_grid(strengths: Sequence[np.ndarray], n_thresholds: int) -> np.ndarray:
    """One threshold grid for a dataset: quantiles of the pooled candidate strengths.

    The candidates are meaningful strengths only (the operators' dead band removes round-off crossings and
    maxima, ``operators.STRENGTH_FLOOR``), so no threshold is spent separating numerical noise. The quantile
    levels run from 0 (every candidate) to 0.999, denser near the top where the sparse, confident maps live.
    Ground truth is not used; the study builds the grid on its tuning images and reuses it on the held-out ones.
    """
    if n_thresholds < 2:
        raise UserInputError(f"need at least 2 thresholds, got {n_thresholds}")
    pooled = np.concatenate([s[s > 0] for s in strengths]) if strengths else np.empty(0)
    if len(pooled) == 0:
        return np.full(n_thresholds, np.inf)
    levels = 1.0 - np.geomspace(1.0, 1e-3, n_thresholds)
    return np.quantile(pooled, levels)


def sweep(response: EdgeResponse, truth: np.ndarray | Sequence[np.ndarray], thresholds: np.ndarray,
          tolerance_px: float = DEFAULT_TOLERANCE_PX, alpha: float = PRATT_ALPHA, *, thin: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    """Score ``response`` at every threshold: ``(counts, fom)``.

    ``truth`` is one map or several annotators' maps. ``counts`` is an (n_thresholds, 4) int array (module
    docstring); ``fom`` the Pratt figure of merit at each threshold (NaN with several annotators). One
    neighbour search per annotator and one distance transform serve the whole sweep.
    """
    truths = as_annotations(truth)
    check_pair(response.strength, truths)
    matcher = Matcher(response.candidates, truths, tolerance_px)
    single = truths[0] if len(truths) == 1 else None
    distance = ndi.distance_transform_edt(~single) if single is not None and single.any() else None
    counts = np.zeros((len(thresholds), 4), dtype=np.int64)
    fom = np.full(len(thresholds), np.nan if single is None else 0.0)
    rows, cols = matcher.coords[:, 0], matcher.coords[:, 1]
    if thin:
        from skimage.morphology import thin as thin_map
    for k, t in enumerate(thresholds):
        edges = response.edges(t) if np.isfinite(t) else np.zeros(response.strength.shape, bool)
        if thin:
            edges = thin_map(edges)
        c = matcher.count(edges[rows, cols])
        counts[k] = c.as_row()
        if single is None:
            continue
        if distance is None:
            fom[k] = 1.0 if c.detected == 0 else 0.0
        elif c.detected:
            d = distance[edges]
            fom[k] = float(np.sum(1.0 / (1.0 + alpha * d * d)) / max(c.true, c.detected))
    return counts, fom


def prf(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F from (..., 4) counts, with the empty-map conventions of ``matching``."""
    counts = np.asarray(counts)
    matched_detected, detected, matched_true, true = (counts[..., i] for i in range(4))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(detected > 0, matched_detected / np.maximum(detected, 1), 1.0)
        recall = np.where(true > 0, matched_true / np.maximum(true, 1), 1.0)
    return precision, recall, f_measure(precision, recall)


def ods_f(counts: np.ndarray) -> np.ndarray:
    """ODS F-measure of ``(..., n_images, n_thresholds, 4)`` counts: summed over the images, best threshold.

    Vectorised over the leading axes: ``(n, K, 4)`` gives the dataset's ODS F, ``(r, n, K, 4)`` -- ``r``
    bootstrap resamples of the images -- gives ``r`` values, each at the threshold best for its resample.
    """
    return prf(np.asarray(counts).sum(axis=-3))[2].max(axis=-1)


def heldout_f(counts: np.ndarray) -> np.ndarray:
    """F of ``(..., n_images, 4)`` counts at one fixed threshold, summed over the images (vectorised)."""
    return prf(np.asarray(counts).sum(axis=-2))[2]


def f_difference(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """``heldout_f(a) - heldout_f(b)`` on the same (resampled) images: a paired statistic of two operators."""
    return heldout_f(counts_a) - heldout_f(counts_b)


def average_precision(counts: np.ndarray) -> float:
    """BSDS's AP of (n_images, n_thresholds, 4) counts (module docstring); 0 for a curve of one recall value."""
    pooled = np.asarray(counts).sum(axis=0)
    detected, true = pooled[:, 1], pooled[:, 3]
    precision = pooled[:, 0] / np.maximum(detected, 1)  # BSDS: no detection -> precision 0
    recall = pooled[:, 2] / np.maximum(true, 1)
    recall_levels, first = np.unique(recall, return_index=True)
    if len(recall_levels) < 2:
        return 0.0
    interpolated = np.interp(AP_RECALL_LEVELS, recall_levels, precision[first], left=np.nan, right=np.nan)
    return float(np.nansum(interpolated) * 0.01)


@dataclass(frozen=True)
class DatasetScore:
    """ODS/OIS/AP of one operator on one dataset, from the (n_images, n_thresholds, 4) counts."""

    counts: np.ndarray
    thresholds: np.ndarray

    @property
    def ods_index(self) -> int:
        return int(np.argmax(prf(self.counts.sum(axis=0))[2]))

    @property
    def ods(self) -> tuple[float, float, float]:
        """(precision, recall, F) at the best single threshold for the whole dataset."""
        return self.at(self.ods_index)

    def at(self, index: int) -> tuple[float, float, float]:
        """(precision, recall, F) of the counts summed over the images at threshold ``index``."""
        p, r, f = prf(self.counts[:, index].sum(axis=0))
        return float(p), float(r), float(f)

    @property
    def ois(self) -> tuple[float, float, float]:
        """(precision, recall, F) with each image at its own best threshold, counts summed."""
        best = np.argmax(prf(self.counts)[2], axis=1)
        chosen = self.counts[np.arange(len(self.counts)), best].sum(axis=0)
        p, r, f = prf(chosen)
        return float(p), float(r), float(f)

    @property
    def ap(self) -> float:
        return average_precision(self.counts)

    def per_image_f(self, index: int) -> np.ndarray:
        return prf(self.counts[:, index])[2]


@dataclass(frozen=True)
class SweepTable:
    """One (operator, sigma) swept over one dataset: the raw per-image, per-threshold scores."""

    operator: str
    sigma: float
    thresholds: np.ndarray  # (K,)
    counts: np.ndarray  # (n_images, K, 4)
    fom: np.ndarray  # (n_images, K); NaN with several annotators

    @property
    def score(self) -> DatasetScore:
        return DatasetScore(self.counts, self.thresholds)


def _tolerances(tolerance_px: float | Sequence[float], n: int) -> list[float]:
    if isinstance(tolerance_px, int | float):
        return [float(tolerance_px)] * n
    values = [float(t) for t in tolerance_px]
    if len(values) != n:
        raise UserInputError(f"{n} images but {len(values)} matching tolerances")
    return values


def sweep_dataset(images: Sequence[np.ndarray], truths: Sequence[np.ndarray | Sequence[np.ndarray]], operator: str,
                  sigma: float, *, n_thresholds: int | None = None, thresholds: np.ndarray | None = None,
                  tolerance_px: float | Sequence[float] = DEFAULT_TOLERANCE_PX, thin: bool = False) -> SweepTable:
    """Sweep one (operator, sigma) over a dataset, on ``thresholds`` or on a grid built from its own strengths.

    ``truths`` holds one entry per image: a map, or a sequence of annotators' maps. ``tolerance_px`` is one
    radius or one per image (BSDS: 0.0075 x each image's diagonal).
    """
    if len(images) == 0:
        raise UserInputError("empty dataset: no images to score")
    if len(images) != len(truths):
        raise UserInputError(f"{len(images)} images but {len(truths)} ground-truth maps")
    if (thresholds is None) == (n_thresholds is None):
        raise ValueError("give exactly one of n_thresholds and thresholds")
    checked = [check_image(im, f"images[{i}]") for i, im in enumerate(images)]
    responses = [edge_response(im, operator, sigma) for im in checked]
    grid = threshold_grid([r.strength for r in responses], n_thresholds) if thresholds is None else thresholds
    swept = [sweep(r, t, grid, tol, thin=thin)
             for r, t, tol in zip(responses, truths, _tolerances(tolerance_px, len(images)), strict=True)]
    return SweepTable(operator, sigma, np.asarray(grid, dtype=float), np.stack([c for c, _ in swept]),
                      np.stack([f for _, f in swept]))


def score_dataset(images: Sequence[np.ndarray], truths: Sequence[np.ndarray], grid: Sequence[tuple[str, float]],
                  n_thresholds: int, tolerance_px: float = DEFAULT_TOLERANCE_PX) -> list[SweepTable]:
    """``sweep_dataset`` for every (operator, sigma) in ``grid``, each on a grid of its own strengths."""
    return [sweep_dataset(images, truths, op, sigma, n_thresholds=n_thresholds, tolerance_px=tolerance_px)
            for op, sigma in grid]
