"""Pairing detected edge pixels with true ones: one-to-one within a distance, against one or several annotators.

One annotator (the synthetic scenes). A detected edge pixel and a true edge pixel may be paired when they lie
within ``tolerance_px`` (Euclidean) of each other; each pixel is used at most once, and we take a *maximum*
matching (Hopcroft-Karp, ``scipy.sparse.csgraph.maximum_bipartite_matching``). Because matching is
one-to-one, a thick or doubled edge map cannot buy recall for free: its second pixel next to a true edge
finds no partner and counts against precision. (A distance-transform scorer -- "is there a true edge within
tolerance?" -- would count both.) BSDS's ``correspondPixels`` solves a min-cost assignment that also prefers
short pairs; the *number* of pairs, which is all precision and recall use, is the same maximum cardinality up
to its outlier-cost heuristics.

Several annotators (BSDS). The detection is matched to each human's boundary map separately, and the
counts are accumulated the way the BSDS benchmark's ``evaluation_bdry_image.m`` does:

* precision: a detected pixel is correct when it is matched in *any* annotator's matching, so
  ``matched_detected`` counts the union over annotators and ``detected`` the detected pixels once;
* recall: ``matched_true`` and ``true`` are *summed over the annotators* -- every human's matched boundary
  pixels over every human's boundary pixels, i.e. recall averaged over the annotators weighted by how much
  each one drew.

With a single annotator ``matched_detected == matched_true`` (one pair per matched pixel on each side).
Counts are kept as ``(matched_detected, detected, matched_true, true)`` -- BSDS's (cntP, sumP, cntR, sumR) --
so they can be summed over images. Conventions for empty maps: no detections gives precision 1 (nothing
wrong was claimed) and recall 0; no true edges gives recall 1. Hence F = 0 for an empty detection on a
non-empty truth, and the empty-vs-empty case scores F = 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching, maximum_flow
from scipy.spatial import cKDTree

from dlplayground.errors import UserInputError

DEFAULT_TOLERANCE_PX = 1.5
"""Matching radius of the synthetic benchmark (px): the scenes are 96 px, so this is about BSDS's 0.0075 x
diagonal scaled to a 200 px image, and absorbs which side of a region border a detector marks."""
BSDS_MAX_DIST = 0.0075
"""BSDS's matching distance as a fraction of the image diagonal (4.3 px on a 481 x 321 image)."""
PRATT_ALPHA = 1.0 / 9.0
COUNT_COLUMNS = ("matched_detected", "detected", "matched_true", "true")
"""The four counts of every matching, in this order along the last axis of every count array."""


def bsds_tolerance_px(shape: tuple[int, ...]) -> float:
    """BSDS's matching distance for an image of ``shape``: ``BSDS_MAX_DIST`` times its diagonal (px)."""
    return BSDS_MAX_DIST * float(np.hypot(shape[0], shape[1]))


@dataclass(frozen=True)
class MatchCounts:
    """Counts from one matching (module docstring): BSDS's cntP, sumP, cntR, sumR."""

    matched_detected: int
    detected: int
    matched_true: int
    true: int

    @property
    def precision(self) -> float:
        return self.matched_detected / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.matched_true / self.true if self.true else 1.0

    @property
    def f_measure(self) -> float:
        return float(f_measure(np.float64(self.precision), np.float64(self.recall)))

    def as_row(self) -> tuple[int, int, int, int]:
        return self.matched_detected, self.detected, self.matched_true, self.true


