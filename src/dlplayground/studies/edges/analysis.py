"""From raw sweeps to the study's comparisons: best scales, ODS/OIS/FOM with intervals, paired differences.

Every interval is ``dlplayground.stats.bootstrap`` over images (the sampling unit), percentile, at
``CI_LEVEL``. One ``Resampling`` (resamples, level, seed) serves a whole population -- the synthetic images
of a condition, or the faces -- and ``bootstrap`` draws the same resamples for the same seed and number of
images, so all intervals over one population are paired with each other. A difference between two
operators is one statistic of both operators' per-image data, resampled together.

The ODS F is re-derived in every resample (``scoring.ods_f``: counts summed over the resampled images, best
threshold re-picked). Pratt's FOM stays at the threshold picked on all images (as in the point estimate) and
is bootstrapped as a mean over images. Operator and scale are chosen once, on all images, not inside each
resample: a maximum over near-identical candidates (Sobel vs Scharr) would bias the bootstrap upward, and
more for the gradient family, which has more members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dlplayground.stats import Interval, Statistic, bootstrap
from dlplayground.studies.edges.evaluation import Condition, ConditionResult, FaceStability
from dlplayground.studies.edges.operators import GRADIENT_OPERATORS, LAPLACIAN_OPERATORS
from dlplayground.studies.edges.scoring import SweepTable, ods_f


def mean_over_images(values: np.ndarray) -> np.ndarray:
    """Mean of per-image values along the image axis (the last), for any leading resample axes."""
    return np.asarray(values).mean(axis=-1)


def ods_f_difference(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """ODS F of ``a`` minus ODS F of ``b`` on the same (resampled) images, each re-picking its threshold."""
    return ods_f(counts_a) - ods_f(counts_b)


def mean_difference(values_a: np.ndarray, values_b: np.ndarray) -> np.ndarray:
    """Mean over images of the per-image difference ``a - b``."""
    return mean_over_images(np.asarray(values_a) - np.asarray(values_b))


@dataclass(frozen=True)
class Resampling:
    """How the intervals over one population of images are drawn (recorded in ``result.json``)."""

    resamples: int
    level: float
    seed: int

    def interval(self, data: np.ndarray | Sequence[np.ndarray], statistic: Statistic) -> Interval:
        """``bootstrap`` of ``statistic`` over the images (axis 0 of every array, resampled together)."""
        return bootstrap(data, statistic, paired=True, resamples=self.resamples, level=self.level, seed=self.seed)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


# --------------------------------------------------------------------------------------- synthetic
@dataclass(frozen=True)
class OperatorScore:
    """One operator on one condition, at its best scale (the one with the best ODS F on all images)."""

    table: SweepTable
    """The sweep at that scale: per-image, per-threshold counts and FOM."""
    ods_f_interval: Interval
    fom_interval: Interval

    @property
    def operator(self) -> str:
        return self.table.operator

    @property
    def sigma(self) -> float:
        return self.table.sigma

    @property
    def ods(self) -> tuple[float, float, float]:
        """(precision, recall, F) at the dataset's best threshold."""
        return self.table.score.ods

    @property
    def ods_f(self) -> float:
        return self.table.score.ods[2]

    @property
    def ois_f(self) -> float:
        return self.table.score.ois[2]

    @property
    def ods_index(self) -> int:
        return self.table.score.ods_index

    @property
    def fom_per_image(self) -> np.ndarray:
        """Each image's Pratt FOM at the ODS threshold."""
        return self.table.fom[:, self.ods_index]

    @property
    def fom(self) -> float:
        return float(self.fom_per_image.mean())


@dataclass(frozen=True)
class PairedComparison:
    """Operator ``first`` against ``second`` on the same images: ODS F difference and its paired interval."""

    first: SweepTable
    second: SweepTable
    difference: Interval
    """ODS F of ``first`` minus ``second``; the estimate is the difference on all images."""


@dataclass(frozen=True)
class MatchedScale:
    """Every operator at one Gaussian scale on one condition, and the best-of-family difference there."""

    sigma: float
    ods_f: dict[str, float]
    """ODS F per operator run at this scale."""
    family: PairedComparison | None
    """Best gradient minus best Laplacian at this scale; None unless both families ran at it."""


@dataclass(frozen=True)
class ConditionAnalysis:
    """Everything the tables, figures and verdict say about one condition."""

    condition: Condition
    tables: tuple[SweepTable, ...]
    """Every (operator, sigma) swept on this condition."""
    scores: dict[str, OperatorScore]
    """Each operator at its best scale, in the order the sweeps ran."""
    family: PairedComparison | None
    """Best gradient operator minus best Laplacian one (each at its best scale); None if a family is absent."""
    ranked: list[OperatorScore]
    """All operators, best ODS F first (Canny included)."""
    lead: PairedComparison | None
    """Winner minus runner-up; None with a single operator."""
    matched_scales: list[MatchedScale]


