"""The verdict rule: per target, a status from the primary predictor's intervals, and the sentence for the run.

Per target, from the primary predictor's correlations (each "positive" = an interval entirely above zero):

* **supported**: positive, also given training dropout and given every design factor;
* **weak**: positive and given training dropout, but not once the whole training recipe is controlled for;
* **confounded**: positive, but not given training dropout;
* **contradicted**: an interval entirely below zero;
* **not supported**: the interval includes zero; **undefined**: the predictor or the target did not vary.

A baseline whose correlation is at least as large in magnitude is named. Below ``MIN_POPULATION_FOR_VERDICT``
models the run is a smoke run and the head says so instead of judging the claim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dlplayground.studies.dropout.analysis import BASELINES, MAIN_TARGETS, PRIMARY, PairResult
from dlplayground.studies.dropout.config import DEFAULT_POPULATION, MIN_POPULATION_FOR_VERDICT
from dlplayground.studies.dropout.correlation import Correlation


def target_verdict(pair: PairResult, best_baseline: tuple[str, Correlation] | None) -> tuple[str, str]:
    """A status and a sentence for one target, from the primary predictor's correlations (module docstring)."""
    rho, part, part_all = pair.spearman, pair.partial, pair.partial_all
    text = (f"{pair.target}: Spearman {rho.summary()}, partial given training dropout {part.summary()}, "
            f"given every design factor {part_all.summary()}")
    if not math.isfinite(rho.estimate):
        return "undefined", text + " - undefined, the target or predictor did not vary."
    if rho.sign > 0 and part.sign > 0 and part_all.sign > 0:
        status, why = "supported", "supported, and not explained by how the model was trained"
    elif rho.sign > 0 and part.sign > 0:
        status, why = "weak", ("positive and not explained by training dropout, but not distinguishable from zero "
                               "once the whole training recipe is controlled for")
    elif rho.sign > 0:
        status, why = "confounded", "positive, but not distinguishable from zero once training dropout is controlled"
    elif rho.sign < 0:
        status, why = "contradicted", "the opposite of the claim: models that withstand eval-time dropout do worse"
    else:
        status, why = "not supported", "not supported: the CI includes zero"
    text += f" - {why}"
    if best_baseline is not None:
        name, corr = best_baseline
        if math.isfinite(corr.estimate) and abs(corr.estimate) >= abs(rho.estimate):
            text += f"; baseline '{name}' does at least as well ({corr.estimate:+.2f})"
    return status, text + "."


def verdict_text(pairs: Sequence[PairResult], n: int) -> tuple[str, dict[str, str]]:
    """The run's verdict sentence and each target's status, computed from the primary predictor's pairs."""
    statuses: dict[str, str] = {}
    sentences = []
    for pair in (p for p in pairs if p.predictor == PRIMARY):
        baselines = [(p.predictor, p.spearman) for p in pairs
                     if p.target == pair.target and p.predictor in BASELINES and math.isfinite(p.spearman.estimate)]
        best = max(baselines, key=lambda b: abs(b[1].estimate), default=None)
        status, sentence = target_verdict(pair, best)
        statuses[pair.target] = status
        sentences.append(sentence if pair.target in MAIN_TARGETS else f"(Secondary) {sentence}")
    main = {t: statuses[t] for t in MAIN_TARGETS if t in statuses}
    supported = [t for t, s in main.items() if s == "supported"]
    weak = [t for t, s in main.items() if s == "weak"]
    rest = [t for t in main if t not in supported and t not in weak]
    if n < MIN_POPULATION_FOR_VERDICT:
        head = (f"Smoke run with {n} models: too few to judge the claim (a verdict needs >= "
                f"{MIN_POPULATION_FOR_VERDICT}; the default is {DEFAULT_POPULATION}). Figures as measured: ")
    elif len(supported) == len(main):
        head = f"The claim holds on this evidence ({n} models) for every target. "
    elif not supported and not weak:
        head = (f"The claim does NOT hold on this evidence ({n} models): robustness to evaluation-time dropout "
                "does not predict prunability or distillability beyond what the training dropout rate explains. ")
    else:
        parts = []
        if supported:
            parts.append(f"supported for {', '.join(supported)}")
        if weak:
            parts.append("only weakly (a positive correlation that the training recipe explains) for "
                         + ", ".join(weak))
        if rest:
            parts.append(f"not supported for {', '.join(rest)}")
        head = f"The claim holds at most in part on this evidence ({n} models): {'; '.join(parts)}. "
    return head + " ".join(sentences), statuses
