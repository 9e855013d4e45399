"""From per-fold AUCs to what the study reports: each cell's mean and spread, the within- and cross-source
summaries and the gap between them.

**Why a spread, not a bootstrap interval.** Every number is an AUC on one outer test fold; the repeated
grouped cross-validation gives ``repeats x folds`` of them per cell. Folds share training images, so no
interval for their *mean* is exact (Bengio & Grandvalet, 2004: there is no unbiased estimator of the variance
of k-fold CV). What can be stated honestly is the *spread*: the percentile interval of the per-fold AUCs
(``dlplayground.stats.percentile_interval``) -- "a held-out fold of this size scores in this range". It is
wider than an interval for the mean, so a claim that rests on it is conservative.

**Paired summaries.** In one fold, one model scores the same test faces against every negative source, so the
within-source and cross-source AUCs of that fold are paired. The *gap* of a fold is the mean, over the
cross-source cells (trained against A, tested against B != A), of ``AUC(A -> A) - AUC(A -> B)``: how much a
model loses when the non-faces change source. Its spread over folds keeps the pairing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlplayground.stats import percentile_interval, simultaneous_level
from dlplayground.studies.eigenfaces.transfer import ALL_SOURCES, TransferRecord


@dataclass(frozen=True)
class Spread:
    """The mean of per-fold values and their two-sided percentile spread at ``level``."""

    mean: float
    low: float
    high: float
    level: float
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "level": self.level,
                "per_fold": list(self.values)}


def spread(values: Sequence[float] | np.ndarray, level: float) -> Spread:
    """Mean and percentile spread of per-fold ``values`` (NaN folds left out of both)."""
    values = np.asarray(values, dtype=float).reshape(-1)
    finite = values[np.isfinite(values)]
    low, high = percentile_interval(finite, level)
    mean = float(finite.mean()) if finite.size else float("nan")
    return Spread(mean, low, high, level, tuple(float(v) for v in values))


@dataclass(frozen=True)
class MethodTransfer:
    """One method's transfer matrix, summarised.

    ``cells[(train, test)]`` at the report's level; ``cross_cells`` (train != test, single sources) at the
    simultaneous level the verdict reads them at; ``within``, ``cross`` and ``gap`` per-fold means over the
    diagonal, the cross-source cells and their paired differences (None with a single negative source);
    ``pooled[source]`` is the row trained against all sources.
    """

    method: str
    sources: tuple[str, ...]
    cells: dict[tuple[str, str], Spread]
    cross_cells: dict[tuple[str, str], Spread]
    within: Spread
    cross: Spread | None
    gap: Spread | None
    pooled: dict[str, Spread]

    @property
    def worst_cross(self) -> tuple[tuple[str, str], Spread] | None:
        """The cross-source cell with the lowest mean AUC."""
        if not self.cross_cells:
            return None
        return min(self.cross_cells.items(), key=lambda item: item[1].mean)


def summarise_method(method: str, auc: np.ndarray, trains: Sequence[str], sources: Sequence[str],
                     level: float) -> MethodTransfer:
    """Summarise ``auc[train, source, fold]`` (rows ``trains``: each source, then ``ALL_SOURCES``)."""
    trains, sources = tuple(trains), tuple(sources)
    auc = np.asarray(auc, dtype=float)
    if auc.shape[:2] != (len(trains), len(sources)):
        raise ValueError(f"auc has shape {auc.shape}, expected ({len(trains)}, {len(sources)}, folds)")
    cells = {(t, s): spread(auc[i, j], level) for i, t in enumerate(trains) for j, s in enumerate(sources)}
    pairs = [(a, b) for a in sources for b in sources if a != b]
    cross_level = simultaneous_level(level, len(pairs)) if pairs else level
    row = {t: i for i, t in enumerate(trains)}
    col = {s: j for j, s in enumerate(sources)}
    cross_cells = {(a, b): spread(auc[row[a], col[b]], cross_level) for a, b in pairs}
    diagonal = np.stack([auc[row[s], col[s]] for s in sources])
    within = spread(diagonal.mean(axis=0), level)
    cross = gap = None
    if pairs:
        cross_values = np.stack([auc[row[a], col[b]] for a, b in pairs])
        gap_values = np.stack([auc[row[a], col[a]] - auc[row[a], col[b]] for a, b in pairs])
        cross, gap = spread(cross_values.mean(axis=0), level), spread(gap_values.mean(axis=0), level)
    pooled = {s: cells[(ALL_SOURCES, s)] for s in sources} if ALL_SOURCES in row else {}
    return MethodTransfer(method, sources, cells, cross_cells, within, cross, gap, pooled)


@dataclass(frozen=True)
class TransferSummary:
    """What the verdict, tables and figures read: the headline method, the baselines and the face-only detector."""

    classifier: MethodTransfer
    baselines: dict[str, MethodTransfer]
    dffs: dict[str, Spread]
    level: float
    n_folds: int

    @property
    def sources(self) -> tuple[str, ...]:
        return self.classifier.sources


def summarise(record: TransferRecord, level: float, headline: str) -> TransferSummary:
    """Summarise every method of ``record``; ``headline`` is the classifier the verdict is about."""
    methods = {m: summarise_method(m, record.auc[i], record.trains, record.sources, level)
               for i, m in enumerate(record.methods)}
    return TransferSummary(
        classifier=methods.pop(headline), baselines=methods,
        dffs={s: spread(record.dffs_auc[j], level) for j, s in enumerate(record.sources)},
        level=level, n_folds=record.auc.shape[-1],
    )