def f_measure(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Harmonic mean, 0 where both are 0."""
    total = precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0)


def as_annotations(truth: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """One 2-D truth map, an (annotators, h, w) stack or a sequence of maps, as a tuple of boolean maps."""
    if isinstance(truth, np.ndarray) and truth.ndim == 2:
        maps: Sequence[np.ndarray] = [truth]
    elif isinstance(truth, np.ndarray) and truth.ndim == 3:
        maps = list(truth)
    elif isinstance(truth, list | tuple):
        maps = [np.asarray(t) for t in truth]
    else:
        raise UserInputError(f"ground truth must be a 2-D edge map or a list of them, got "
                             f"{getattr(truth, 'shape', type(truth).__name__)}")
    if not maps:
        raise UserInputError("ground truth: no annotator's map given")
    return tuple(np.asarray(m).astype(bool) for m in maps)


def check_pair(detected: np.ndarray, truths: Sequence[np.ndarray]) -> np.ndarray:
    """``detected`` as a boolean map, after checking it and every truth map are 2-D and of one shape."""
    detected = np.asarray(detected)
    for truth in truths:
        if detected.ndim != 2 or detected.shape != truth.shape:
            raise UserInputError(
                f"edge maps must be 2-D and of the same shape, got {detected.shape} and {truth.shape}"
            )
    return detected.astype(bool)


def check_tolerance(tolerance_px: float) -> None:
    if not np.isfinite(tolerance_px) or tolerance_px < 0:
        raise UserInputError(f"matching tolerance must be a finite number >= 0 pixels, got {tolerance_px}")


FLOW_ABOVE_TOLERANCE_PX = 2.5
"""Matching radii above this use Dinic's maximum flow instead of Hopcroft-Karp (``maximum_cardinality_rows``)."""


def maximum_cardinality_rows(graph: csr_matrix, *, dense: bool = False) -> np.ndarray:
    """Which rows of a bipartite ``graph`` (rows: detections, columns: true pixels) a maximum matching pairs.

    Two exact algorithms, the same maximum cardinality: scipy's Hopcroft-Karp
    (``maximum_bipartite_matching``), fastest on the sparse graphs of a 1.5 px radius, and -- with ``dense`` --
    Dinic's maximum flow (``maximum_flow``) on source -> rows -> columns -> sink with unit capacities. On the
    wide-radius graphs of the BSDS protocol (about 60 true pixels within 4.3 px of a detection) scipy's
    Hopcroft-Karp slowed to a second per matching on one photograph, Dinic took 40 ms; on small graphs building
    the flow network costs more than Hopcroft-Karp's whole run. Which rows are paired can differ between two
    maximum matchings; how many cannot.
    """
    n_rows, n_cols = graph.shape
    if not dense:
        return maximum_bipartite_matching(graph, perm_type="column") >= 0
    source, sink = n_rows + n_cols, n_rows + n_cols + 1
    indptr = np.concatenate([graph.indptr, graph.indptr[-1] + np.arange(1, n_cols + 1),
                             [graph.indptr[-1] + n_cols + n_rows] * 2]).astype(np.int32)
    indices = np.concatenate([graph.indices + n_rows, np.full(n_cols, sink), np.arange(n_rows)]).astype(np.int32)
    network = csr_matrix((np.ones(len(indices), np.int32), indices, indptr), shape=(sink + 1, sink + 1))
    flow = maximum_flow(network, source, sink, method="dinic").flow.tocsr()
    start, end = flow.indptr[source], flow.indptr[source + 1]
    paired = np.zeros(n_rows, bool)
    paired[flow.indices[start:end][flow.data[start:end] > 0]] = True
    return paired


class _AnnotatorGraph:
    """The candidate graph between a fixed set of detectable pixels and one annotator's edge pixels."""

    def __init__(self, coords: np.ndarray, truth: np.ndarray, tolerance_px: float) -> None:
        self.dense = tolerance_px > FLOW_ABOVE_TOLERANCE_PX
        true_coords = np.argwhere(truth)
        self.n_true = len(true_coords)
        self.graph = csr_matrix((len(coords), self.n_true), dtype=np.int8)
        if len(coords) and self.n_true:
            pairs = cKDTree(coords).sparse_distance_matrix(
                cKDTree(true_coords), tolerance_px + 1e-9, output_type="coo_matrix"
            )
            # sparse_distance_matrix drops zero distances (a detection exactly on the truth): add them back
            exact = truth[coords[:, 0], coords[:, 1]]
            true_index = np.full(truth.shape, -1, dtype=np.int64)
            true_index[true_coords[:, 0], true_coords[:, 1]] = np.arange(self.n_true)
            rows = np.concatenate([pairs.row, np.flatnonzero(exact)])
            cols = np.concatenate([pairs.col, true_index[coords[exact, 0], coords[exact, 1]]])
            self.graph = csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(len(coords), self.n_true))
            self.graph.sum_duplicates()
            self.graph.data[:] = 1

    def match(self, rows: np.ndarray) -> np.ndarray:
        """Which of the candidate ``rows`` (indices) are paired in a maximum matching (boolean per row)."""
        if len(rows) == 0 or self.n_true == 0:
            return np.zeros(len(rows), bool)
        # the rows' sub-graph, cut from the CSR arrays directly (scipy's fancy row indexing costs more than the
        # matching itself at this size, and a sweep does it once per threshold)
        indptr = self.graph.indptr
        lengths = indptr[rows + 1] - indptr[rows]
        sub_ptr = np.zeros(len(rows) + 1, dtype=indptr.dtype)
        np.cumsum(lengths, out=sub_ptr[1:])
        if sub_ptr[-1] == 0:
            return np.zeros(len(rows), bool)
        take = np.repeat(indptr[rows] - sub_ptr[:-1], lengths) + np.arange(sub_ptr[-1])
        sub = csr_matrix((np.ones(len(take), np.int8), self.graph.indices[take], sub_ptr),
                         shape=(len(rows), self.n_true))
        return maximum_cardinality_rows(sub, dense=self.dense)


