"""The verdict rule on synthetic held-out predictions: the claims hold, fail, or stay unresolved.

The answer (two sentences) and the labelled headline metrics come from the same findings, so they are checked
on the same synthetic outcomes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from dlplayground.results import StudyResult
from dlplayground.studies.gods.analysis import analyse, model_names
from dlplayground.studies.gods.comparison import BootstrapPlan
from dlplayground.studies.gods.context import length_profile
from dlplayground.studies.gods.efficiency import EfficiencyRow
from dlplayground.studies.gods.records import headline_metrics
from dlplayground.studies.gods.runs import FULL, MAJORITY, SHORT, TFIDF, FamilyOutcome
from dlplayground.studies.gods.selection import InnerScore
from dlplayground.studies.gods.verdict import comparison_verdict, efficiency_sentence, study_answer

N = 240
K = 3
LABELS = ("a", "b", "c")
TRUTH = np.array([0] * 120 + [1] * 80 + [2] * 40)  # majority class 'a': accuracy 0.5
PLAN = BootstrapPlan(resamples=1000, level=0.95, seed=0)


def _predictions(accuracy: float, seed: int) -> np.ndarray:
    """Right on the first ``accuracy * N`` posts of a fixed shuffle, a wrong class elsewhere."""
    order = np.random.default_rng(seed).permutation(N)
    predicted = (TRUTH + 1) % K
    right = order[: round(accuracy * N)]
    predicted[right] = TRUTH[right]
    return predicted


def _outcomes(family: str, predicted: np.ndarray, chosen: Sequence[str] = ("weighted-loss, repeat 0",)
              ) -> list[FamilyOutcome]:
    halves = np.array_split(np.arange(N), len(chosen))
    return [FamilyOutcome(family, fold, tuple(chosen), (InnerScore(chosen[fold], 0.9, 0.9),) * len(chosen), fold,
                          np.eye(K)[predicted[idx]], np.zeros((0, K))) for fold, idx in enumerate(halves)]


def _findings(full: float, tfidf: float, short: float | None, *, lengths: Sequence[int] | None = None,
              illustrative: bool = False, chosen: Sequence[str] = ("weighted-loss, repeat 0", "oversample, repeat 1")):
    outcomes = {FULL: _outcomes(FULL, _predictions(full, 1), chosen),
                TFIDF: _outcomes(TFIDF, _predictions(tfidf, 1), chosen),
                MAJORITY: _outcomes(MAJORITY, np.zeros(N, dtype=int), chosen)}
    if short is not None:
        outcomes[SHORT] = _outcomes(SHORT, _predictions(short, 1), chosen)
    profile = length_profile(lengths if lengths is not None else [40] * 60 + [600] * (N - 60), 4096, 512)
    return analyse(TRUTH, outcomes, LABELS, model_names(4096, 512), PLAN, profile, illustrative=illustrative)


def test_the_claims_hold() -> None:
    text = comparison_verdict(_findings(full=0.95, tfidf=0.70, short=0.75))
    assert "The Longformer beats TF-IDF in accuracy by +0.250 [" in text
    assert "(99.0 % simultaneous intervals)" in text  # a family of five differences
    assert "Macro-F1, Longformer minus TF-IDF: +" in text
    assert "(higher)" in text
    assert "75 % of the scored posts (180) are longer than 512 tokens (longest 600)" in text
    assert "Reading up to 4096 instead of 512 tokens helps in accuracy: +0.200" in text
    assert "majority class (" not in text  # it beats the majority, so no warning
    assert "Imbalance handling chosen on the inner validation posts (2 folds): weighted-loss in 1, oversample in 1." \
        in text
    assert "Illustrative" not in text


def test_the_claims_fail() -> None:
    text = comparison_verdict(_findings(full=0.50, tfidf=0.90, short=0.70, illustrative=True))
    assert "The Longformer does NOT beat TF-IDF: TF-IDF is better in accuracy, -0.400 [" in text
    assert "(lower)" in text
    assert "tokens hurts in accuracy: -0.200" in text
    assert "does NOT measurably beat predicting the majority class (+0.000 [-" in text
    assert text.endswith("not how the models score on the competition data.")


def test_the_claims_stay_unresolved_within_sampling_error() -> None:
    text = comparison_verdict(_findings(full=0.80, tfidf=0.79, short=0.80))
    assert "The Longformer and TF-IDF are indistinguishable in accuracy, +0.008 [" in text
    assert "(no measurable difference)" in text
    assert "tokens has no measurable effect in accuracy" in text


def test_long_context_is_moot_when_no_post_exceeds_the_short_budget() -> None:
    findings = _findings(full=0.9, tfidf=0.8, short=None, lengths=[30] * N)
    assert not findings.short_ran
    assert len(findings.comparisons) == 3  # the short-context pair is not in the family
    text = comparison_verdict(findings)
    assert ("Long context cannot help on this data: no scored post is longer than 512 tokens (the longest has 30)"
            in text)
    assert "the short-context twin was not trained" in text


def _row(precision: str, world: int, blocks: Sequence[float], status: str = "measured") -> EfficiencyRow:
    return EfficiencyRow(precision, world, "gloo" if world > 1 else "single process", "cpu", status,
                         examples_per_s=float(np.mean(blocks)) if blocks else float("nan"),
                         block_examples_per_s=tuple(blocks))


def test_efficiency_sentence_calls_only_separated_blocks() -> None:
    rows = [_row("fp32", 1, [100, 110, 105]), _row("bf16", 1, [30, 35, 32]), _row("fp32", 2, [105, 180, 170]),
            _row("bf16", 2, [200, 210, 220]), _row("fp16", 1, [], status="skipped")]
    text = efficiency_sentence(rows)
    assert text.startswith("Speed against fp32 in one process (105 examples/s, on cpu): ")
    assert "bf16, 1 process 0.31x (slower)" in text
    assert "fp32, 2 processes 1.44x (not separable)" in text  # its slowest block is not above the fastest reference
    assert "bf16, 2 processes 2.00x (faster)" in text
    assert "fp16" not in text
    assert efficiency_sentence([]) == ""
    # The reference re-measured after the other cells ran slower: its band widens, and a gap inside it is not called.
    drifted = replace(rows[0], remeasured_examples_per_s=60.0, remeasured_block_examples_per_s=(55.0, 65.0))
    text = efficiency_sentence([drifted, *rows[1:]])
    assert text.startswith("Speed against fp32 in one process (105 examples/s, 60 re-measured last, on cpu): ")
    assert "bf16, 1 process 0.31x (slower)" in text  # still below the whole band (55-110)
    assert "fp32, 2 processes 1.44x (not separable)" in text
    assert "bf16, 2 processes 2.00x (faster)" in text
    failed = efficiency_sentence([_row("fp32", 1, [], status="failed"), _row("bf16", 1, [30])])
    assert failed == "Precision/process table: the fp32 single-process reference did not run (failed: fp32, 1 process)."


def test_findings_pool_in_fold_order_and_keep_the_fold_choices() -> None:
    findings = _findings(full=0.9, tfidf=0.8, short=0.85)
    assert findings.models[FULL].accuracy.estimate == pytest.approx(0.9)
    assert findings.models[MAJORITY].accuracy.estimate == pytest.approx(0.5)
    assert findings.models[FULL].chosen == ("weighted-loss, repeat 0", "oversample, repeat 1")
    assert findings.chosen_strategies() == {"weighted-loss": 1, "oversample": 1}


def _sentences(text: str) -> list[str]:
    return [t for t in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip()) if t]


EFFICIENCY = [_row("fp32", 1, [100, 110, 105]), _row("bf16", 1, [30, 35, 32]), _row("fp32", 2, [105, 180, 170]),
              _row("bf16", 2, [200, 210, 220]), _row("fp16", 1, [], status="skipped")]


def test_the_answer_follows_the_same_calls_as_the_verdict() -> None:
    holds = study_answer(_findings(full=0.95, tfidf=0.70, short=0.75))
    fails = study_answer(_findings(full=0.50, tfidf=0.90, short=0.70))
    unresolved = study_answer(_findings(full=0.80, tfidf=0.79, short=0.80))
    assert len({holds, fails, unresolved}) == 3
    for answer in (holds, fails, unresolved):
        assert len(_sentences(answer)) == 2, answer
        assert len(answer) <= 300, answer
    assert holds.startswith("Yes: the Longformer's accuracy (95.0 %) beats TF-IDF's (70.0 %) by 25.0 points.")
    assert "Long context (4096 vs 512 tokens) helps (+20.0 points; 75 % of posts exceed 512 tokens)" in holds
    assert "majority" not in holds
    assert fails.startswith("No: TF-IDF's accuracy (90.0 %) beats the Longformer's (50.0 %) by 40.0 points, "
                            "and the Longformer does not measurably beat the majority class.")
    assert "Long context (4096 vs 512 tokens) hurts (-20.0 points" in fails
    assert unresolved.startswith("Not measurably: the Longformer's accuracy (80.0 %) and TF-IDF's (79.2 %) "
                                 "differ by +0.8 points, within sampling error.")
    assert "Long context (4096 vs 512 tokens) has no measurable effect (+0.0 points" in unresolved
    moot = study_answer(_findings(full=0.9, tfidf=0.8, short=None, lengths=[30] * N))
    assert moot.endswith("Long context cannot matter here (no post exceeds 512 tokens).")


def test_the_answer_names_the_fastest_configuration_by_the_speed_rule() -> None:
    findings = _findings(full=0.95, tfidf=0.70, short=0.75)
    assert study_answer(findings, EFFICIENCY).endswith(
        "; bf16, 2 processes is fastest (2.00x fp32 in one process).")
    unseparated = [r for r in EFFICIENCY if r.label != "bf16, 2 processes"]
    assert study_answer(findings, unseparated).endswith(
        "; nothing is measurably faster than fp32 in one process (best fp32, 2 processes: 1.44x).")
    slower = [EFFICIENCY[0], EFFICIENCY[1]]
    assert study_answer(findings, slower).endswith(
        "; every other configuration is slower than fp32 in one process (best bf16, 1 process: 0.31x).")
    assert study_answer(findings, EFFICIENCY[:1]) == study_answer(findings)  # nothing to compare with
    # The longest answers (a caveat on the majority class, a speed clause with its best ratio) stay readable.
    outcomes = [_findings(full=f, tfidf=t, short=0.75) for f, t in ((0.95, 0.70), (0.50, 0.90), (0.80, 0.79))]
    for answer in (study_answer(o, rows) for o in outcomes for rows in (EFFICIENCY, unseparated, slower)):
        assert len(_sentences(answer)) == 2, answer
        assert len(answer) <= 330, answer


@pytest.mark.parametrize(("short", "efficiency", "keys", "level"), [
    (0.75, EFFICIENCY, 6, "99.0"),  # both accuracies, both differences, the share truncated, the speed ratio named
    (None, (), 4, "98.3"),  # no twin (no post is long: a family of three), no precision/process table
])
def test_every_headline_metric_is_labelled_and_the_key_numbers_carry_the_answer(short, efficiency, keys,
                                                                                level) -> None:
    findings = _findings(full=0.95, tfidf=0.70, short=short, lengths=None if short is not None else [30] * N)
    metrics = headline_metrics(findings, efficiency, world_size=1, precision="fp32")
    result = StudyResult(study="gods_longformer", question="q", verdict="v", data_source="d",
                         metrics=metrics.values, labels=metrics.labels)
    assert result.unlabelled_metrics() == []
    key_numbers = [k for k, label in metrics.labels.items() if label.key]
    assert len(key_numbers) == keys
    assert {"accuracy_longformer", "accuracy_tfidf_logreg", "accuracy_difference_vs_tfidf",
            "share_posts_beyond_short"} <= set(key_numbers)
    values = metrics.values
    assert values["accuracy_longformer"] == pytest.approx(0.95)
    low, high = values["accuracy_difference_vs_tfidf_ci"]
    assert values["accuracy_difference_vs_tfidf"] == pytest.approx(0.25)
    assert low <= 0.25 <= high
    assert metrics.labels["accuracy_difference_vs_tfidf"].ci == "accuracy_difference_vs_tfidf_ci"
    assert f"{level} % simultaneous interval" in metrics.labels["accuracy_difference_vs_tfidf"].label
    assert ("accuracy_difference_vs_short" in values) == (short is not None)
    if efficiency:
        assert "speed_ratio_bf16_2_process" in key_numbers  # the configuration the answer names
        assert values["speed_ratio_bf16_2_process"] == pytest.approx(2.0)
        assert metrics.labels["examples_per_s_fp32_1_process"].unit == "examples/s"
