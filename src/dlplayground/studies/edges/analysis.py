"""From the sweeps to the study's comparisons: held-out scores, paired family decisions with Holm's correction,
the noise trend of each panel, and the face-stability comparison.

Per operator and condition (``OperatorScore``): the held-out F at the threshold chosen on the tuning images
(the primary score), with a 95 % percentile bootstrap over the held-out images; beside it the field's
in-sample measures on the same images at the chosen scale -- ODS and OIS F and AP -- and Pratt's FOM at the
chosen threshold.

Per condition (``FamilyComparison``): the member of each family chosen on the tuning images
(``selection.pick_member``) meets the other on the held-out images. The difference of their held-out F
(gradient minus Laplacian) is tested with the paired permutation test (``significance``), and the p-values
of all conditions (the BSDS arm included) are adjusted together with Holm's step-down method
(``dlplayground.stats.holm_adjust``): a condition is *resolved* when its adjusted p-value is below ``1 -
level`` (0.05), which keeps the chance of any false call among all conditions at 5 % whatever their
dependence -- conditions of a kind share scenes, so they are not independent, and a count of 95 % intervals
would not be a valid summary. The interval shown beside each decision is a bootstrap over the held-out
images at the Bonferroni simultaneous level (``stats.simultaneous_level``: 99.9 % for 60 conditions), so
reading all of them at once is honest; Holm is a little more powerful than that interval, so a resolved
condition's interval can touch zero.

Per panel (``NoiseTrend``: a scene kind at one blur): the change of the family difference from the lowest to
the highest noise level -- ``(F_g - F_l) at the highest noise minus the same at the lowest`` -- paired over
the held-out scenes (every condition of a kind scores the same scenes, each with its own noise), bootstrapped
at the simultaneous level over the panels, with the Holm-corrected decisions at its two ends.

Faces (``FaceFamilyComparison``): the faces are split in two (even and odd positions in the evenly spread
selection); each family's operator and scale are chosen by mean agreement on the first half and compared on
the second, the difference bootstrapped over those faces at the simultaneous level over the face noise levels.

Bootstraps use ``dlplayground.stats.bootstrap`` with one seed per population, so the intervals over one set of
images share their resamples (paired); the permutation streams are seeded per condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dlplayground.stats import Interval, Statistic, bootstrap, holm_adjust, simultaneous_level
from dlplayground.studies.edges.evaluation import Condition, ConditionResult, FaceStability
from dlplayground.studies.edges.operators import FAMILY_MEMBERS
from dlplayground.studies.edges.scoring import SweepTable, f_difference, heldout_f
from dlplayground.studies.edges.selection import Tuned, pick_member
from dlplayground.studies.edges.significance import paired_permutation_p

PERMUTATION_STREAM = 11
"""Part of every permutation seed: ``(seed, PERMUTATION_STREAM, condition index)``."""


def mean_over_images(values: np.ndarray) -> np.ndarray:
    """Mean of per-image values along the image axis (the last), for any leading resample axes."""
    return np.asarray(values).mean(axis=-1)


def mean_difference(values_a: np.ndarray, values_b: np.ndarray) -> np.ndarray:
    """Mean over images of the per-image difference ``a - b``."""
    return mean_over_images(np.asarray(values_a) - np.asarray(values_b))


def change_of_difference(grad_low: np.ndarray, lap_low: np.ndarray, grad_high: np.ndarray, lap_high: np.ndarray
                         ) -> np.ndarray:
    """``(F_g - F_l)`` at the high noise level minus the same at the low one, on the same (resampled) scenes."""
    return f_difference(grad_high, lap_high) - f_difference(grad_low, lap_low)


@dataclass(frozen=True)
class Resampling:
    """How intervals and tests over one population are drawn (recorded in ``result.json``)."""

    resamples: int
    level: float
    seed: int
    permutations: int = 0

    @property
    def alpha(self) -> float:
        """The family-wise error rate of the decisions: ``1 - level``."""
        return 1.0 - self.level

    def interval(self, data: np.ndarray | Sequence[np.ndarray], statistic: Statistic,
                 level: float | None = None) -> Interval:
        """``bootstrap`` of ``statistic`` over the images (axis 0 of every array, resampled together)."""
        return bootstrap(data, statistic, paired=True, resamples=self.resamples, level=level or self.level,
                         seed=self.seed)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


# ------------------------------------------------------------------------------------------- per operator
@dataclass(frozen=True)
class OperatorScore:
    """One operator on one condition's held-out images, at the scale and threshold chosen on its tuning images."""

    tuned: Tuned
    table: SweepTable
    """The held-out sweep at the chosen scale, on the tuning grid of thresholds."""
    f_interval: Interval
    """Held-out F at the chosen threshold, 95 % bootstrap over the held-out images."""
    fom_interval: Interval | None
    """Mean Pratt FOM at the chosen threshold (None where FOM is undefined: several annotators)."""

    @property
    def operator(self) -> str:
        return self.tuned.operator

    @property
    def sigma(self) -> float:
        return self.tuned.sigma

    @property
    def counts(self) -> np.ndarray:
        """(n_images, 4) counts at the chosen threshold."""
        return self.table.counts[:, self.tuned.threshold_index]

    @property
    def f(self) -> float:
        return self.f_interval.estimate

    @property
    def precision_recall(self) -> tuple[float, float]:
        p, r, _ = self.table.score.at(self.tuned.threshold_index)
        return p, r

    @property
    def ods_f(self) -> float:
        return self.table.score.ods[2]

    @property
    def ois_f(self) -> float:
        return self.table.score.ois[2]

    @property
    def ap(self) -> float:
        return self.table.score.ap

    @property
    def fom_per_image(self) -> np.ndarray:
        return self.table.fom[:, self.tuned.threshold_index]


