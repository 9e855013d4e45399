"""The verdict rule: every sentence computed from the Holm-corrected family decisions, the noise trends and the
face comparison. The same rule is written out in docs/edge_operators.md ("The verdict rule").

Inputs. Each condition compared (``analysis.FamilyComparison``) has a decision: *gradient better* or
*Laplacian better* when its Holm-adjusted p-value is below 0.05 (the sign of the held-out difference says
which), else *unresolved*. Let M conditions be compared, G gradient-better, L Laplacian-better, U unresolved.

1. Head sentence, by (G, L, U):
   M = 0: the claim cannot be judged (one family only);
   G = L = 0: the benchmark does not separate the families;
   L = 0 < G: if G >= U "the seed's claim does not hold here", else "gradient + NMS is better wherever the
   benchmark can tell ... contradicted where resolved but not settled";
   G = 0 < L: mirrored ("the seed's claim holds here" / "supported where resolved but not settled");
   G > 0 and L > 0: "neither family is better everywhere".
2. Where: the decisions counted per scene kind; the conditions of the smaller resolved side listed with their
   difference and interval when there are at most ``LIST_AT_MOST`` of them.
3. Size: the median, smallest and largest held-out difference over the conditions, and both families' mean F.
4. Noise (if any panel has two noise levels): each panel (kind x blur) is classed by its change interval and
   the decisions at the lowest and highest noise (``trend_phrase``) -- "the gradient's lead grows with noise",
   "... shrinks ...", "the lead passes from ... to ...", "the Laplacian's lead grows/shrinks ...", "the
   difference moves towards ... with noise" (neither end resolved that way) or "no resolved change" -- and the
   panels of each class are named with the range of their change.
5. BSDS (if run): its own comparison, decision and interval.
6. Faces: at the middle face noise level, the out-of-sample stability comparison and which family's maps are
   more stable (interval clear of zero) or that it is unresolved.

The answer (``edge_answer``), the one or two sentences a reader sees first, is written from the same judgements:
rule 1's outcome (``family_outcome``) as yes / no / "only in places" with the counts (and, when each family wins
somewhere, the scene kinds of the smaller winning side), then rule 5's BSDS decision and rule 6's face outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlplayground.studies.edges.analysis import FaceFamilyComparison, FamilyComparison, NoiseTrend
from dlplayground.studies.edges.bsds_arm import BSDS_KIND, SCORING_SPLIT, TUNING_SPLIT
from dlplayground.studies.edges.operators import operator_label

LIST_AT_MOST = 6
"""The resolved conditions of the smaller side are listed one by one up to this many."""
DECISION_WORDS = {1: "gradient better", -1: "Laplacian better", 0: "unresolved"}
TREND_ORDER = (
    "the gradient's lead grows with noise", "the gradient's lead shrinks with noise",
    "the lead passes from the gradient to the Laplacian as noise grows", "the Laplacian's lead grows with noise",
    "the Laplacian's lead shrinks with noise", "the lead passes from the Laplacian to the gradient as noise grows",
    "the difference moves towards the gradient with noise", "the difference moves towards the Laplacian with noise",
    "no resolved change with noise",
)
TREND_SHORT = (
    "gradient lead grows", "gradient lead shrinks", "lead passes to the Laplacian", "Laplacian lead grows",
    "Laplacian lead shrinks", "lead passes to the gradient", "towards the gradient", "towards the Laplacian",
    "no resolved change",
)
"""``TREND_ORDER``'s classes in a few words, for table cells (the same class, position for position)."""
OUTCOMES = ("none", "tie", "gradient", "gradient_partial", "laplacian", "laplacian_partial", "mixed")
"""``family_outcome``'s classes (rule 1): no comparison ("none"), nothing resolved ("tie"), one family better
wherever anything is resolved, in at least as many conditions as are unresolved ("gradient", "laplacian") or in
fewer ("..._partial"), or each family better somewhere ("mixed")."""


def _ci(low: float, high: float) -> str:
    return f"[{low:+.3f}, {high:+.3f}]"


def _pct(level: float) -> str:
    return f"{100 * level:.3g} %"


