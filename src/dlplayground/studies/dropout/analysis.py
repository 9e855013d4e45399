"""The analysis: every predictor against every target across the population, with bootstrap intervals.

It works on a ``PopulationTable`` -- one column per measure, plus each measure on the two halves of its split,
the group and the design factors -- so the same code runs on a measured population and on the synthetic ones
the tests build with a known answer.

For each (predictor, target) pair, four correlations on the same bootstrap resamples (one seed): Spearman's rho,
and three partial correlations computed on normal scores (``correlation.partial_normal``: regressing ranks on
ranks leaves confounding behind when the confounds are strong, as clean accuracy and random pruning are here):

* **rho**: the plain rank correlation;
* **given clean accuracy**: the partial correlation controlling for clean accuracy (the floor effect: a model
  near the majority-class rate loses little to dropout and to pruning alike);
* **incremental** (the core question): the partial correlation given clean accuracy, robustness to random
  pruning (the equally cheap competitor) and the group (dataset x architecture indicators, so differences
  between datasets cannot carry it) -- what the predictor tells about the target that those do not;
* **given everything**: the same plus every design factor (the whole training recipe).

A covariate is never partialled out of itself (for the competitor rows, the incremental set is the others).
The judged pairs (``JUDGED`` x ``MAIN_TARGETS``) also get their incremental interval at the simultaneous level
of the whole family (``dlplayground.stats.simultaneous_level``), read from the same resamples.

Also: the primary predictor within each group and within clean-accuracy terciles (the stratified view of the
floor effect), and every measure's spread and split-half reliability (the Spearman correlation across models
between its two halves, stepped up to the full split by Spearman-Brown, ``2 r / (1 + r)``). A measure whose
reliability is low is mostly measurement noise and cannot correlate strongly with anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dlplayground.stats import Interval, percentile_interval, simultaneous_level
from dlplayground.studies.dropout.config import MIN_POPULATION
from dlplayground.studies.dropout.correlation import Correlation, correlate
from dlplayground.studies.dropout.measurement import MemberResult
from dlplayground.studies.dropout.population import FACTORS


@dataclass(frozen=True)
class Measure:
    """A per-model measurement: its value, its value on each half of its split, and its orientation."""

    value: Callable[[MemberResult], float]
    half: Callable[[MemberResult, int], float] | None = None
    sign: int = 1
    """+1 when larger means "withstands dropout / compresses better"; -1 when smaller does."""


PRIMARY = "mean accuracy under eval-dropout (AUC)"
SECOND = "MC-dropout mutual information"
CLEAN = "clean accuracy"
RANDOM_PRUNE = "random-pruning robustness"
PREDICTORS: dict[str, Measure] = {
    PRIMARY: Measure(lambda r: r.predictors.native.auc, lambda r, h: r.predictors.native.half_auc(h)),
    SECOND: Measure(lambda r: r.predictors.mc.mutual_information_nats,
                    lambda r, h: r.predictors.mc.half_mutual_information_nats[h], sign=-1),
    "mean accuracy under inserted dropout (AUC)": Measure(lambda r: r.predictors.inserted.auc,
                                                          lambda r, h: r.predictors.inserted.half_auc(h)),
    CLEAN: Measure(lambda r: r.clean_accuracy),
    RANDOM_PRUNE: Measure(lambda r: r.predictors.random_prune_robustness,
                          lambda r, h: r.predictors.half_random_prune_robustness(h)),
    "weight norm": Measure(lambda r: r.weight_norm),
    "generalisation gap": Measure(lambda r: r.gap, sign=-1),
    "random score": Measure(lambda r: r.random_score),
}
TARGETS: dict[str, Measure] = {
    "prunability (one-shot)": Measure(lambda r: r.targets.prune_oneshot.max_sparsity,
                                      lambda r, h: r.targets.prune_oneshot.half_max_sparsity(h)),
    "prunability (fine-tuned)": Measure(lambda r: r.targets.prune_finetuned.max_sparsity,
                                        lambda r, h: r.targets.prune_finetuned.half_max_sparsity(h)),
    "distillation gain": Measure(lambda r: r.targets.distillation.gain,
                                 lambda r, h: r.targets.distillation.half_gain(h)),
    "retained accuracy (student / teacher)": Measure(lambda r: r.targets.distillation.retained,
                                                     lambda r, h: r.targets.distillation.half_retained(h)),
}
MAIN_TARGETS = ("prunability (one-shot)", "prunability (fine-tuned)", "distillation gain")
JUDGED = (PRIMARY, SECOND)
INCREMENTAL_COVARIATES = (CLEAN, RANDOM_PRUNE)  # and the group indicators
FAMILY_SIZE = len(JUDGED) * len(MAIN_TARGETS)
PARTIAL = "partial_normal"  # normal-score partial correlation: see correlation's docstring for why not ranks


@dataclass(frozen=True)
class PopulationTable:
    """The population as columns: each measure, each measure's two halves, the group and the design factors."""

    values: Mapping[str, np.ndarray]
    halves: Mapping[str, np.ndarray] = field(default_factory=dict)
    """(n, 2) per measure that has halves."""
    groups: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    factors: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    """(n, len(FACTORS)) design factors, for the "given everything" partial."""
    datasets: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    def __post_init__(self) -> None:
        n = len(self.groups)
        for name, col in self.values.items():
            if col.shape != (n,):
                raise ValueError(f"column {name!r} has shape {col.shape}, expected ({n},)")
        if self.factors.shape[0] != n or len(self.datasets) != n:
            raise ValueError("factors and datasets need one row per model")

    @property
    def n(self) -> int:
        return len(self.groups)

    def group_indicators(self) -> np.ndarray:
        """One 0/1 column per group but the first (sorted): (n, groups - 1), possibly 0 columns."""
        names = sorted(set(self.groups.tolist()))
        return np.column_stack([(self.groups == g).astype(float) for g in names[1:]]) if len(names) > 1 \
            else np.empty((self.n, 0))

    @classmethod
    def from_results(cls, results: Sequence[MemberResult]) -> PopulationTable:
        measures = {**PREDICTORS, **TARGETS}
        values = {name: np.array([m.value(r) for r in results], dtype=float) for name, m in measures.items()}
        halves = {name: np.array([[m.half(r, 0), m.half(r, 1)] for r in results], dtype=float)
                  for name, m in measures.items() if m.half is not None}
        return cls(values=values, halves=halves, groups=np.array([r.member.group for r in results], dtype=object),
                   factors=np.array([[float(getattr(r.member, f)) for f in FACTORS] for r in results]).reshape(
                       len(results), len(FACTORS)),
                   datasets=np.array([r.member.dataset for r in results], dtype=object))


