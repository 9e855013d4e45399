"""Every candidate of every fold: train on the inner training posts, score on the inner validation posts,
select, and only then predict the held-out posts (and the test file) with the selected candidate.

Three families are selected this way, each with the same number of candidates on the same inner split:
the Longformer reading its full context window (``FULL``), its twin truncated to one attention window
(``SHORT``; candidates identical except for the truncation, and sharing their random streams -- see
``streams``), and TF-IDF + logistic regression (``TFIDF``). A Longformer candidate is an (imbalance
strategy, repeat) pair; repeat ``r`` of fold ``f`` draws its initial weights, dropout masks and batches from
the INIT, DROPOUT and SAMPLER streams at ``(f, r)``.

What the family functions receive is the point: the inner posts with their labels, and the held-out and
test posts *without* labels. Selection (``selection.select_on_inner``) runs before any held-out post is
predicted, and the held-out labels only meet the predictions later, in ``analysis``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dlplayground.studies.gods.amp import PrecisionPlan
from dlplayground.studies.gods.baselines import TfidfSetting, fit_tfidf, majority_predictions, tfidf_probabilities
from dlplayground.studies.gods.config import GodsLongformerConfig
from dlplayground.studies.gods.distributed import DistContext
from dlplayground.studies.gods.encoding import EncodedParts
from dlplayground.studies.gods.longformer import attention_window_of, build_classifier
from dlplayground.studies.gods.metrics import classification_scores
from dlplayground.studies.gods.selection import InnerScore, Selection, select_on_inner
from dlplayground.studies.gods.streams import Purpose, stream_seed
from dlplayground.studies.gods.train import (
    TrainConfig,
    TrainLog,
    predict_classes,
    predict_probabilities,
    train_classifier,
)

FULL = "longformer"
SHORT = "longformer-short"
TFIDF = "tfidf+logreg"
MAJORITY = "majority class"


@dataclass(frozen=True)
class LongformerCandidate:
    """One Longformer candidate: how the imbalance is handled, and which repeat's random streams it uses."""

    strategy: str
    repeat: int

    @property
    def label(self) -> str:
        return f"{self.strategy}, repeat {self.repeat}"


def longformer_candidates(strategies: Sequence[str], repeats: int) -> tuple[LongformerCandidate, ...]:
    """Every (strategy, repeat) pair, repeat-major (the order that breaks exact ties)."""
    return tuple(LongformerCandidate(s, r) for r in range(repeats) for s in strategies)


@dataclass(frozen=True)
class InnerData:
    """What a family may train and select on: the inner posts of one fold, with their labels."""

    train: Sequence[Any]
    """Encoded posts (Longformer) or texts (TF-IDF)."""
    train_labels: Sequence[int]
    val: Sequence[Any]
    val_labels: Sequence[int]


@dataclass(frozen=True)
class Unlabelled:
    """What the selected model predicts afterwards: posts without their labels."""

    held_out: Sequence[Any]
    test: Sequence[Any]


@dataclass
class CandidateRun:
    """One trained Longformer candidate: its streams, its training log and its inner score."""

    fold: int
    family: str
    candidate: LongformerCandidate
    init_seed: int
    sampler_seed: int
    log: TrainLog
    score: InnerScore

    def to_dict(self) -> dict[str, Any]:
        return {"fold": self.fold, "family": self.family, "strategy": self.candidate.strategy,
                "repeat": self.candidate.repeat, "init_seed": self.init_seed, "sampler_seed": self.sampler_seed,
                "losses": list(self.log.losses), "train_s": self.log.seconds,
                "seen_per_class": list(self.log.seen_per_class), **self.score.to_dict()}


@dataclass
class FamilyOutcome:
    """One family in one fold: the selection on the inner posts and the selected model's predictions."""

    family: str
    fold: int
    labels: tuple[str, ...]
    """Every candidate's label, in order."""
    scores: tuple[InnerScore, ...]
    chosen: int
    held_out_probabilities: np.ndarray
    """Shape (held-out posts, classes)."""
    test_probabilities: np.ndarray
    """Shape (test posts, classes); empty without a test file."""
    runs: list[CandidateRun] = field(default_factory=list)
    """Longformer families only: every candidate's training record."""

    @property
    def chosen_label(self) -> str:
        return self.labels[self.chosen]

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "fold": self.fold, "chosen": self.chosen_label,
                "inner_scores": [s.to_dict() for s in self.scores]}


def _outcome(family: str, fold: int, selection: Selection[Any, Any], labels: Sequence[str],
             held_out: np.ndarray, test: np.ndarray, runs: list[CandidateRun] | None = None) -> FamilyOutcome:
    return FamilyOutcome(family, fold, tuple(labels), selection.scores, selection.chosen, held_out, test, runs or [])


def _as_array(rows: Sequence[Sequence[float]], num_classes: int) -> np.ndarray:
    return np.asarray(rows, dtype=float).reshape(len(rows), num_classes)