def _best(tables: Sequence[SweepTable], family: Sequence[str]) -> SweepTable | None:
    """The family's table with the best ODS F; on a tie, the first in the family's order."""
    members = [t for op in family for t in tables if t.operator == op]
    return max(members, key=lambda t: t.score.ods[2]) if members else None


def compare_operators(first: SweepTable, second: SweepTable, resampling: Resampling) -> PairedComparison:
    """``first`` against ``second``: ODS F difference, both re-picking their thresholds in every resample."""
    return PairedComparison(first, second, resampling.interval((first.counts, second.counts), ods_f_difference))


def compare_families(tables: Sequence[SweepTable], resampling: Resampling) -> PairedComparison | None:
    """The best gradient table against the best Laplacian one (by ODS F on all images), if both families ran."""
    gradient, laplacian = _best(tables, GRADIENT_OPERATORS), _best(tables, LAPLACIAN_OPERATORS)
    if gradient is None or laplacian is None:
        return None
    return compare_operators(gradient, laplacian, resampling)


def score_operators(result: ConditionResult, resampling: Resampling) -> dict[str, OperatorScore]:
    """Each operator at its best scale, with bootstrap intervals of its ODS F and its FOM."""
    scores = {}
    for op in dict.fromkeys(t.operator for t in result.tables):
        best = max((t for t in result.tables if t.operator == op), key=lambda t: t.score.ods[2])
        fom_per_image = best.fom[:, best.score.ods_index]
        scores[op] = OperatorScore(
            table=best, ods_f_interval=resampling.interval(best.counts, ods_f),
            fom_interval=resampling.interval(fom_per_image, mean_over_images),
        )
    return scores


def analyse_condition(result: ConditionResult, resampling: Resampling) -> ConditionAnalysis:
    """Best scales, family comparison, winner and matched-scale comparisons for one condition."""
    scores = score_operators(result, resampling)
    ranked = sorted(scores.values(), key=lambda s: -s.ods_f)
    lead = compare_operators(ranked[0].table, ranked[1].table, resampling) if len(ranked) > 1 else None
    family = compare_families([s.table for s in scores.values()], resampling)
    matched = []
    for sigma in dict.fromkeys(t.sigma for t in result.tables):
        at_sigma = [t for t in result.tables if t.sigma == sigma]
        matched.append(MatchedScale(sigma, {t.operator: t.score.ods[2] for t in at_sigma},
                                    compare_families(at_sigma, resampling)))
    return ConditionAnalysis(result.condition, result.tables, scores, family, ranked, lead, matched)


def analyse_benchmark(results: Sequence[ConditionResult], resampling: Resampling) -> list[ConditionAnalysis]:
    """``analyse_condition`` for every condition (one resampling: each condition holds the same scenes)."""
    return [analyse_condition(r, resampling) for r in results]


# ------------------------------------------------------------------------------------------- faces
@dataclass(frozen=True)
class FaceAgreement:
    """One (operator, sigma, noise) on the faces: mean agreement and its bootstrap interval over faces."""

    stability: FaceStability
    interval: Interval


@dataclass(frozen=True)
class FaceFamilyComparison:
    """At one face noise level: the most stable gradient map against the most stable Laplacian one."""

    noise: float
    gradient: FaceStability
    laplacian: FaceStability
    difference: Interval
    """Mean agreement of ``gradient`` minus ``laplacian``, paired over faces."""


def analyse_faces(stability: Sequence[FaceStability], noise_levels: Sequence[float], resampling: Resampling
                  ) -> tuple[list[FaceAgreement], list[FaceFamilyComparison]]:
    """Intervals for every face measurement, and the family comparison at each noise level."""
    agreements = [FaceAgreement(s, resampling.interval(s.per_image, mean_over_images)) for s in stability]
    families = []
    for noise in noise_levels:
        rows = [s for s in stability if s.noise == noise]
        gradient = [s for s in rows if s.operator in GRADIENT_OPERATORS]
        laplacian = [s for s in rows if s.operator in LAPLACIAN_OPERATORS]
        if gradient and laplacian:
            bg = max(gradient, key=lambda s: s.per_image.mean())
            bl = max(laplacian, key=lambda s: s.per_image.mean())
            families.append(FaceFamilyComparison(noise, bg, bl, resampling.interval((bg.per_image, bl.per_image),
                                                                                     mean_difference)))
    return agreements, families