def family_outcome(g: int, l_: int, u: int) -> str:
    """Rule 1's judgement from the counts of gradient-better, Laplacian-better and unresolved conditions: one of
    ``OUTCOMES``. The head sentence of the verdict and the short answer are both written from it."""
    if g + l_ + u == 0:
        return "none"
    if g == 0 and l_ == 0:
        return "tie"
    if l_ == 0:
        return "gradient" if g >= u else "gradient_partial"
    if g == 0:
        return "laplacian" if l_ >= u else "laplacian_partial"
    return "mixed"


def head_sentence(g: int, l_: int, u: int) -> str:
    """Rule 1: the head sentence from the counts of gradient-better, Laplacian-better and unresolved conditions."""
    m = g + l_ + u
    holm = "Holm-corrected, family-wise 5 %"
    outcome = family_outcome(g, l_, u)
    if outcome == "none":
        return ("Only one operator family was run, so the gradient-vs-Laplacian claim cannot be judged; see the "
                "per-operator tables.")
    if outcome == "tie":
        return (f"The benchmark does not separate the two families: in none of the {m} conditions is the held-out "
                f"difference resolved ({holm}).")
    if outcome != "mixed":  # one family wins wherever anything is resolved
        gradient_won = l_ == 0
        wins = g if gradient_won else l_
        winner, verb, loser, loser_short = (("gradient + NMS", "detects", "Laplacian zero-crossings", "the Laplacian")
                                            if gradient_won else
                                            ("Laplacian zero-crossings", "detect", "gradient + NMS", "the gradient"))
        if not outcome.endswith("_partial"):
            return (f"The seed's claim {'does not hold' if gradient_won else 'holds'} here: {winner} {verb} edges "
                    f"better than {loser} in {wins} of {m} conditions ({holm}), {loser_short} in none.")
        return (f"{winner[0].upper()}{winner[1:]} {'is' if gradient_won else 'are'} better wherever the benchmark can "
                f"tell ({wins} of {m} conditions, {holm}), {loser_short} nowhere; the other {u} are unresolved, so the "
                f"seed's claim is {'contradicted' if gradient_won else 'supported'} where resolved but not settled.")
    return (f"Neither family is better everywhere: gradient + NMS is better in {g} of {m} conditions, Laplacian "
            f"zero-crossings in {l_} ({holm}); {u} unresolved.")


def where_sentences(comparisons: Sequence[FamilyComparison], level: float) -> str:
    """Rule 2: decisions per scene kind, and the smaller resolved side listed when short."""
    kinds: dict[str, list[int]] = {}
    for c in comparisons:
        kinds.setdefault(c.condition.kind, [0, 0, 0])[{1: 0, -1: 1, 0: 2}[c.decision]] += 1
    text = ("By scene kind (gradient better / Laplacian better / unresolved): "
            + "; ".join(f"{k} {v[0]}/{v[1]}/{v[2]}" for k, v in kinds.items()) + ".")
    sides = {d: [c for c in comparisons if c.decision == d] for d in (1, -1)}
    resolved = [d for d in (-1, 1) if sides[d]]
    if resolved:
        smaller = min(resolved, key=lambda d: len(sides[d]))  # the Laplacian's side first on a tie
        if len(sides[smaller]) <= LIST_AT_MOST:
            family = "gradient + NMS" if smaller > 0 else "the Laplacian"
            items = "; ".join(f"{c.condition.label} ({c.difference.estimate:+.3f}, CI "
                              f"{_ci(c.difference.low, c.difference.high)})" for c in sides[smaller])
            text += f" {family[0].upper()}{family[1:]} is better on: {items} ({_pct(level)} simultaneous intervals)."
    return text


def size_sentence(comparisons: Sequence[FamilyComparison]) -> str:
    """Rule 3: how large the held-out differences are."""
    differences = np.array([c.difference.estimate for c in comparisons])
    low, high = comparisons[int(np.argmin(differences))], comparisons[int(np.argmax(differences))]
    return (f"Held-out F (scale and threshold chosen on separate tuning images), gradient minus Laplacian: median "
            f"{np.median(differences):+.3f} over the {len(comparisons)} conditions, from "
            f"{low.difference.estimate:+.3f} ({low.condition.label}) to {high.difference.estimate:+.3f} "
            f"({high.condition.label}); mean F "
            f"{np.mean([c.gradient_f for c in comparisons]):.3f} (gradient) vs "
            f"{np.mean([c.laplacian_f for c in comparisons]):.3f} (Laplacian).")


