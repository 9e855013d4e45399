"""The verdict rule: does eval-time dropout tell anything about compressibility that cheaper scores do not?

The core number, per judged predictor P (``JUDGED``) and main target T (``MAIN_TARGETS``), is the incremental
partial Spearman correlation r of P with T given clean accuracy, random-pruning robustness and the group
(``analysis``), with its bootstrap interval [lo, hi] at the simultaneous level of the whole family (six
decisions at 95 % together: 99.17 % each). P is oriented by its expected sign s (+1 for mean accuracy under
dropout, -1 for the MC-dropout mutual information: a model whose thinned copies agree should compress better),
so "positive" always means "in the claim's direction". With delta = ``--min-effect`` (0.3) and the target's
split-half reliability R:

* **holds** -- s * [lo, hi] lies entirely above 0: P adds information about T;
* **fails** -- s * [lo, hi] lies entirely below 0 (the opposite of the claim), or entirely below delta while
  R >= ``min_reliability`` (0.5): whatever P adds is smaller than would matter, and T is measured well enough
  for that to be a finding rather than noise;
* **unresolved** -- otherwise: the interval reaches both 0 and delta (too few models), or T is too noisy
  (R < 0.5) to read an absence from;
* **undefined** -- r could not be computed (a constant measure, or one the covariates explain entirely).

The head is the primary predictor's (``PRIMARY``) statuses over the main targets: every target holds -> "holds";
some -> "holds in part"; none holds and all fail -> "fails"; otherwise "unresolved". Below
``MIN_POPULATION_FOR_VERDICT`` models the head says it is a smoke run instead of judging. The verdict then
lists each target's incremental correlation and status, the reason for each status, the second predictor's
statuses, the distillation target's spread and reliability, and what this population can resolve (``power``):
the smallest incremental correlation it detects with 80 % power, and the population needed to resolve delta
either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dlplayground.studies.dropout.analysis import (
    JUDGED,
    MAIN_TARGETS,
    PREDICTORS,
    PRIMARY,
    SECOND,
    PairResult,
    Reliability,
)
from dlplayground.studies.dropout.power import min_detectable, population_needed

DISTILL_TARGET = "distillation gain"


@dataclass(frozen=True)
class VerdictRule:
    """The rule's settings, all fixed before any model is trained (recorded in the config)."""

    min_effect: float = 0.3
    min_reliability: float = 0.5
    power: float = 0.8
    level: float = 0.95
    family_size: int = len(JUDGED) * len(MAIN_TARGETS)
    min_population: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.min_effect < 1:
            raise ValueError(f"min_effect must be in (0, 1), got {self.min_effect}")


@dataclass(frozen=True)
class Judgement:
    """One judged pair's status, its incremental correlation and interval (raw sign), and why."""

    predictor: str
    target: str
    status: str
    estimate: float
    low: float
    high: float
    level: float
    reason: str


def judge(pair: PairResult, reliability: float, rule: VerdictRule) -> Judgement:
    """Apply the module docstring's rule to one pair."""
    sign = PREDICTORS[pair.predictor].sign if pair.predictor in PREDICTORS else 1
    r = pair.incremental.estimate
    low, high = pair.simultaneous
    parts = (pair.predictor, pair.target)
    if not (math.isfinite(r) and math.isfinite(low) and math.isfinite(high)):
        return Judgement(*parts, "undefined", r, low, high, pair.simultaneous_level,
                         "a measure did not vary, or the covariates explain it entirely")
    lo, hi = sorted((sign * low, sign * high))
    delta = rule.min_effect
    if lo > 0:
        status, reason = "holds", "adds information beyond clean accuracy and random-pruning robustness"
    elif hi < 0:
        status, reason = "fails", "the opposite of the claim, beyond clean accuracy and random-pruning robustness"
    elif hi < delta and reliability >= rule.min_reliability:
        status, reason = "fails", f"adds less than {delta:g} beyond clean accuracy and random-pruning robustness"
    elif hi < delta:
        status, reason = "unresolved", (f"the target is mostly measurement noise (split-half reliability "
                                        f"{reliability:.2f} < {rule.min_reliability:g}), so an absence means little")
    else:
        status, reason = "unresolved", f"the interval spans both 0 and {delta:g}: too few models to tell"
    return Judgement(*parts, status, r, low, high, pair.simultaneous_level, reason)


