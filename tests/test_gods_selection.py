"""Selection never sees the posts it is scored on: the nested plan, the selection rule, and the families."""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch

from dlplayground.data.zindi import ZindiTexts, read_zindi_csv, sample_paths
from dlplayground.errors import UserInputError
from dlplayground.studies.gods import runs
from dlplayground.studies.gods.amp import select_precision
from dlplayground.studies.gods.baselines import tfidf_grid
from dlplayground.studies.gods.corpus import GodsData
from dlplayground.studies.gods.distributed import DistContext
from dlplayground.studies.gods.folds import holdout_plan, kfold_plan
from dlplayground.studies.gods.longformer import QUICK_SPEC, encode, train_tokenizer, wrap_tokenizer
from dlplayground.studies.gods.runs import (
    InnerData,
    LongformerContext,
    Unlabelled,
    longformer_candidates,
    run_longformer_family,
    run_tfidf_family,
)
from dlplayground.studies.gods.selection import InnerScore, select_on_inner

SAMPLE = read_zindi_csv(sample_paths()[0], labelled=True)
LABELS = SAMPLE.labels or ()


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_outer_folds_partition_the_posts_and_inner_splits_stay_inside(folds: int) -> None:
    plan = kfold_plan(LABELS, folds, 0.25, seed=4)
    assert sorted(plan.scored) == list(range(len(LABELS)))  # every post held out exactly once
    for fold in plan.folds:
        held_out, inner_train, inner_val = set(fold.held_out), set(fold.inner_train), set(fold.inner_val)
        assert not held_out & (inner_train | inner_val)  # selection data and scored data never meet
        assert not inner_train & inner_val
        assert held_out | inner_train | inner_val == set(range(len(LABELS)))
        # Stratified: every class in every part, close to its prior.
        for part in (fold.held_out, fold.inner_val):
            counts = Counter(LABELS[i] for i in part)
            for label, n in Counter(LABELS).items():
                assert counts[label] == pytest.approx(n * len(part) / len(LABELS), abs=2)
    assert kfold_plan(LABELS, folds, 0.25, seed=4) == plan
    assert kfold_plan(LABELS, folds, 0.25, seed=5) != plan


def test_holdout_plan_scores_only_the_holdout_rows() -> None:
    plan = holdout_plan(LABELS, 300, 0.25, seed=0)
    (fold,) = plan.folds
    assert fold.held_out == tuple(range(300, 400))
    assert set(fold.dev) == set(range(300))
    assert plan.external


def test_a_class_too_small_for_the_folds_is_refused() -> None:
    with pytest.raises(UserInputError, match=r"'rare' have fewer than --folds 3 .*\(rare: 2\)"):
        kfold_plan(["a"] * 20 + ["rare"] * 2, 3, 0.25, seed=0)


def test_selection_keeps_the_best_inner_score_and_snapshots_only_improvements() -> None:
    inner = {"a": (0.80, 0.5), "b": (0.90, 0.4), "c": (0.90, 0.6), "d": (0.90, 0.6), "e": (0.85, 0.9)}
    snapshots: list[str] = []

    def train_and_score(name: str) -> tuple[InnerScore, str]:
        return InnerScore(name, *inner[name]), f"model-{name}"

    def snapshot(model: str) -> str:
        snapshots.append(model)
        return model

    selection = select_on_inner(list(inner), train_and_score, snapshot)
    assert selection.candidate == "c"  # accuracy first, macro-F1 breaks the tie, the earlier 'c' beats 'd'
    assert selection.snapshot == "model-c"
    assert snapshots == ["model-a", "model-b", "model-c"]  # never a loser's, never after the winner
    assert [s.candidate for s in selection.scores] == list(inner)


def _inner(scores: tuple[InnerScore, ...]) -> list[tuple[str, float, float]]:
    return [(s.candidate, s.accuracy, s.macro_f1) for s in scores]


def _poisoned(unlabelled: Unlabelled, garbage: object) -> Unlabelled:
    return Unlabelled([garbage] * len(unlabelled.held_out), [garbage] * len(unlabelled.test))