def trend_phrase(trend: NoiseTrend) -> str:
    """Rule 4: the class of one panel's noise trend (one of ``TREND_ORDER``).

    The direction is the change interval's; who leads at an end is that end's Holm-corrected decision, so an
    unresolved end is never called a lead.
    """
    low, high = trend.low_decision, trend.high_decision
    if trend.direction > 0:  # towards the gradient
        if low < 0 < high:
            return TREND_ORDER[5]
        if low > 0 or high > 0:
            return TREND_ORDER[0]
        return TREND_ORDER[4] if low < 0 else TREND_ORDER[6]
    if trend.direction < 0:  # towards the Laplacian
        if high < 0 < low:
            return TREND_ORDER[2]
        if low < 0 or high < 0:
            return TREND_ORDER[3]
        return TREND_ORDER[1] if low > 0 else TREND_ORDER[7]
    return TREND_ORDER[8]


def trend_short(trend: NoiseTrend) -> str:
    """Rule 4's class of one panel in a few words (``TREND_SHORT``), for a table cell."""
    return TREND_SHORT[TREND_ORDER.index(trend_phrase(trend))]


def _panels(trends: Sequence[NoiseTrend]) -> str:
    kinds: dict[str, list[str]] = {}
    for t in trends:
        kinds.setdefault(t.kind, []).append(f"{t.blur_px:g}")
    items = [f"{k} (blur {', '.join(v)} px)" for k, v in kinds.items()]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def trend_sentence(trends: Sequence[NoiseTrend], level: float) -> str:
    """Rule 4 as text: the panels of each class, with the range of their change."""
    if not trends:
        return ""
    lows, highs = {t.low_noise for t in trends}, {t.high_noise for t in trends}
    span = (f"From noise {next(iter(lows)):g} to {next(iter(highs)):g}" if len(lows) == len(highs) == 1
            else "From the lowest to the highest noise level")
    parts = []
    for phrase in TREND_ORDER:
        members = [t for t in trends if trend_phrase(t) == phrase]
        if not members:
            continue
        changes = sorted(t.change.estimate for t in members)
        size = f"{changes[0]:+.3f}" if len(changes) == 1 else f"{changes[0]:+.3f} to {changes[-1]:+.3f}"
        parts.append(f"{phrase} on {_panels(members)} [change {size}]")
    return (f"{span} (change of the difference, {_pct(level)} simultaneous intervals over the {len(trends)} "
            f"panels): " + "; ".join(parts) + ".")


def bsds_sentence(comparison: FamilyComparison, level: float) -> str:
    """Rule 5: the real-photograph arm."""
    c, d = comparison, comparison.difference
    return (f"On {BSDS_KIND} photographs (tuned on {TUNING_SPLIT}, scored on {SCORING_SPLIT}; matched within 0.0075 x "
            f"the diagonal against every annotator): {operator_label(c.gradient)} (sigma {c.gradient_sigma:g}) F = "
            f"{c.gradient_f:.3f} vs {operator_label(c.laplacian)} (sigma {c.laplacian_sigma:g}) F = "
            f"{c.laplacian_f:.3f}, difference {d.estimate:+.3f}, {_pct(level)} CI {_ci(d.low, d.high)}, Holm p = "
            f"{c.p_holm:.3g}: {DECISION_WORDS[c.decision]}.")


