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

The outcome (``outcome``) is the primary predictor's (``PRIMARY``) statuses over the main targets: every target
holds -> "holds"; some -> "holds in part"; none holds and all fail -> "fails"; otherwise "unresolved". Below
``MIN_POPULATION_FOR_VERDICT`` models it is a smoke run, never judged. From that one outcome ``conclude`` writes
both texts: the **answer** (one or two sentences: yes / in part / no / not resolved, with the incremental
correlations behind it, or the population that would resolve it) and the **verdict** (the reasoning: each
target's incremental correlation and interval, why each status, the second predictor's statuses, and what this
population can resolve (``power``): the smallest incremental correlation it detects with 80 % power, and the
population needed to resolve delta either way).
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
        status, reason = "holds", "adds information: interval above 0"
    elif hi < 0:
        status, reason = "fails", "the opposite of the claim: interval below 0"
    elif hi < delta and reliability >= rule.min_reliability:
        status, reason = "fails", f"adds less than {delta:g}: interval below it, target reliable"
    elif hi < delta:
        status, reason = "unresolved", (f"target mostly measurement noise: split-half reliability {reliability:.2f} "
                                        f"< {rule.min_reliability:g}")
    else:
        status, reason = "unresolved", f"interval spans both 0 and {delta:g}: too few models"
    return Judgement(*parts, status, r, low, high, pair.simultaneous_level, reason)


# ------------------------------------------------------------------------------ the answer and the verdict
BEYOND = "beyond clean accuracy and random-pruning robustness"


@dataclass(frozen=True)
class Conclusion:
    """What a run concludes: the short answer, the full verdict, every judgement and what the population resolves.

    ``answer`` and ``verdict`` come from the same outcome (``outcome``) of the same judgements: the answer is the
    one- or two-sentence reply a reader sees first, the verdict the reasoning behind it (shown folded).
    """

    answer: str
    verdict: str
    outcome: str
    """One of ``OUTCOMES``: the primary predictor's statuses over the main targets, summarised by the rule."""
    judgements: tuple[Judgement, ...]
    level: float
    """The simultaneous level of each judged interval."""
    covariates: int
    min_detectable: float
    """The smallest incremental |partial rho| this population resolves with ``rule.power``."""
    models_needed: int
    """The population that resolves ``rule.min_effect`` either way with ``rule.power``."""


OUTCOMES = ("smoke run", "holds", "holds in part", "fails", "unresolved")


def outcome(n: int, statuses: Sequence[str], rule: VerdictRule) -> str:
    """The rule's head: every target holds -> holds; some -> in part; none and all fail -> fails; else unresolved."""
    if n < rule.min_population:
        return "smoke run"
    holds = sum(s == "holds" for s in statuses)
    if holds and holds == len(statuses):
        return "holds"
    if holds:
        return "holds in part"
    return "fails" if statuses and all(s == "fails" for s in statuses) else "unresolved"


def _interval(j: Judgement) -> str:
    if not all(math.isfinite(v) for v in (j.estimate, j.low, j.high)):
        return "(no value)"
    return f"{j.estimate:+.2f} [{j.low:+.2f}, {j.high:+.2f}]"


def _names(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1] if items else ""


def _targets(primary: Sequence[Judgement], *statuses: str) -> list[str]:
    return [j.target for j in primary if j.status in statuses]