# ------------------------------------------------------------------------------------------- longformer
@dataclass(frozen=True)
class LongformerContext:
    """Everything a Longformer candidate needs besides its data: the recipe, the model, where it runs."""

    config: GodsLongformerConfig
    label_names: tuple[str, ...]
    tokenizer: Any
    ctx: DistContext
    device: torch.device
    plan: PrecisionPlan

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    def build(self) -> torch.nn.Module:
        c = self.config
        return build_classifier(c.scratch, c.checkpoint, self.tokenizer, self.label_names, c.dropout)

    def predict_kwargs(self, model: torch.nn.Module) -> dict[str, Any]:
        return {"ctx": self.ctx, "plan": self.plan, "device": self.device, "pad_id": self.pad_id,
                "window": attention_window_of(model)}


def longformer_scorer(
    inner: InnerData, env: LongformerContext, fold: int, family: str, runs: list[CandidateRun],
    on_done: Callable[[CandidateRun], None] | None = None,
) -> Callable[[LongformerCandidate], tuple[InnerScore, torch.nn.Module]]:
    """``train_and_score`` for ``select_on_inner``: train on ``inner.train``, score on ``inner.val``."""
    config, k = env.config, len(env.label_names)

    def train_and_score(candidate: LongformerCandidate) -> tuple[InnerScore, torch.nn.Module]:
        init_seed = stream_seed(config.seed, Purpose.INIT, fold, candidate.repeat)
        sampler_seed = stream_seed(config.seed, Purpose.SAMPLER, fold, candidate.repeat)
        torch.manual_seed(init_seed)  # the same initial weights on every rank (DDP also broadcasts them)
        model = env.build()
        torch.manual_seed(stream_seed(config.seed, Purpose.DROPOUT, fold, candidate.repeat, env.ctx.rank))
        recipe = TrainConfig(steps=config.steps, global_batch_size=config.batch_size,
                             learning_rate=config.learning_rate, imbalance=candidate.strategy, seed=sampler_seed)
        log = train_classifier(model, inner.train, inner.train_labels, k, recipe, ctx=env.ctx, plan=env.plan,
                               device=env.device, pad_id=env.pad_id, window=attention_window_of(model))
        predicted = predict_classes(model, inner.val, **env.predict_kwargs(model))
        scores = classification_scores(inner.val_labels, predicted, env.label_names)
        score = InnerScore(candidate.label, scores.accuracy, scores.macro_f1, log.seconds)
        run = CandidateRun(fold, family, candidate, init_seed, sampler_seed, log, score)
        runs.append(run)
        if on_done is not None:
            on_done(run)
        return score, model

    return train_and_score


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}


def run_longformer_family(
    family: str, fold: int, candidates: Sequence[LongformerCandidate], inner: InnerData, unlabelled: Unlabelled,
    env: LongformerContext, on_done: Callable[[CandidateRun], None] | None = None,
) -> FamilyOutcome:
    """Select among ``candidates`` on ``inner``; the winner predicts ``unlabelled``. Call on every rank."""
    runs: list[CandidateRun] = []
    selection = select_on_inner(candidates, longformer_scorer(inner, env, fold, family, runs, on_done), _weights)
    model = env.build()
    model.load_state_dict(selection.snapshot)
    kwargs = env.predict_kwargs(model)
    k = len(env.label_names)
    held_out = _as_array(predict_probabilities(model, unlabelled.held_out, **kwargs), k)
    test = (_as_array(predict_probabilities(model, unlabelled.test, **kwargs), k) if unlabelled.test
            else np.zeros((0, k)))
    return _outcome(family, fold, selection, [c.label for c in candidates], held_out, test, runs)


def parts_for_selection(parts: EncodedParts, y_inner_train: Sequence[int],
                        y_inner_val: Sequence[int]) -> tuple[InnerData, Unlabelled]:
    """Split one fold's encodings into what selection may see and what is only predicted afterwards."""
    return (InnerData(parts.inner_train, y_inner_train, parts.inner_val, y_inner_val),
            Unlabelled(parts.held_out, parts.test))


# ----------------------------------------------------------------------------------------------- tf-idf
def run_tfidf_family(fold: int, settings: Sequence[TfidfSetting], inner: InnerData, unlabelled: Unlabelled,
                     label_names: Sequence[str]) -> FamilyOutcome:
    """The TF-IDF grid, selected on the same inner split as the Longformer; the winner predicts ``unlabelled``."""
    k = len(label_names)

    def train_and_score(setting: TfidfSetting) -> tuple[InnerScore, Any]:
        model = fit_tfidf(inner.train, inner.train_labels, setting)
        predicted = tfidf_probabilities(model, inner.val, k).argmax(axis=1)
        scores = classification_scores(inner.val_labels, predicted.tolist(), label_names)
        return InnerScore(setting.label, scores.accuracy, scores.macro_f1), model

    selection = select_on_inner(settings, train_and_score, lambda model: model)
    return _outcome(TFIDF, fold, selection, [s.label for s in settings],
                    tfidf_probabilities(selection.snapshot, unlabelled.held_out, k),
                    tfidf_probabilities(selection.snapshot, unlabelled.test, k))


def majority_outcome(fold: int, dev_labels: Sequence[int], n_held_out: int, n_test: int,
                     num_classes: int) -> FamilyOutcome:
    """The most frequent class of the fold's development posts, for every held-out and test post."""
    (label,) = majority_predictions(dev_labels, 1)
    one_hot = np.eye(num_classes)[label]
    return FamilyOutcome(MAJORITY, fold, ("most frequent class",), (), 0, np.tile(one_hot, (n_held_out, 1)),
                         np.tile(one_hot, (n_test, 1)))