def face_sentence(faces: Sequence[FaceFamilyComparison], face_fallback: bool) -> str:
    """Rule 6: stability on real faces at the middle face noise level."""
    if not faces:
        return ""
    face = faces[len(faces) // 2]
    d = face.difference
    origin = "fallback lfw_subset" if face_fallback else "Olivetti"
    outcome = {1: "the gradient's maps are the more stable", -1: "the Laplacian's maps are the more stable",
               0: "the stability difference is unresolved"}[d.sign]
    return (f"On real faces ({origin}; no ground truth, so stability under noise {face.noise:g}): the most stable "
            f"gradient map on half the faces ({operator_label(face.gradient.operator)}, sigma {face.gradient.sigma:g}) "
            f"agreed with its clean map at F = {face.gradient_agreement:.3f} on the other half vs "
            f"{face.laplacian_agreement:.3f} for the Laplacian's ({operator_label(face.laplacian.operator)}, sigma "
            f"{face.laplacian.sigma:g}); difference {d.estimate:+.3f}, {_pct(d.level)} CI {_ci(d.low, d.high)}: "
            f"{outcome}.")


def edge_verdict(comparisons: Sequence[FamilyComparison], trends: Sequence[NoiseTrend],
                 faces: Sequence[FaceFamilyComparison], face_fallback: bool, *, comparison_level: float,
                 trend_level: float) -> str:
    """The verdict text (module docstring), every sentence from the numbers given."""
    decisions = [c.decision for c in comparisons]
    head = head_sentence(decisions.count(1), decisions.count(-1), decisions.count(0))
    if not comparisons:
        return " ".join(s for s in (head, face_sentence(faces, face_fallback)) if s)
    real = [c for c in comparisons if c.condition.kind == BSDS_KIND]
    sentences = [head, where_sentences(comparisons, comparison_level), size_sentence(comparisons),
                 trend_sentence(trends, trend_level), *(bsds_sentence(c, comparison_level) for c in real),
                 face_sentence(faces, face_fallback)]
    return " ".join(s for s in sentences if s)


def _kinds(comparisons: Sequence[FamilyComparison], decision: int) -> str:
    return ", ".join(dict.fromkeys(c.condition.kind for c in comparisons if c.decision == decision))


def edge_answer(comparisons: Sequence[FamilyComparison], faces: Sequence[FaceFamilyComparison],
                face_fallback: bool) -> str:
    """The short answer to the study's question (module docstring): rule 1's outcome, then BSDS and the faces."""
    decisions = [c.decision for c in comparisons]
    g, l_, u = decisions.count(1), decisions.count(-1), decisions.count(0)
    m = g + l_ + u
    outcome = family_outcome(g, l_, u)
    unresolved = f"; {u} unresolved" if u else ""
    if outcome == "none":
        head = "It cannot be judged: only one operator family was run"
    elif outcome == "tie":
        head = f"Not resolved: neither family scores better in any of the {m} conditions (Holm-corrected, 5 %)"
    elif outcome != "mixed":  # one family better wherever anything is resolved
        winner, loser = ("gradient", "Laplacian") if outcome.startswith("gradient") else ("Laplacian", "gradient")
        reply = "No" if winner == "gradient" else "Yes"
        if outcome.endswith("_partial"):
            head = (f"{reply}, where the benchmark can tell: the {winner} is better in {max(g, l_)} of {m} conditions, "
                    f"the {loser} in none, but {u} are unresolved")
        else:
            head = f"{reply}: the {winner} finds edges better in {max(g, l_)} of {m} conditions, the {loser} in none"
            head += unresolved
    elif l_ > g:
        head = (f"Mostly yes: the Laplacian is better in {l_} of {m} conditions, the gradient in {g} "
                f"({_kinds(comparisons, 1)}){unresolved}")
    else:
        head = (f"Only in places: the Laplacian is better in {l_} of {m} conditions ({_kinds(comparisons, -1)}), the "
                f"gradient in {g}{unresolved}")
    real = [f"on {BSDS_KIND} photographs " + {1: "the gradient is better", -1: "the Laplacian is better",
                                              0: "the difference is unresolved"}[c.decision]
            for c in comparisons if c.condition.kind == BSDS_KIND]
    if faces:
        sign = faces[len(faces) // 2].difference.sign
        origin = "lfw_subset" if face_fallback else "Olivetti"
        real.append(f"on real faces ({origin}) " + {
            1: "the gradient's edge maps are the more stable under noise",
            -1: "the Laplacian's edge maps are the more stable under noise",
            0: "neither family's edge maps are resolved as the more stable under noise"}[sign])
    tail = "; ".join(real)
    return f"{head}." + (f" {tail[0].upper()}{tail[1:]}." if tail else "")