def _answer(kind: str, n: int, primary: Sequence[Judgement], rule: VerdictRule, needed: int) -> str:
    """One or two plain sentences for the reader who reads nothing else."""
    holds, fails = _targets(primary, "holds"), _targets(primary, "fails")
    open_ = _targets(primary, "unresolved", "undefined")
    rhos = _names([f"{j.estimate:+.2f}" for j in primary if j.status == "holds"])
    if kind == "smoke run":
        return f"Not judged: {n} models are a smoke run, too few to tell (a verdict needs >= {rule.min_population})."
    if kind == "holds":
        return (f"Yes ({n} models): accuracy under eval-time dropout predicts {_names(holds)} {BEYOND} "
                f"(incremental partial rho {rhos}).")
    if kind == "holds in part":
        rest = [*([f"nothing that matters for {_names(fails)}"] if fails else []),
                *([f"{_names(open_)} unresolved"] if open_ else [])]
        return (f"In part ({n} models): accuracy under eval-time dropout predicts {_names(holds)} {BEYOND} "
                f"(incremental partial rho {rhos}); {'; '.join(rest)}.")
    if kind == "fails":
        rhos = _names([f"{j.estimate:+.2f}" for j in primary])
        return (f"No ({n} models): {BEYOND}, accuracy under eval-time dropout adds nothing that matters to "
                f"{_names(fails)} (incremental partial rho {rhos}, each interval below {rule.min_effect:g}).")
    tail = f"; it adds less than {rule.min_effect:g} to {_names(fails)}" if fails else ""
    return (f"Not resolved ({n} models): whether accuracy under eval-time dropout adds to {_names(open_)} {BEYOND} "
            f"is still open{tail}. About {needed} models would resolve {rule.min_effect:g} either way.")


HEADS = {"holds": "The claim holds", "holds in part": "The claim holds in part", "fails": "The claim fails",
         "unresolved": "Unresolved"}


def _head(kind: str, n: int, rule: VerdictRule) -> str:
    if kind == "smoke run":
        return (f"Smoke run with {n} models: too few to judge the claim (a verdict needs >= {rule.min_population}). "
                "Figures as measured:")
    return f"{HEADS[kind]} ({n} models)."


def _for(targets: Sequence[str]) -> str:
    return "every main target" if len(targets) == len(MAIN_TARGETS) else _names(targets)


def conclude(pairs: Sequence[PairResult], reliability: Sequence[Reliability], n: int, covariates: int,
             rule: VerdictRule) -> Conclusion:
    """Judge every judged pair by the module docstring's rule, and write the answer and the verdict from that.

    The verdict: the head; the primary predictor's incremental correlation, status and reason per target; the
    second predictor's statuses; what the population can resolve. Spreads and reliabilities are in the tables.
    """
    rel = {r.measure: r.estimate for r in reliability}
    judgements = tuple(judge(p, rel.get(p.target, math.nan), rule)
                       for p in pairs if p.predictor in JUDGED and p.target in MAIN_TARGETS)
    primary = [j for j in judgements if j.predictor == PRIMARY]
    kind = outcome(n, [j.status for j in primary], rule)
    level = judgements[0].level if judgements else rule.level
    mde = min_detectable(n, covariates, 1 - level, rule.power)
    needed = population_needed(rule.min_effect, covariates, 1 - level, rule.power)
    sentences = [_head(kind, n, rule)]
    if primary:
        told: set[str] = set()  # each reason once: the second target with the same one gets its status alone
        items = []
        for j in primary:
            items.append(f"{j.target} {_interval(j)}, {j.status}" + ("" if j.reason in told else f" ({j.reason})"))
            told.add(j.reason)
        sentences.append(f"Incremental partial rho of {PRIMARY} given clean accuracy, random-pruning robustness "
                         f"and group ({level:.2%} simultaneous intervals, {rule.family_size} decisions): "
                         + "; ".join(items) + ".")
    second: dict[str, list[str]] = {}
    for j in judgements:
        if j.predictor == SECOND:
            second.setdefault(j.status, []).append(j.target)
    if second:
        sentences.append(f"The {SECOND} (second predictor, expected negative) "
                         + "; ".join(f"{status} for {_for(targets)}" for status, targets in second.items()) + ".")
    sentences.append(f"{n} models with {covariates} covariates resolve |partial rho| >= {mde:.2f} with "
                     f"{rule.power:.0%} power; {rule.min_effect:g} either way needs {needed}.")
    return Conclusion(answer=_answer(kind, n, primary, rule, needed), verdict=" ".join(sentences), outcome=kind,
                      judgements=judgements, level=level, covariates=covariates, min_detectable=mde,
                      models_needed=needed)
