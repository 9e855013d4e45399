"""The verdict rule: count the conditions each family wins with a paired 95 % CI clear of zero.

A condition is a gradient win when the interval of (best gradient ODS F - best Laplacian ODS F) lies above
zero, a Laplacian win when it lies below, unresolved otherwise. The head line follows the counts: no
Laplacian win and some gradient win -> the seed's claim does not hold; the reverse -> it holds; otherwise the
majority decides, and a tie says the evidence does not separate them. The text then quotes the numbers it
was computed from, how the gap changes from the cleanest to the noisiest condition, every Laplacian win, and
the face-stability comparison at the middle noise level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlplayground.studies.edges.analysis import ConditionAnalysis, FaceFamilyComparison, PairedComparison
from dlplayground.studies.edges.evaluation import Condition
from dlplayground.studies.edges.operators import operator_label


@dataclass(frozen=True)
class FamilyTally:
    """The per-condition family comparisons the verdict counts (conditions where both families ran)."""

    comparisons: list[tuple[Condition, PairedComparison]]

    @property
    def conditions(self) -> int:
        return len(self.comparisons)

    @property
    def gradient_wins(self) -> int:
        return sum(1 for _, c in self.comparisons if c.difference.sign > 0)

    @property
    def laplacian_wins(self) -> int:
        return sum(1 for _, c in self.comparisons if c.difference.sign < 0)

    @property
    def mean_gradient_f(self) -> float:
        return float(np.mean([c.first.score.ods[2] for _, c in self.comparisons])) if self.comparisons else math.nan

    @property
    def mean_laplacian_f(self) -> float:
        return float(np.mean([c.second.score.ods[2] for _, c in self.comparisons])) if self.comparisons else math.nan


def tally_families(analyses: Sequence[ConditionAnalysis]) -> FamilyTally:
    """The family comparison of every condition that has one, in condition order."""
    return FamilyTally([(a.condition, a.family) for a in analyses if a.family is not None])


def _gap(comparison: PairedComparison) -> float:
    return comparison.difference.estimate


def _face_text(face_families: Sequence[FaceFamilyComparison], face_fallback: bool) -> str:
    if not face_families:
        return ""
    face = face_families[len(face_families) // 2]
    bg, bl, ci = face.gradient, face.laplacian, face.difference
    origin = "fallback lfw_subset" if face_fallback else "Olivetti"
    return (f" On real faces ({origin}) at noise {face.noise:g}, "
            f"the most stable gradient map ({operator_label(bg.operator)}, sigma {bg.sigma:g}) agreed with its clean "
            f"map at F = {bg.per_image.mean():.3f} vs {bl.per_image.mean():.3f} for the best Laplacian "
            f"({operator_label(bl.operator)}, sigma {bl.sigma:g}); paired 95 % CI of the difference "
            f"[{ci.low:+.3f}, {ci.high:+.3f}].")


def edge_verdict(tally: FamilyTally, face_families: Sequence[FaceFamilyComparison], noise_levels: Sequence[float],
                 face_fallback: bool) -> str:
    """The verdict text, computed from the tally and the face comparison (module docstring)."""
    if not tally.comparisons:
        return ("Only one operator family was run, so the gradient-vs-Laplacian claim cannot be judged; "
                "see the per-operator tables.")
    n_cond, n_grad, n_lap = tally.conditions, tally.gradient_wins, tally.laplacian_wins
    detail = (f"Across {n_cond} conditions (scene kind x blur x noise), the best gradient operator "
              f"beat the best Laplacian one with a 95 % CI above zero in {n_grad}, the Laplacian won in {n_lap}, "
              f"{n_cond - n_grad - n_lap} stayed unresolved; mean ODS F {tally.mean_gradient_f:.3f} (gradient) vs "
              f"{tally.mean_laplacian_f:.3f} (Laplacian), each at its best scale.")
    lowest, highest = min(noise_levels), max(noise_levels)
    cleanest = [_gap(c) for cond, c in tally.comparisons if cond.noise == lowest]
    noisiest = [_gap(c) for cond, c in tally.comparisons if cond.noise == highest]
    if noisiest and cleanest and highest > lowest:
        detail += (f" The gradient's lead grows with noise: {min(cleanest):+.3f} to {max(cleanest):+.3f} in F at "
                   f"noise {lowest:g}, {min(noisiest):+.3f} to {max(noisiest):+.3f} at noise {highest:g}.")
    lap_wins = [f"{cond.kind}, blur {cond.blur_px:g} px, noise {cond.noise:g} ({_gap(c):+.3f}, CI "
                f"[{c.difference.low:+.3f}, {c.difference.high:+.3f}])"
                for cond, c in tally.comparisons if c.difference.sign < 0]
    if lap_wins:
        detail += " The Laplacian won only on: " + "; ".join(lap_wins) + "."
    if n_lap == 0 and n_grad > 0:
        head = "The seed's claim does not hold: the gradient is the better edge detector here, not the Laplacian."
    elif n_grad == 0 and n_lap > 0:
        head = "The seed's claim holds on this benchmark: Laplacian zero-crossings beat gradient + NMS."
    elif n_grad > n_lap:
        head = ("The seed's claim does not hold overall: the gradient is the better edge detector in most "
                "conditions, the Laplacian in few.")
    elif n_lap > n_grad:
        head = "The seed's claim holds in most conditions, but not all."
    else:
        head = "The evidence does not separate the two families."
    return f"{head} {detail}{_face_text(face_families, face_fallback)}"
