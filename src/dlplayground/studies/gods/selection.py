"""Selecting one candidate per model family on the inner validation posts, and only there.

The rule: the candidate with the highest inner-validation accuracy (the competition's metric), macro-F1
breaking ties, the earlier candidate in the declared order breaking exact ties. A candidate is whatever
one family varies -- an (imbalance strategy, seed) pair for the Longformer, a (C, class weight) pair for
TF-IDF -- and every family gets the same number of candidates.

``select_on_inner`` is the one place selection happens. It receives the candidates and a
``train_and_score`` function built from the inner training and inner validation posts alone (never the
held-out ones), keeps a snapshot of the best model so far, and hands that snapshot back once every
candidate has been scored. Only then does the caller predict the held-out posts with it, so no held-out
prediction of a non-selected candidate is ever computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

C = TypeVar("C")
M = TypeVar("M")
S = TypeVar("S")


@dataclass(frozen=True)
class InnerScore:
    """One candidate's scores on the inner validation posts of one fold."""

    candidate: str
    """The candidate's label (e.g. ``weighted-loss, seed 1`` or ``C=1, balanced``)."""
    accuracy: float
    macro_f1: float
    train_s: float | None = None
    """Training seconds (None for the baselines, which are not timed)."""

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "train_s": self.train_s}


def selection_key(score: InnerScore) -> tuple[float, float]:
    """What selection maximises: accuracy, then macro-F1."""
    return score.accuracy, score.macro_f1


@dataclass(frozen=True)
class Selection(Generic[C, S]):
    """The scored candidates of one family in one fold, which one won, and its snapshot."""

    candidates: tuple[C, ...]
    scores: tuple[InnerScore, ...]
    chosen: int
    """Index into ``candidates`` of the selected one."""
    snapshot: S
    """What the caller needs to predict with the selected model (its weights, or the fitted model)."""

    @property
    def candidate(self) -> C:
        return self.candidates[self.chosen]

    @property
    def score(self) -> InnerScore:
        return self.scores[self.chosen]


def select_on_inner(
    candidates: Sequence[C],
    train_and_score: Callable[[C], tuple[InnerScore, M]],
    snapshot: Callable[[M], S],
) -> Selection[C, S]:
    """Train and score every candidate in order; keep the best (``selection_key``, earliest on ties)."""
    if not candidates:
        raise ValueError("selection needs at least one candidate")
    scores: list[InnerScore] = []
    chosen, kept = -1, None
    for index, candidate in enumerate(candidates):
        score, model = train_and_score(candidate)
        scores.append(score)
        if chosen < 0 or selection_key(score) > selection_key(scores[chosen]):
            chosen, kept = index, snapshot(model)
    return Selection(tuple(candidates), tuple(scores), chosen, kept)
