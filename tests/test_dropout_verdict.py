"""The dropout study's verdict rule, fed synthetic populations where the claim holds, fails and is unresolved.

Each population is built with a known answer: the target depends on clean accuracy and random-pruning
robustness (the covariates) and, with weight ``beta``, on what only the eval-dropout predictor knows. The
analysis and the rule run exactly as on measured models, and each status and sentence must come out as built --
in the verdict and in the short answer, which must differ between the outcomes and follow the numbers.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from dlplayground.stats import Interval
from dlplayground.studies.dropout.analysis import (
    CLEAN,
    JUDGED,
    MAIN_TARGETS,
    PRIMARY,
    RANDOM_PRUNE,
    SECOND,
    PairResult,
    PopulationTable,
    Reliability,
    clean_accuracy_strata,
    correlate_pairs,
    incremental_covariate_count,
    reliabilities,
    spearman_brown,
)
from dlplayground.studies.dropout.correlation import Correlation
from dlplayground.studies.dropout.population import FACTORS
from dlplayground.studies.dropout.verdict import Conclusion, VerdictRule, conclude, judge

RULE = VerdictRule(min_effect=0.3, min_reliability=0.5, power=0.8, level=0.95, family_size=6, min_population=30)


def synthetic_population(n: int, beta: float, *, half_noise: float = 0.1, seed: int = 0) -> PopulationTable:
    """Covariates, a predictor with a unique part u, and targets = covariates + beta * u + noise."""
    rng = np.random.default_rng(seed)
    groups = np.array(["a-mlp", "a-cnn", "b-mlp"], dtype=object)[np.arange(n) % 3]
    clean = rng.uniform(0.3, 1.0, n)
    random_prune = 0.6 * clean + 0.4 * rng.normal(size=n) * 0.2
    u = rng.normal(size=n)
    primary = 0.5 * clean + 0.2 * u
    values = {CLEAN: clean, RANDOM_PRUNE: random_prune, PRIMARY: primary,
              SECOND: -primary + 0.05 * rng.normal(size=n)}
    halves = {}
    for k, target in enumerate(MAIN_TARGETS):
        true = 0.8 * clean + 0.5 * random_prune + beta * u * 0.2 + 0.05 * (k + 1) * rng.normal(size=n) * 0.2
        noisy = true[:, None] + half_noise * rng.normal(size=(n, 2))
        values[target], halves[target] = noisy.mean(axis=1), noisy
    return PopulationTable(values=values, halves=halves, groups=groups, factors=rng.normal(size=(n, len(FACTORS))),
                           datasets=np.array([g.split("-")[0] for g in groups], dtype=object))


def _conclude(table: PopulationTable) -> Conclusion:
    pairs = correlate_pairs(table, resamples=400, level=0.95, seed=0, predictors=(*JUDGED, CLEAN, RANDOM_PRUNE),
                            targets=MAIN_TARGETS)
    rel = reliabilities(table, resamples=400, level=0.95, seed=0, measures=MAIN_TARGETS)
    return conclude(pairs, rel, table.n, incremental_covariate_count(table), RULE)


def _verdict(table: PopulationTable) -> tuple[str, dict[tuple[str, str], str]]:
    c = _conclude(table)
    return c.verdict, {(j.predictor, j.target): j.status for j in c.judgements}


def _sentences(text: str) -> int:
    """Sentences in ``text``: a full stop, question or exclamation mark followed by a space or the end."""
    return len(re.findall(r"[.!?](?:\s|$)", text))


def _short(answer: str) -> bool:
    return 1 <= _sentences(answer) <= 2 and len(answer) <= 300


@pytest.mark.slow
def test_the_claim_holds_when_the_predictor_carries_its_own_signal():
    c = _conclude(synthetic_population(200, beta=3.0))
    text, status = c.verdict, {(j.predictor, j.target): j.status for j in c.judgements}
    assert all(status[(p, t)] == "holds" for p in JUDGED for t in MAIN_TARGETS), status
    assert text.startswith("The claim holds (200 models). Incremental partial rho of mean accuracy under "
                           "eval-dropout (AUC) given clean accuracy, random-pruning robustness and group (99.17% "
                           "simultaneous intervals, 6 decisions): prunability (one-shot) +0.")
    assert len(re.findall(r"[+-]\d\.\d\d \[[+-]\d\.\d\d, [+-]\d\.\d\d\], holds", text)) == 3
    assert text.count("holds (adds information: interval above 0)") == 1  # each reason told once
    assert f"{SECOND} (second predictor, expected negative) holds for every main target." in text
    assert _sentences(text) <= 4  # the reasoning, not a wall of text
    assert len(text) <= 700
    assert c.outcome == "holds"
    assert c.answer.startswith("Yes (200 models): accuracy under eval-time dropout predicts prunability (one-shot)")
    rhos = [f"{j.estimate:+.2f}" for j in c.judgements if j.predictor == PRIMARY]
    assert f"(incremental partial rho {rhos[0]}, {rhos[1]} and {rhos[2]})" in c.answer  # the measured numbers
    assert _short(c.answer), c.answer


@pytest.mark.slow
def test_the_claim_fails_when_the_covariates_explain_everything():
    c = _conclude(synthetic_population(400, beta=0.0, seed=1))
    text, status = c.verdict, {(j.predictor, j.target): j.status for j in c.judgements}
    assert {status[(PRIMARY, t)] for t in MAIN_TARGETS} == {"fails"}, status
    assert text.startswith("The claim fails (400 models). Incremental partial rho")
    assert text.count(", fails") == 3
    assert text.count("(adds less than 0.3: interval below it, target reliable)") == 1
    assert c.outcome == "fails"
    assert c.answer.startswith("No (400 models): beyond clean accuracy and random-pruning robustness, accuracy under "
                               "eval-time dropout adds nothing that matters")
    assert "each interval below 0.3" in c.answer
    assert _short(c.answer), c.answer


@pytest.mark.slow
def test_the_claim_is_unresolved_when_too_few_models_or_too_noisy_a_target():
    c = _conclude(synthetic_population(36, beta=0.0, seed=2))
    text, status = c.verdict, {(j.predictor, j.target): j.status for j in c.judgements}
    assert {status[(PRIMARY, t)] for t in MAIN_TARGETS} == {"unresolved"}, status
    assert text.startswith("Unresolved (36 models). Incremental partial rho")
    assert text.count(", unresolved") == 3
    assert "(interval spans both 0 and 0.3: too few models)" in text
    assert c.outcome == "unresolved"
    assert c.answer.startswith("Not resolved (36 models): whether accuracy under eval-time dropout adds to")
    assert f"About {c.models_needed} models would resolve 0.3 either way." in c.answer
    assert _short(c.answer), c.answer
    # many models, no signal, but a target that is mostly noise: an absence cannot be read from it
    noisy = _conclude(synthetic_population(400, beta=0.0, half_noise=3.0, seed=3))
    assert {j.status for j in noisy.judgements if j.predictor == PRIMARY} == {"unresolved"}
    assert "unresolved (target mostly measurement noise: split-half reliability" in noisy.verdict
    assert noisy.answer.startswith("Not resolved (400 models)")
    assert noisy.answer != c.answer  # the population and what it would take are read from the numbers


def test_a_smoke_population_is_never_judged():
    c = _conclude(synthetic_population(12, beta=3.0))
    assert c.verdict.startswith("Smoke run with 12 models: too few to judge the claim (a verdict needs >= 30).")
    assert c.outcome == "smoke run"
    assert c.answer == "Not judged: 12 models are a smoke run, too few to tell (a verdict needs >= 30)."


def _pair(predictor: str, estimate: float, low: float, high: float, target: str = "distillation gain") -> PairResult:
    c = Correlation("partial_spearman", Interval(estimate, low, high, 0.95, 200, 200), 0.01, 100)
    return PairResult(predictor, target, c, c, c, c, (low, high), 0.9917)


def _reliable(measure: str, estimate: float = 0.9) -> Reliability:
    return Reliability(measure, 100, -0.1, 0.0, 0.1, 0.05, 50, None, Interval(estimate, estimate - 0.1,
                                                                             estimate + 0.05, 0.95, 200, 200))


def _conclude_intervals(intervals: list[tuple[float, float, float]], n: int = 104) -> Conclusion:
    """The rule on hand-made incremental intervals of the primary predictor, one per main target."""
    pairs = [_pair(PRIMARY, *iv, target=t) for iv, t in zip(intervals, MAIN_TARGETS, strict=True)]
    pairs += [_pair(SECOND, -0.4, -0.6, -0.1, target=t) for t in MAIN_TARGETS]
    return conclude(pairs, [_reliable(t) for t in MAIN_TARGETS], n, 4, RULE)


HOLDS, FAILS, OPEN = (0.4, 0.1, 0.6), (0.05, -0.1, 0.25), (0.1, -0.2, 0.4)


def test_the_answer_is_short_and_differs_between_the_outcomes():
    cases = {"holds": [HOLDS] * 3, "holds in part": [HOLDS, FAILS, OPEN], "fails": [FAILS] * 3,
             "unresolved": [OPEN, FAILS, OPEN]}
    conclusions = {name: _conclude_intervals(ivs) for name, ivs in cases.items()}
    assert {name: c.outcome for name, c in conclusions.items()} == {name: name for name in cases}
    answers = [c.answer for c in conclusions.values()]
    assert len(set(answers)) == len(answers)
    assert [a.split(" ")[0] for a in answers] == ["Yes", "In", "No", "Not"]
    heads = {"holds": "The claim holds (104 models).", "holds in part": "The claim holds in part (104 models).",
             "fails": "The claim fails (104 models).", "unresolved": "Unresolved (104 models)."}
    for name, c in conclusions.items():
        assert _short(c.answer), c.answer
        assert c.verdict.startswith(heads[name])  # the verdict's head comes from the same outcome
    part = conclusions["holds in part"].answer
    assert part == ("In part (104 models): accuracy under eval-time dropout predicts prunability (one-shot) beyond "
                    "clean accuracy and random-pruning robustness (incremental partial rho +0.40); nothing that "
                    "matters for prunability (fine-tuned); distillation gain unresolved.")
    assert "it adds less than 0.3 to prunability (fine-tuned)" in conclusions["unresolved"].answer


def test_the_answer_follows_the_numbers():
    weaker = _conclude_intervals([(0.35, 0.05, 0.55)] * 3)
    assert weaker.answer != _conclude_intervals([HOLDS] * 3).answer  # same outcome, other numbers
    assert "(incremental partial rho +0.35, +0.35 and +0.35)" in weaker.answer
    more = _conclude_intervals([OPEN] * 3, n=60)
    assert more.answer.startswith("Not resolved (60 models)")
    assert more.answer != _conclude_intervals([OPEN] * 3).answer


@pytest.mark.parametrize(
    ("predictor", "interval", "reliability", "status", "reason"),
    [
        (PRIMARY, (0.4, 0.1, 0.6), 0.9, "holds", "adds information"),
        (PRIMARY, (-0.4, -0.6, -0.1), 0.9, "fails", "the opposite of the claim"),
        (PRIMARY, (0.05, -0.1, 0.25), 0.9, "fails", "adds less than 0.3"),
        (PRIMARY, (0.05, -0.1, 0.25), 0.3, "unresolved", "mostly measurement noise"),
        (PRIMARY, (0.1, -0.2, 0.4), 0.9, "unresolved", "spans both 0 and 0.3"),
        (SECOND, (-0.4, -0.6, -0.1), 0.9, "holds", "adds information"),  # expected negative: oriented
        (SECOND, (0.4, 0.1, 0.6), 0.9, "fails", "the opposite"),
        (PRIMARY, (float("nan"), float("nan"), float("nan")), 0.9, "undefined", "covariates explain it entirely"),
    ],
)
def test_judge_applies_the_written_rule(predictor, interval, reliability, status, reason):
    j = judge(_pair(predictor, *interval), reliability, RULE)
    assert j.status == status
    assert reason in j.reason


def test_split_half_reliability_and_strata_behave_as_built():
    table = synthetic_population(300, beta=1.0, half_noise=0.01)
    rel = {r.measure: r for r in reliabilities(table, resamples=200, level=0.95, seed=0, measures=MAIN_TARGETS)}
    assert all(r.estimate > 0.95 for r in rel.values())
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    strata = clean_accuracy_strata(table, resamples=200, level=0.95, seed=0)
    assert len(strata) == 3 * len(MAIN_TARGETS)
    ranges = sorted({s.clean_range for s in strata})
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # tertiles do not overlap
