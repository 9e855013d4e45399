"""Scoring edge maps against ground truth: one-to-one matching within a tolerance, ODS/OIS, Pratt's FOM.

Matching (BSDS-style). A detected edge pixel and a true edge pixel may be paired when they lie within
``tolerance_px`` (Euclidean) of each other; each pixel is used at most once, and we take a *maximum*
matching (Hopcroft-Karp, ``scipy.sparse.csgraph.maximum_bipartite_matching``). Then

    precision = matched / detected,   recall = matched / true,   F = 2PR / (P + R).

Because matching is one-to-one, a thick or doubled edge map cannot buy recall for free: its second pixel
next to a true edge finds no partner and counts against precision. (A distance-transform scorer -- "is
there a true edge within tolerance?" -- would count both.) BSDS's ``correspondPixels`` solves a min-cost
assignment that also prefers short pairs; the *number* of pairs, which is all P/R use, is the same
maximum cardinality up to its outlier-cost heuristics. Conventions for empty maps: no detections gives
precision 1 (nothing wrong was claimed) and recall 0; no true edges gives recall 1. Hence F = 0 for an
empty detection on a non-empty truth, and the empty-vs-empty case scores F = 1.

Thresholds. Each operator's strength map is swept over one threshold grid per dataset, and

* ODS (optimal dataset scale): the one threshold maximising F of the counts summed over all images;
* OIS (optimal image scale): each image at its own best threshold, counts then summed over images.

Pratt's figure of merit, ``FOM = 1/max(N_true, N_detected) * sum_detected 1/(1 + alpha d^2)`` with
``alpha = 1/9`` and ``d`` the distance to the nearest true edge pixel, rewards localisation as well as
count. Confidence intervals are percentile bootstraps over images (the images are the sampling unit):
``ods_f`` takes counts with any leading axes, so ``dlplayground.stats.bootstrap`` can hand it a stack of
resampled datasets and the threshold is re-picked in every resample, as the ODS definition requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial import cKDTree

from dlplayground.errors import UserInputError
from dlplayground.studies.edges.operators import EdgeResponse, check_image, edge_response

DEFAULT_TOLERANCE_PX = 1.5
PRATT_ALPHA = 1.0 / 9.0


@dataclass(frozen=True)
class MatchCounts:
    """Counts from one matching: pairs found, detected pixels, true pixels."""

    matched: int
    detected: int
    true: int

    @property
    def precision(self) -> float:
        return self.matched / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 1.0

    @property
    def f_measure(self) -> float:
        return float(f_measure(np.float64(self.precision), np.float64(self.recall)))


def f_measure(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Harmonic mean, 0 where both are 0."""
    total = precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0)