def score_operators(result: ConditionResult, resampling: Resampling) -> dict[str, OperatorScore]:
    """Each operator's held-out scores and intervals, in the order the operators were tuned."""
    scores = {}
    for op, tuned in result.tuned.items():
        table = result.scoring[op]
        counts, fom = table.counts[:, tuned.threshold_index], table.fom[:, tuned.threshold_index]
        fom_interval = resampling.interval(fom, mean_over_images) if np.isfinite(fom).all() else None
        scores[op] = OperatorScore(tuned, table, resampling.interval(counts, heldout_f), fom_interval)
    return scores


# ------------------------------------------------------------------------------------------- per condition
@dataclass(frozen=True)
class FamilyComparison:
    """Each family's member (chosen on the tuning images) on one condition's held-out images.

    ``difference`` is the held-out F of the gradient member minus the Laplacian member, with its bootstrap
    interval at the simultaneous level; ``p_value`` the paired permutation test's, ``p_holm`` after Holm's
    adjustment over every condition compared.
    """

    condition: Condition
    gradient: str
    gradient_sigma: float
    gradient_f: float
    laplacian: str
    laplacian_sigma: float
    laplacian_f: float
    difference: Interval
    p_value: float
    p_holm: float
    alpha: float

    @property
    def decision(self) -> int:
        """+1 gradient better, -1 Laplacian better (Holm-adjusted p below ``alpha``), 0 unresolved."""
        if not self.p_holm < self.alpha or self.difference.estimate == 0:
            return 0
        return 1 if self.difference.estimate > 0 else -1


@dataclass(frozen=True)
class ConditionAnalysis:
    """Everything the tables, figures and verdict say about one condition."""

    result: ConditionResult
    scores: dict[str, OperatorScore]
    family: FamilyComparison | None
    """None unless both families ran."""

    @property
    def condition(self) -> Condition:
        return self.result.condition

    @property
    def ranked(self) -> list[OperatorScore]:
        """All operators, best held-out F first (Canny and Scharr included)."""
        return sorted(self.scores.values(), key=lambda s: -s.f)


@dataclass(frozen=True)
class NoiseTrend:
    """How the family difference of one panel (scene kind x blur) changes from the lowest to the highest noise."""

    kind: str
    blur_px: float
    low_noise: float
    high_noise: float
    low_difference: float
    high_difference: float
    low_decision: int
    high_decision: int
    """The Holm-corrected family decisions at the two ends (+1 gradient better, -1 Laplacian better, 0 unresolved)."""
    change: Interval
    """High minus low difference, bootstrap over the shared held-out scenes at the simultaneous level."""

    @property
    def direction(self) -> int:
        """+1: the difference rises towards the gradient with noise; -1: towards the Laplacian; 0 unresolved."""
        return self.change.sign


@dataclass(frozen=True)
class BenchmarkAnalysis:
    """The whole comparison: per condition, the family decisions (Holm-adjusted) and the noise trends."""

    conditions: list[ConditionAnalysis]
    trends: list[NoiseTrend]
    comparison_level: float
    """Level of the intervals beside the decisions (simultaneous over the conditions compared)."""
    trend_level: float

    @property
    def comparisons(self) -> list[FamilyComparison]:
        return [a.family for a in self.conditions if a.family is not None]


def _members(scores: dict[str, OperatorScore], tuned: dict[str, Tuned]) -> tuple[OperatorScore, OperatorScore] | None:
    gradient, laplacian = (pick_member(tuned, FAMILY_MEMBERS[f]) for f in ("gradient", "laplacian"))
    if gradient is None or laplacian is None:
        return None
    return scores[gradient.operator], scores[laplacian.operator]