class Matcher:
    """Candidate pixels against every annotator, built once per (image, operator).

    Each threshold then selects a subset of the candidates and runs one maximum matching per annotator, so
    a 30-threshold sweep does one neighbour search per annotator, not thirty.
    """

    def __init__(self, candidates: np.ndarray, truths: Sequence[np.ndarray], tolerance_px: float) -> None:
        check_tolerance(tolerance_px)
        self.coords = np.argwhere(candidates)
        self.annotators = [_AnnotatorGraph(self.coords, t, tolerance_px) for t in truths]
        self.n_true = sum(a.n_true for a in self.annotators)

    def count(self, selected: np.ndarray) -> MatchCounts:
        """Match the candidates flagged in ``selected`` (a boolean per candidate) against every annotator."""
        rows = np.flatnonzero(selected)
        correct = np.zeros(len(rows), bool)
        matched_true = 0
        for annotator in self.annotators:
            paired = annotator.match(rows)
            correct |= paired
            matched_true += int(paired.sum())  # one true pixel per pair
        return MatchCounts(int(correct.sum()), len(rows), matched_true, self.n_true)


def match_edges(detected: np.ndarray, truth: np.ndarray | Sequence[np.ndarray],
                tolerance_px: float = DEFAULT_TOLERANCE_PX) -> MatchCounts:
    """One-to-one matching of a binary edge map to one ground truth map, or to several annotators' maps."""
    truths = as_annotations(truth)
    detected = check_pair(detected, truths)
    matcher = Matcher(detected, truths, tolerance_px)
    return matcher.count(np.ones(len(matcher.coords), bool))


def pratt_fom(detected: np.ndarray, truth: np.ndarray, alpha: float = PRATT_ALPHA) -> float:
    """Pratt's figure of merit in [0, 1]; 1 = every true pixel detected exactly and nothing else.

    ``FOM = 1/max(N_true, N_detected) * sum_detected 1/(1 + alpha d^2)``, ``d`` the distance to the nearest
    true edge pixel: it rewards localisation as well as count. Defined for one truth map. Conventions: both
    maps empty -> 1; exactly one empty -> 0.
    """
    truth = np.asarray(truth).astype(bool)
    detected = check_pair(detected, [truth])
    n_detected, n_true = int(detected.sum()), int(truth.sum())
    if n_detected == 0 and n_true == 0:
        return 1.0
    if n_detected == 0 or n_true == 0:
        return 0.0
    distance = ndi.distance_transform_edt(~truth)
    d = distance[detected]
    return float(np.sum(1.0 / (1.0 + alpha * d * d)) / max(n_true, n_detected))