@dataclass(frozen=True)
class PairResult:
    """The correlations of one predictor with one target (same resamples for all four)."""

    predictor: str
    target: str
    spearman: Correlation
    given_clean: Correlation
    incremental: Correlation
    given_all: Correlation
    simultaneous: tuple[float, float]
    """The incremental correlation's interval at the family's simultaneous level (same resamples)."""
    simultaneous_level: float


@dataclass(frozen=True)
class SubsetCorrelation:
    """The primary predictor's Spearman correlation with one target within one subset of the population."""

    subset: str
    target: str
    spearman: Correlation
    clean_range: tuple[float, float] = (float("nan"), float("nan"))


@dataclass(frozen=True)
class Reliability:
    """A measure's spread across models and its split-half reliability (Spearman-Brown), with an interval."""

    measure: str
    n: int
    minimum: float
    median: float
    maximum: float
    sd: float
    distinct: int
    half_correlation: Correlation | None
    reliability: Interval | None

    @property
    def estimate(self) -> float:
        return self.reliability.estimate if self.reliability is not None else float("nan")


def _covariates(table: PopulationTable, names: Sequence[str], exclude: str) -> np.ndarray:
    cols = [table.values[c] for c in names if c != exclude]
    return np.column_stack([*cols, table.group_indicators()]) if cols else table.group_indicators()


def incremental_covariate_count(table: PopulationTable) -> int:
    """Covariates of the core test for a judged predictor: clean accuracy, random pruning, group indicators."""
    return len(INCREMENTAL_COVARIATES) + table.group_indicators().shape[1]


