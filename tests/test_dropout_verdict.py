"""The dropout study's verdict rule, fed synthetic populations where the claim holds, fails and is unresolved.

Each population is built with a known answer: the target depends on clean accuracy and random-pruning
robustness (the covariates) and, with weight ``beta``, on what only the eval-dropout predictor knows. The
analysis and the rule run exactly as on measured models, and each status and sentence must come out as built.
"""

from __future__ import annotations

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
    clean_accuracy_strata,
    correlate_pairs,
    incremental_covariate_count,
    reliabilities,
    spearman_brown,
)
from dlplayground.studies.dropout.correlation import Correlation
from dlplayground.studies.dropout.population import FACTORS
from dlplayground.studies.dropout.verdict import VerdictRule, judge, verdict_text

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


def _verdict(table: PopulationTable) -> tuple[str, dict[tuple[str, str], str]]:
    pairs = correlate_pairs(table, resamples=400, level=0.95, seed=0, predictors=(*JUDGED, CLEAN, RANDOM_PRUNE),
                            targets=MAIN_TARGETS)
    rel = reliabilities(table, resamples=400, level=0.95, seed=0, measures=MAIN_TARGETS)
    text, judgements = verdict_text(pairs, rel, table.n, incremental_covariate_count(table), RULE)
    return text, {(j.predictor, j.target): j.status for j in judgements}


@pytest.mark.slow
def test_the_claim_holds_when_the_predictor_carries_its_own_signal():
    text, status = _verdict(synthetic_population(200, beta=3.0))
    assert all(status[(p, t)] == "holds" for p in JUDGED for t in MAIN_TARGETS), status
    assert text.startswith("The claim holds (200 models): mean accuracy under eval-dropout predicts "
                           "prunability (one-shot), prunability (fine-tuned) and distillation gain beyond clean "
                           "accuracy and random-pruning robustness.")
    assert "(99.17% simultaneous intervals, 6 decisions): prunability (one-shot) +0." in text
    assert "Holds for prunability (one-shot), prunability (fine-tuned) and distillation gain: adds information" in text


@pytest.mark.slow
def test_the_claim_fails_when_the_covariates_explain_everything():
    text, status = _verdict(synthetic_population(400, beta=0.0, seed=1))
    assert {status[(PRIMARY, t)] for t in MAIN_TARGETS} == {"fails"}, status
    assert text.startswith("The claim fails (400 models): beyond clean accuracy and random-pruning robustness, mean "
                           "accuracy under eval-dropout adds less than 0.3")
    assert "adds less than 0.3 beyond clean accuracy" in text


@pytest.mark.slow
def test_the_claim_is_unresolved_when_too_few_models_or_too_noisy_a_target():
    text, status = _verdict(synthetic_population(36, beta=0.0, seed=2))
    assert {status[(PRIMARY, t)] for t in MAIN_TARGETS} == {"unresolved"}, status
    assert text.startswith("Unresolved (36 models): whether mean accuracy under eval-dropout adds to")
    assert "too few models to tell" in text
    # many models, no signal, but a target that is mostly noise: an absence cannot be read from it
    text, status = _verdict(synthetic_population(400, beta=0.0, half_noise=3.0, seed=3))
    assert {status[(PRIMARY, t)] for t in MAIN_TARGETS} == {"unresolved"}, status
    assert "mostly measurement noise" in text
    assert "not enough signal to correlate with anything" in text


def test_a_smoke_population_is_never_judged():
    text, _ = _verdict(synthetic_population(12, beta=3.0))
    assert text.startswith("Smoke run with 12 models: too few to judge the claim (a verdict needs >= 30).")


def _pair(predictor: str, estimate: float, low: float, high: float) -> PairResult:
    c = Correlation("partial_spearman", Interval(estimate, low, high, 0.95, 200, 200), 0.01, 100)
    return PairResult(predictor, "distillation gain", c, c, c, c, (low, high), 0.9917)


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
