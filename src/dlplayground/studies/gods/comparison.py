"""Paired comparisons of models on the same held-out posts: bootstrap intervals and McNemar's test.

Every model predicts every held-out post once (out of fold), so two models are compared post by post.
The unit that is resampled is the post: ``dlplayground.stats.bootstrap`` with ``paired=True`` draws one set
of posts per resample for the labels and both models' predictions, and recomputes the *difference* of the
metric on it. The same seed and number of posts give the same resamples to every comparison, so the
intervals are also paired with each other. These intervals cover which posts happened to be held out;
they do not cover retraining with another seed (the A/A and second-seed runs in the docs show that part).

Several differences are judged in one verdict, so each interval is drawn at the simultaneous level
``stats.simultaneous_level(level, m)`` for the ``m`` differences of the family: all ``m`` hold together at
``level``. For accuracy, McNemar's exact test (a two-sided binomial test on the posts exactly one of the
two models gets right) gives a p-value, Holm-adjusted over the accuracy comparisons; it is reported as a
cross-check, while the verdict reads the intervals.

Macro-F1 is vectorised here (``macro_f1_rows``) with the convention of ``metrics.classification_scores``:
the mean F1 over the classes that occur in the truth or the predictions of that (re)sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import binomtest

from dlplayground.stats import Interval, bootstrap, holm_adjust, simultaneous_level

METRICS = ("accuracy", "macro_f1")
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1"}


def accuracy_rows(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Accuracy along the last axis (one value per resample row)."""
    return np.mean(np.asarray(truth) == np.asarray(predicted), axis=-1)


def macro_f1_rows(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Macro-F1 along the last axis, over the classes present in truth or prediction of each row.

    Per class ``F1 = 2 tp / (2 tp + fp + fn)``, and ``2 tp + fp + fn`` is the number of true plus predicted
    members of the class, so a class with neither is left out of the mean rather than counted as 0 or 1.
    """
    t, p = np.asarray(truth), np.asarray(predicted)
    total = np.zeros(t.shape[:-1])
    present = np.zeros(t.shape[:-1])
    for c in range(num_classes):
        is_t, is_p = t == c, p == c
        members = is_t.sum(axis=-1) + is_p.sum(axis=-1)
        tp = (is_t & is_p).sum(axis=-1)
        total += np.where(members > 0, 2 * tp / np.maximum(members, 1), 0.0)
        present += members > 0
    return total / np.maximum(present, 1)


def metric_rows(metric: str, truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``accuracy_rows`` or ``macro_f1_rows`` by name."""
    if metric == "accuracy":
        return accuracy_rows(truth, predicted)
    if metric == "macro_f1":
        return macro_f1_rows(truth, predicted, num_classes)
    raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")


@dataclass(frozen=True)
class BootstrapPlan:
    """How every interval of a run is drawn (recorded in ``result.json``)."""

    resamples: int
    level: float
    """The family-wide level; single intervals use it as is, a family of m differences its simultaneous form."""
    seed: int
    """The BOOTSTRAP stream's seed: one set of resamples for every interval over the same posts."""

    def to_dict(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "level": self.level, "seed": self.seed}


def score_interval(truth: Sequence[int], predicted: Sequence[int], metric: str, num_classes: int,
                   plan: BootstrapPlan) -> Interval:
    """``metric`` of one model on the held-out posts with its bootstrap interval at ``plan.level``."""
    data = [np.asarray(truth, dtype=int), np.asarray(predicted, dtype=int)]
    return bootstrap(data, lambda t, p: metric_rows(metric, t, p, num_classes), paired=True,
                     resamples=plan.resamples, level=plan.level, seed=plan.seed)


def paired_difference(truth: Sequence[int], first: Sequence[int], second: Sequence[int], metric: str,
                      num_classes: int, plan: BootstrapPlan, level: float) -> Interval:
    """``metric(first) - metric(second)`` on the same posts, resampled together, at ``level``."""
    data = [np.asarray(truth, dtype=int), np.asarray(first, dtype=int), np.asarray(second, dtype=int)]

    def difference(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return metric_rows(metric, t, a, num_classes) - metric_rows(metric, t, b, num_classes)

    return bootstrap(data, difference, paired=True, resamples=plan.resamples, level=level, seed=plan.seed)


def mcnemar_exact(truth: Sequence[int], first: Sequence[int], second: Sequence[int]) -> tuple[int, int, float]:
    """Posts only ``first`` gets right, posts only ``second`` gets right, and McNemar's exact two-sided p."""
    t, a, b = (np.asarray(v, dtype=int) for v in (truth, first, second))
    only_first = int(np.sum((a == t) & (b != t)))
    only_second = int(np.sum((b == t) & (a != t)))
    discordant = only_first + only_second
    p = 1.0 if discordant == 0 else float(binomtest(only_first, discordant, 0.5).pvalue)
    return only_first, only_second, p


@dataclass(frozen=True)
class PairedComparison:
    """``first`` minus ``second`` in one metric on the same held-out posts."""

    first: str
    second: str
    metric: str
    difference: Interval
    """At the simultaneous level of the family (``difference.level``)."""
    n: int
    only_first: int | None = None
    """Accuracy only: posts ``first`` gets right and ``second`` wrong."""
    only_second: int | None = None
    p_value: float | None = None
    """Accuracy only: McNemar's exact p."""
    p_holm: float | None = None
    """Accuracy only: Holm-adjusted over the family's accuracy comparisons."""

    def to_dict(self) -> dict[str, Any]:
        return {"first": self.first, "second": self.second, "metric": self.metric,
                "difference": self.difference.to_dict(), "n": self.n, "only_first": self.only_first,
                "only_second": self.only_second, "p_value": self.p_value, "p_holm": self.p_holm}


def compare_family(truth: Sequence[int], predictions: Mapping[str, Sequence[int]],
                   pairs: Sequence[tuple[str, str, str]], num_classes: int,
                   plan: BootstrapPlan) -> list[PairedComparison]:
    """Every ``(first, second, metric)`` difference, intervals at the family's simultaneous level."""
    level = simultaneous_level(plan.level, len(pairs)) if pairs else plan.level
    out = []
    for first, second, metric in pairs:
        interval = paired_difference(truth, predictions[first], predictions[second], metric, num_classes, plan,
                                     level)
        extra: dict[str, Any] = {}
        if metric == "accuracy":
            only_first, only_second, p = mcnemar_exact(truth, predictions[first], predictions[second])
            extra = {"only_first": only_first, "only_second": only_second, "p_value": p}
        out.append(PairedComparison(first, second, metric, interval, len(truth), **extra))
    accuracy = [i for i, c in enumerate(out) if c.p_value is not None]
    adjusted = holm_adjust([out[i].p_value for i in accuracy])
    for i, p_holm in zip(accuracy, adjusted, strict=True):
        out[i] = replace(out[i], p_holm=float(p_holm))
    return out