def _trends(analyses: Sequence[ConditionAnalysis], pairs: dict[Condition, tuple[OperatorScore, OperatorScore]],
            resampling: Resampling) -> tuple[list[NoiseTrend], float]:
    panels: dict[tuple[str, float], list[Condition]] = {}
    decisions = {a.condition: a.family.decision for a in analyses if a.family is not None}
    for a in analyses:
        if a.condition in pairs:
            panels.setdefault((a.condition.kind, a.condition.blur_px), []).append(a.condition)
    usable: dict[tuple[str, float], tuple[Condition, Condition]] = {}
    for key, conditions in panels.items():
        low, high = min(conditions, key=lambda c: c.noise), max(conditions, key=lambda c: c.noise)
        # pairing by scene needs both ends scored on the same held-out scenes (BSDS has no noise levels)
        if low.noise < high.noise and len(pairs[low][0].counts) == len(pairs[high][0].counts):
            usable[key] = (low, high)
    level = simultaneous_level(resampling.level, len(usable)) if usable else resampling.level
    trends = []
    for (kind, blur), (low, high) in usable.items():
        (gl, ll), (gh, lh) = pairs[low], pairs[high]
        change = resampling.interval((gl.counts, ll.counts, gh.counts, lh.counts), change_of_difference, level)
        trends.append(NoiseTrend(kind, blur, low.noise, high.noise, gl.f - ll.f, gh.f - lh.f, decisions[low],
                                 decisions[high], change))
    return trends, level


def analyse_benchmark(results: Sequence[ConditionResult], resampling: Resampling) -> BenchmarkAnalysis:
    """Scores, Holm-corrected family decisions with simultaneous intervals, and noise trends (module docstring)."""
    scored = [(r, score_operators(r, resampling)) for r in results]
    pairs = {r.condition: m for r, s in scored if (m := _members(s, r.tuned)) is not None}
    p_values = {cond: paired_permutation_p(grad.counts, lap.counts, f_difference,
                                           permutations=resampling.permutations,
                                           seed=(resampling.seed, PERMUTATION_STREAM, i))
                for i, (cond, (grad, lap)) in enumerate(pairs.items())}
    adjusted = dict(zip(p_values, holm_adjust(list(p_values.values())), strict=True))
    level = simultaneous_level(resampling.level, len(pairs)) if pairs else resampling.level
    analyses = []
    for result, scores in scored:
        family = None
        if result.condition in pairs:
            g, l_ = pairs[result.condition]
            difference = resampling.interval((g.counts, l_.counts), f_difference, level)
            family = FamilyComparison(result.condition, g.operator, g.sigma, g.f, l_.operator, l_.sigma, l_.f,
                                      difference, p_values[result.condition], float(adjusted[result.condition]),
                                      resampling.alpha)
        analyses.append(ConditionAnalysis(result, scores, family))
    trends, trend_level = _trends(analyses, pairs, resampling)
    return BenchmarkAnalysis(analyses, trends, level, trend_level)


# ------------------------------------------------------------------------------------------- faces
@dataclass(frozen=True)
class FaceAgreement:
    """One (operator, sigma, noise) on all faces: mean agreement and its 95 % bootstrap interval over faces."""

    stability: FaceStability
    interval: Interval


@dataclass(frozen=True)
class FaceFamilyComparison:
    """At one face noise level: each family's most stable operator and scale on the tuning faces, compared on the
    held-out faces."""

    noise: float
    gradient: FaceStability
    laplacian: FaceStability
    gradient_agreement: float
    laplacian_agreement: float
    """Mean agreements on the held-out faces."""
    difference: Interval
    """Gradient minus Laplacian agreement, paired over the held-out faces, at the simultaneous level."""


def face_halves(n_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Tuning and held-out faces: even and odd positions of the (evenly spread) selection."""
    index = np.arange(n_faces)
    return index[::2], index[1::2]


def analyse_faces(stability: Sequence[FaceStability], noise_levels: Sequence[float], resampling: Resampling
                  ) -> tuple[list[FaceAgreement], list[FaceFamilyComparison]]:
    """Intervals for every face measurement, and the out-of-sample family comparison at each noise level."""
    agreements = [FaceAgreement(s, resampling.interval(s.per_image, mean_over_images)) for s in stability]
    n_faces = len(stability[0].per_image) if stability else 0
    if n_faces < 2:
        return agreements, []
    tuning, held_out = face_halves(n_faces)
    families = []
    level = simultaneous_level(resampling.level, max(1, len(noise_levels)))
    for noise in noise_levels:
        rows = [s for s in stability if s.noise == noise]
        chosen = []
        for family in ("gradient", "laplacian"):
            members = [s for s in rows if s.operator in FAMILY_MEMBERS[family]]
            chosen.append(max(members, key=lambda s: s.per_image[tuning].mean()) if members else None)
        bg, bl = chosen
        if bg is None or bl is None:
            continue
        difference = resampling.interval((bg.per_image[held_out], bl.per_image[held_out]), mean_difference, level)
        families.append(FaceFamilyComparison(noise, bg, bl, float(bg.per_image[held_out].mean()),
                                             float(bl.per_image[held_out].mean()), difference))
    return agreements, families
