"""Selection on the tuning images only: each operator's scale and threshold, and each family's member.

Everything chosen here is chosen on the tuning set and then frozen; the held-out images are scored at the
choice and never seen by it. For each operator, the scale is the one whose sweep has the best ODS F on the
tuning images, and the threshold is that sweep's ODS threshold (ties: the smaller scale, then the lower
threshold -- the first in the grid). For each family of the comparison (``operators.FAMILY_MEMBERS``), the
member with the best tuning F is the one that meets the other family on the held-out images: a two-way
maximum on both sides, picked out of sample, so neither family profits from more tries or from luck on the
scored images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dlplayground.studies.edges.scoring import SweepTable


@dataclass(frozen=True)
class Tuned:
    """One operator's choice on the tuning images."""

    operator: str
    sigma: float
    threshold_index: int
    """Index into the tuning sweep's threshold grid, which the held-out sweep reuses."""
    threshold: float
    tuning_f: float
    """ODS F on the tuning images at this scale (what the choice maximised)."""


def tune_operator(tables: Sequence[SweepTable]) -> Tuned:
    """The scale and threshold with the best ODS F among one operator's tuning sweeps (one per scale)."""
    if not tables or len({t.operator for t in tables}) != 1:
        raise ValueError("tune_operator needs the tuning sweeps of exactly one operator")
    best = max(sorted(tables, key=lambda t: t.sigma), key=lambda t: t.score.ods[2])  # max keeps the first
    index = best.score.ods_index
    return Tuned(best.operator, best.sigma, index, float(best.thresholds[index]), best.score.ods[2])


def tune_operators(tables: Sequence[SweepTable]) -> dict[str, Tuned]:
    """``tune_operator`` for every operator with a tuning sweep, in the order the sweeps first name them."""
    operators = dict.fromkeys(t.operator for t in tables)
    return {op: tune_operator([t for t in tables if t.operator == op]) for op in operators}


def pick_member(tuned: Mapping[str, Tuned], members: Sequence[str]) -> Tuned | None:
    """The family member with the best tuning F (first in ``members`` on a tie); None if none was run."""
    present = [tuned[m] for m in members if m in tuned]
    return max(present, key=lambda t: t.tuning_f) if present else None