def correlate_pairs(table: PopulationTable, *, resamples: int, level: float, seed: int,
                    predictors: Sequence[str] = tuple(PREDICTORS), targets: Sequence[str] = tuple(TARGETS),
                    family_size: int = FAMILY_SIZE) -> list[PairResult]:
    """Every predictor against every target (models where either is undefined are left out of that pair).

    Pair ``(j, k)`` bootstraps with seed ``seed + 100 j + k``, the same for its four correlations.
    """
    sim_level = simultaneous_level(level, family_size)
    pairs = []
    for j, pname in enumerate(predictors):
        incremental_z = _covariates(table, INCREMENTAL_COVARIATES, pname)
        all_z = np.column_stack([incremental_z, table.factors])
        for k, tname in enumerate(targets):
            x, y = table.values[pname], table.values[tname]
            ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(incremental_z).all(axis=1)
            options = {"n_boot": resamples, "confidence": level, "seed": seed + 100 * j + k}
            x, y = x[ok], y[ok]
            rho = correlate(x, y, "spearman", **options)
            given_clean = rho if pname == CLEAN else correlate(x, y, PARTIAL,
                                                                 confound=table.values[CLEAN][ok], **options)
            incremental = correlate(x, y, PARTIAL, confound=incremental_z[ok], **options)
            pairs.append(PairResult(
                pname, tname, rho, given_clean, incremental,
                correlate(x, y, PARTIAL, confound=all_z[ok], **options),
                percentile_interval(incremental.interval.distribution, sim_level), sim_level,
            ))
    return pairs


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (float("nan"), float("nan"))


def within_group_correlations(table: PopulationTable, *, resamples: int, level: float, seed: int,
                              targets: Sequence[str] = MAIN_TARGETS) -> list[SubsetCorrelation]:
    """The primary predictor's Spearman correlation with each target within each group of >= 8 models."""
    out = []
    x_all = table.values[PRIMARY]
    for k, tname in enumerate(targets):
        y_all = table.values[tname]
        ok = np.isfinite(x_all) & np.isfinite(y_all)
        for g in sorted(set(table.groups.tolist())):
            sel = ok & (table.groups == g)
            if sel.sum() >= MIN_POPULATION:
                c = correlate(x_all[sel], y_all[sel], "spearman", n_boot=resamples, confidence=level, seed=seed + k)
                out.append(SubsetCorrelation(g, tname, c, _range(table.values[CLEAN][sel])))
    return out


def clean_accuracy_strata(table: PopulationTable, *, resamples: int, level: float, seed: int, strata: int = 3,
                          targets: Sequence[str] = MAIN_TARGETS) -> list[SubsetCorrelation]:
    """The primary predictor's Spearman correlation with each target within clean-accuracy quantile strata.

    Within a stratum the models have similar clean accuracy, so a correlation there cannot come from the floor
    (weak models being "robust" to dropout and pruning alike). Strata with fewer than 8 models are left out.
    """
    clean = table.values[CLEAN]
    edges = np.quantile(clean[np.isfinite(clean)], np.linspace(0, 1, strata + 1))
    stratum = np.clip(np.searchsorted(edges, clean, side="right") - 1, 0, strata - 1)
    out = []
    x_all = table.values[PRIMARY]
    for k, tname in enumerate(targets):
        y_all = table.values[tname]
        ok = np.isfinite(x_all) & np.isfinite(y_all) & np.isfinite(clean)
        for s in range(strata):
            sel = ok & (stratum == s)
            if sel.sum() >= MIN_POPULATION:
                c = correlate(x_all[sel], y_all[sel], "spearman", n_boot=resamples, confidence=level, seed=seed + k)
                out.append(SubsetCorrelation(f"clean accuracy stratum {s + 1} of {strata}", tname, c,
                                             _range(clean[sel])))
    return out


def spearman_brown(r: float) -> float:
    """The reliability of a measure on the whole split from the correlation between its two halves."""
    return 2 * r / (1 + r) if np.isfinite(r) and r > -1 else float("nan")


def reliabilities(table: PopulationTable, *, resamples: int, level: float, seed: int,
                  measures: Sequence[str] | None = None) -> list[Reliability]:
    """Spread and split-half reliability of every measure (those without halves get the spread only)."""
    out = []
    for i, name in enumerate(measures if measures is not None else table.values):
        values = table.values[name]
        finite = values[np.isfinite(values)]
        half = half_corr = None
        if name in table.halves:
            a, b = table.halves[name][:, 0], table.halves[name][:, 1]
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() >= 3:
                half_corr = correlate(a[ok], b[ok], "spearman", n_boot=resamples, confidence=level, seed=seed + i)
                iv = half_corr.interval
                half = Interval(spearman_brown(iv.estimate), spearman_brown(iv.low), spearman_brown(iv.high),
                                iv.level, iv.resamples, iv.valid)
        nan = float("nan")
        out.append(Reliability(
            name, int(finite.size), float(finite.min()) if finite.size else nan,
            float(np.median(finite)) if finite.size else nan, float(finite.max()) if finite.size else nan,
            float(finite.std(ddof=1)) if finite.size > 1 else nan, int(np.unique(finite).size), half_corr, half))
    return out