def _interval(j: Judgement) -> str:
    if not all(math.isfinite(v) for v in (j.estimate, j.low, j.high)):
        return "(no value)"
    return f"{j.estimate:+.2f} [{j.low:+.2f}, {j.high:+.2f}]"


def _names(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1] if items else ""


def _head(n: int, statuses: dict[str, str], rule: VerdictRule) -> str:
    holds = [t for t, s in statuses.items() if s == "holds"]
    fails = [t for t, s in statuses.items() if s == "fails"]
    open_ = [t for t, s in statuses.items() if s not in ("holds", "fails")]
    beyond = "beyond clean accuracy and random-pruning robustness"
    if n < rule.min_population:
        return (f"Smoke run with {n} models: too few to judge the claim (a verdict needs >= {rule.min_population}). "
                "Figures as measured:")
    if holds and len(holds) == len(statuses):
        return f"The claim holds ({n} models): mean accuracy under eval-dropout predicts {_names(holds)} {beyond}."
    if holds:
        rest = []
        if fails:
            rest.append(f"it adds nothing that matters to {_names(fails)}")
        if open_:
            rest.append(f"{_names(open_)} stay unresolved")
        return (f"The claim holds in part ({n} models): mean accuracy under eval-dropout predicts {_names(holds)} "
                f"{beyond}; {'; '.join(rest)}.")
    if fails and not open_:
        return (f"The claim fails ({n} models): {beyond}, mean accuracy under eval-dropout adds less than "
                f"{rule.min_effect:g} (partial rho) to every target, or the opposite.")
    tail = f"; it adds less than {rule.min_effect:g} to {_names(fails)}" if fails else ""
    return (f"Unresolved ({n} models): whether mean accuracy under eval-dropout adds to {_names(open_)} {beyond} is "
            f"neither shown nor ruled out{tail}.")


def verdict_text(pairs: Sequence[PairResult], reliability: Sequence[Reliability], n: int, covariates: int,
                 rule: VerdictRule) -> tuple[str, list[Judgement]]:
    """The run's verdict and every judged pair's judgement, computed by the module docstring's rule."""
    rel = {r.measure: r for r in reliability}
    judgements = [judge(p, rel[p.target].estimate if p.target in rel else math.nan, rule)
                  for p in pairs if p.predictor in JUDGED and p.target in MAIN_TARGETS]
    primary = [j for j in judgements if j.predictor == PRIMARY]
    sentences = [_head(n, {j.target: j.status for j in primary}, rule)]
    level = f"{judgements[0].level:.2%}" if judgements else ""
    if primary:
        sentences.append(f"Incremental partial rho ({level} simultaneous intervals, {rule.family_size} decisions): "
                         + "; ".join(f"{j.target} {_interval(j)} {j.status}" for j in primary) + ".")
    reasons: dict[tuple[str, str], list[str]] = {}
    for j in primary:
        reasons.setdefault((j.status, j.reason), []).append(j.target)
    for (status, reason), targets in reasons.items():
        sentences.append(f"{status.capitalize()} for {_names(targets)}: {reason}.")
    second = [j for j in judgements if j.predictor == SECOND]
    if second:
        sentences.append(f"{SECOND} (second predictor, expected negative): "
                         + "; ".join(f"{j.target} {_interval(j)} {j.status}" for j in second) + ".")
    if DISTILL_TARGET in rel:
        d = rel[DISTILL_TARGET]
        enough = "enough" if d.estimate >= rule.min_reliability else "not enough"
        sentences.append(f"Distillation gain spreads {100 * d.minimum:+.1f} to {100 * d.maximum:+.1f} points "
                         f"(SD {100 * d.sd:.1f}); split-half reliability {_reliability(d)}: {enough} signal to "
                         f"correlate with anything (rule: >= {rule.min_reliability:g}).")
    alpha = 1 - judgements[0].level if judgements else 1 - rule.level
    mde = min_detectable(n, covariates, alpha, rule.power)
    needed = population_needed(rule.min_effect, covariates, alpha, rule.power)
    sentences.append(f"With {n} models and {covariates} covariates the core test resolves |partial rho| >= {mde:.2f} "
                     f"with {rule.power:.0%} power; resolving {rule.min_effect:g} either way needs {needed} models.")
    return " ".join(sentences), judgements


def _reliability(r: Reliability) -> str:
    if r.reliability is None or not math.isfinite(r.reliability.estimate):
        return "undefined"
    iv = r.reliability
    return f"{iv.estimate:.2f} [{iv.low:.2f}, {iv.high:.2f}]"