def _check_pair(detected: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    detected, truth = np.asarray(detected), np.asarray(truth)
    if detected.ndim != 2 or detected.shape != truth.shape:
        raise UserInputError(
            f"edge maps must be 2-D and of the same shape, got {detected.shape} and {truth.shape}"
        )
    return detected.astype(bool), truth.astype(bool)


def _check_tolerance(tolerance_px: float) -> None:
    if not np.isfinite(tolerance_px) or tolerance_px < 0:
        raise UserInputError(f"matching tolerance must be a finite number >= 0 pixels, got {tolerance_px}")


class _Matcher:
    """The candidate graph between a fixed set of detectable pixels and the true edge pixels.

    Built once per (image, operator); each threshold then selects a subset of rows and runs one
    maximum matching, so a 30-threshold sweep does one neighbour search, not thirty.
    """

    def __init__(self, candidates: np.ndarray, truth: np.ndarray, tolerance_px: float) -> None:
        self.coords = np.argwhere(candidates)
        true_coords = np.argwhere(truth)
        self.n_true = len(true_coords)
        self.graph = csr_matrix((len(self.coords), self.n_true), dtype=np.int8)
        if len(self.coords) and self.n_true:
            pairs = cKDTree(self.coords).sparse_distance_matrix(
                cKDTree(true_coords), tolerance_px + 1e-9, output_type="coo_matrix"
            )
            # sparse_distance_matrix drops zero distances (a detection exactly on the truth): add them back
            exact = truth[self.coords[:, 0], self.coords[:, 1]]
            true_index = np.full(truth.shape, -1, dtype=np.int64)
            true_index[true_coords[:, 0], true_coords[:, 1]] = np.arange(self.n_true)
            rows = np.concatenate([pairs.row, np.flatnonzero(exact)])
            cols = np.concatenate([pairs.col, true_index[self.coords[exact, 0], self.coords[exact, 1]]])
            self.graph = csr_matrix(
                (np.ones(len(rows), np.int8), (rows, cols)), shape=(len(self.coords), self.n_true)
            )
            self.graph.sum_duplicates()
            self.graph.data[:] = 1

    def count(self, selected: np.ndarray) -> MatchCounts:
        """Match the candidates flagged in ``selected`` (a boolean per candidate)."""
        detected = int(selected.sum())
        if detected == 0 or self.n_true == 0:
            return MatchCounts(0, detected, self.n_true)
        sub = self.graph[np.flatnonzero(selected)]
        if sub.nnz == 0:
            return MatchCounts(0, detected, self.n_true)
        matching = maximum_bipartite_matching(sub, perm_type="column")
        return MatchCounts(int((matching >= 0).sum()), detected, self.n_true)


def match_edges(detected: np.ndarray, truth: np.ndarray, tolerance_px: float = DEFAULT_TOLERANCE_PX) -> MatchCounts:
    """One-to-one matching of a binary edge map to a binary ground truth within ``tolerance_px``."""
    detected, truth = _check_pair(detected, truth)
    _check_tolerance(tolerance_px)
    matcher = _Matcher(detected, truth, tolerance_px)
    return matcher.count(np.ones(len(matcher.coords), bool))


def pratt_fom(detected: np.ndarray, truth: np.ndarray, alpha: float = PRATT_ALPHA) -> float:
    """Pratt's figure of merit in [0, 1]; 1 = every true pixel detected exactly and nothing else.

    Conventions: both maps empty -> 1; exactly one empty -> 0.
    """
    detected, truth = _check_pair(detected, truth)
    n_detected, n_true = int(detected.sum()), int(truth.sum())
    if n_detected == 0 and n_true == 0:
        return 1.0
    if n_detected == 0 or n_true == 0:
        return 0.0
    distance = ndi.distance_transform_edt(~truth)
    d = distance[detected]
    return float(np.sum(1.0 / (1.0 + alpha * d * d)) / max(n_true, n_detected))


# ------------------------------------------------------------------------------------- sweeping
def threshold_grid(strengths: Sequence[np.ndarray], n_thresholds: int) -> np.ndarray:
    """One threshold grid for a dataset: quantiles of the pooled candidate strengths.

    The quantile levels run from 0 (every candidate) to 0.999, denser near the top where the
    sparse, confident maps live. Ground truth is not used, so an ODS picked on this grid is honest.
    """
    if n_thresholds < 2:
        raise UserInputError(f"need at least 2 thresholds, got {n_thresholds}")
    pooled = np.concatenate([s[s > 0] for s in strengths]) if strengths else np.empty(0)
    if len(pooled) == 0:
        return np.full(n_thresholds, np.inf)
    levels = 1.0 - np.geomspace(1.0, 1e-3, n_thresholds)
    return np.quantile(pooled, levels)


def sweep(response: EdgeResponse, truth: np.ndarray, thresholds: np.ndarray,
          tolerance_px: float = DEFAULT_TOLERANCE_PX, alpha: float = PRATT_ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Score ``response`` at every threshold: ``(counts, fom)``.

    ``counts`` is an (n_thresholds, 3) int array of (matched, detected, true); ``fom`` the Pratt figure
    of merit at each threshold. One neighbour search and one distance transform serve the whole sweep.
    """
    _, truth = _check_pair(response.strength, truth)
    _check_tolerance(tolerance_px)
    matcher = _Matcher(response.candidates, truth, tolerance_px)
    distance = ndi.distance_transform_edt(~truth) if truth.any() else None
    counts = np.zeros((len(thresholds), 3), dtype=np.int64)
    fom = np.zeros(len(thresholds))
    rows, cols = matcher.coords[:, 0], matcher.coords[:, 1]
    for k, t in enumerate(thresholds):
        edges = response.edges(t) if np.isfinite(t) else np.zeros(truth.shape, bool)
        c = matcher.count(edges[rows, cols])
        counts[k] = (c.matched, c.detected, c.true)
        if distance is None:
            fom[k] = 1.0 if c.detected == 0 else 0.0
        elif c.detected:
            d = distance[edges]
            fom[k] = float(np.sum(1.0 / (1.0 + alpha * d * d)) / max(c.true, c.detected))
    return counts, fom


def prf(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F from (..., 3) counts (matched, detected, true), with the empty conventions."""
    matched, detected, true = counts[..., 0], counts[..., 1], counts[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(detected > 0, matched / np.maximum(detected, 1), 1.0)
        recall = np.where(true > 0, matched / np.maximum(true, 1), 1.0)
    return precision, recall, f_measure(precision, recall)


def ods_f(counts: np.ndarray) -> np.ndarray:
    """ODS F-measure of ``(..., n_images, n_thresholds, 3)`` counts: summed over the images, best threshold.

    Vectorised over the leading axes: ``(n, K, 3)`` gives the dataset's ODS F, ``(r, n, K, 3)`` -- ``r``
    bootstrap resamples of the images -- gives ``r`` values, each at the threshold best for its resample.
    """
    return prf(np.asarray(counts).sum(axis=-3))[2].max(axis=-1)


@dataclass(frozen=True)
class DatasetScore:
    """ODS/OIS of one operator on one dataset, from the (n_images, n_thresholds, 3) counts."""

    counts: np.ndarray
    thresholds: np.ndarray

    @property
    def ods_index(self) -> int:
        return int(np.argmax(prf(self.counts.sum(axis=0))[2]))

    @property
    def ods(self) -> tuple[float, float, float]:
        """(precision, recall, F) at the best single threshold for the whole dataset."""
        p, r, f = prf(self.counts.sum(axis=0)[self.ods_index])
        return float(p), float(r), float(f)

    @property
    def ois(self) -> tuple[float, float, float]:
        """(precision, recall, F) with each image at its own best threshold, counts summed."""
        best = np.argmax(prf(self.counts)[2], axis=1)
        chosen = self.counts[np.arange(len(self.counts)), best].sum(axis=0)
        p, r, f = prf(chosen)
        return float(p), float(r), float(f)

    @property
    def per_image_f_at_ods(self) -> np.ndarray:
        return prf(self.counts[:, self.ods_index])[2]


@dataclass(frozen=True)
class SweepTable:
    """One (operator, sigma) swept over one dataset: the raw per-image, per-threshold scores."""

    operator: str
    sigma: float
    thresholds: np.ndarray  # (K,)
    counts: np.ndarray  # (n_images, K, 3): matched, detected, true
    fom: np.ndarray  # (n_images, K)

    @property
    def score(self) -> DatasetScore:
        return DatasetScore(self.counts, self.thresholds)


def score_dataset(images: Sequence[np.ndarray], truths: Sequence[np.ndarray], grid: Sequence[tuple[str, float]],
                  n_thresholds: int, tolerance_px: float = DEFAULT_TOLERANCE_PX) -> list[SweepTable]:
    """Sweep every (operator, sigma) in ``grid`` over one dataset (a list of images and their truths)."""
    if len(images) == 0:
        raise UserInputError("empty dataset: no images to score")
    if len(images) != len(truths):
        raise UserInputError(f"{len(images)} images but {len(truths)} ground-truth maps")
    images = [check_image(im, f"images[{i}]") for i, im in enumerate(images)]
    tables = []
    for operator, sigma in grid:
        responses = [edge_response(im, operator, sigma) for im in images]
        thresholds = threshold_grid([r.strength for r in responses], n_thresholds)
        swept = [sweep(r, t, thresholds, tolerance_px) for r, t in zip(responses, truths, strict=True)]
        tables.append(SweepTable(operator, sigma, thresholds, np.stack([c for c, _ in swept]),
                                 np.stack([f for _, f in swept])))
    return tables