def test_tfidf_selection_does_not_depend_on_the_held_out_posts() -> None:
    y = [SAMPLE.label_set.index(label) for label in LABELS]
    fold = kfold_plan(LABELS, 3, 0.25, seed=1).folds[0]
    inner = InnerData([SAMPLE.texts[i] for i in fold.inner_train], [y[i] for i in fold.inner_train],
                      [SAMPLE.texts[i] for i in fold.inner_val], [y[i] for i in fold.inner_val])
    unlabelled = Unlabelled([SAMPLE.texts[i] for i in fold.held_out], ["a test post"])
    settings = tfidf_grid(8)
    clean = run_tfidf_family(0, settings, inner, unlabelled, SAMPLE.label_set)
    poisoned = run_tfidf_family(0, settings, inner, _poisoned(unlabelled, "anxiety panic drink pills"),
                                SAMPLE.label_set)
    assert _inner(clean.scores) == _inner(poisoned.scores)  # train_s aside: wall time differs between runs
    assert clean.chosen == poisoned.chosen
    assert not np.array_equal(clean.held_out_probabilities, poisoned.held_out_probabilities)  # it did predict them


def test_baseline_selection_ignores_the_held_out_labels() -> None:
    study = importlib.import_module("dlplayground.studies.gods.study")
    config = study.resolve(study.build_parser().parse_args(["--quick"]))
    names = SAMPLE.label_set
    data = GodsData(labelled=SAMPLE, n_train=len(SAMPLE), test=None, label_names=names, source="test",
                    illustrative=True)
    plan = kfold_plan(LABELS, 2, 0.25, seed=0)
    flipped = list(LABELS)
    for i in plan.folds[0].held_out:  # relabel every post fold 1 scores; fold 1 selects on the other posts
        flipped[i] = names[(names.index(flipped[i]) + 1) % len(names)]
    other = replace(data, labelled=ZindiTexts(SAMPLE.ids, SAMPLE.texts, tuple(flipped), SAMPLE.source))
    first = study.baseline_outcomes(config, data, plan)[runs.TFIDF][0]
    second = study.baseline_outcomes(config, other, plan)[runs.TFIDF][0]
    assert (first.scores, first.chosen) == (second.scores, second.chosen)
    np.testing.assert_array_equal(first.held_out_probabilities, second.held_out_probabilities)


def test_longformer_selection_trains_and_scores_on_inner_posts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    study = importlib.import_module("dlplayground.studies.gods.study")
    config = replace(study.resolve(study.build_parser().parse_args(["--quick", "--steps", "2"])), dropout=0.0)
    config = replace(config, scratch=replace(QUICK_SPEC, dropout=0.0))
    names = SAMPLE.label_set
    y = [names.index(label) for label in LABELS]
    tokenizer = wrap_tokenizer(train_tokenizer(SAMPLE.texts[:80], QUICK_SPEC.vocab_size), 64)
    seqs = encode(tokenizer, SAMPLE.texts[:80], 64)
    inner = InnerData(seqs[:40], y[:40], seqs[40:60], y[40:60])
    unlabelled = Unlabelled(seqs[60:80], [])
    cpu = torch.device("cpu")
    env = LongformerContext(config, names, tokenizer, DistContext(), cpu, select_precision("fp32", cpu))
    calls: list[tuple[str, int]] = []
    real_train, real_predict = runs.train_classifier, runs.predict_probabilities

    def spy_train(model, train_seqs, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(("train", id(train_seqs)))
        return real_train(model, train_seqs, *args, **kwargs)

    def spy_predict(model, predict_seqs, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls.append(("predict", id(predict_seqs)))
        return real_predict(model, predict_seqs, **kwargs)

    monkeypatch.setattr(runs, "train_classifier", spy_train)
    monkeypatch.setattr(runs, "predict_probabilities", spy_predict)
    candidates = longformer_candidates(("none", "oversample"), 1)
    clean = run_longformer_family(runs.FULL, 0, candidates, inner, unlabelled, env)
    # Training only ever saw the inner training posts; the held-out posts were predicted once, last.
    assert [c for c in calls if c[0] == "train"] == [("train", id(inner.train))] * len(candidates)
    held_out_calls = [i for i, c in enumerate(calls) if c == ("predict", id(unlabelled.held_out))]
    assert held_out_calls == [len(calls) - 1]
    poisoned = run_longformer_family(runs.FULL, 0, candidates, inner, _poisoned(unlabelled, [0, 5, 6, 7, 2]), env)
    assert _inner(clean.scores) == _inner(poisoned.scores)  # train_s aside: wall time differs between runs
    assert clean.chosen == poisoned.chosen
