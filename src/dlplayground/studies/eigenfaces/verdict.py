"""The verdict rule, written out from the numbers (``docs/eigenfaces.md``, "The rule").

**The answer** reads the eigenface classifier's cross-source cells: trained against one negative source A,
tested against another B. Each cell's per-fold AUCs give a spread at the Bonferroni-adjusted level
(``simultaneous_level``: the cells are judged together). A cell *transfers* when its whole spread lies at or
above ``DETECT_AUC``, and *fails* when its whole spread lies below it.

* "Yes" (``faces``) -- every cross-source cell transfers: whatever non-faces it was trained against, the
  classifier ranks held-out faces above non-faces of a source it never saw.
* "No, it learned the data source" (``source``) -- at least one cell A -> B fails while the classifier does
  separate faces from A itself (the within-source cell A -> A does not fail): what it learned is what sets the
  faces apart from A, not faces.
* "No, it separates nothing" (``neither``) -- cells fail, but every failing cell's training source fails
  within-source too: the classifier did not even learn its own training task.
* "Not resolved" (``unresolved``) -- otherwise, or with fewer than two negative sources (nothing to transfer to).

**The source sentence** is derived from the measured gap (within-source minus cross-source AUC, paired by
fold) against the within-source AUC's distance from chance: the within-source AUC "mostly measures the data
source" when the whole spread of the gap exceeds half that distance (more than half of the advantage over
chance vanishes when the non-faces change source); "mostly measures faces" when the whole spread lies below
half; otherwise the share cannot be told.

The remaining sentences report, without a further claim: which sources trivial statistics alone separate
from the faces (pooled shortcut AUC >= ``CONFOUND_AUC``), the hard negatives, and the baselines.

**The short answer** (``short_answer``, what a reader sees first) is the same two judgements in two sentences:
the answer with the one cell that decides it (the lowest cross-source cell; for "source" and "neither" the
lowest failing one beside its training source's within-source AUC; for "not resolved" the lowest straddling
one), then the source share. The full reasoning is ``eigenfaces_verdict``.
"""

from __future__ import annotations

from dlplayground.data.nonfaces import SHIFTED_CROPS
from dlplayground.studies.eigenfaces.classifiers import RAW_PIXELS, SHORTCUT
from dlplayground.studies.eigenfaces.evaluation import MethodTransfer, Spread, TransferSummary

DETECT_AUC = 0.8
"""A detector must rank a held-out face above a non-face of a source it never saw at least four times in five."""
CONFOUND_AUC = 0.8
"""A pooled shortcut AUC from which trivial statistics are said to give a source away."""
CHANCE_AUC = 0.5
MAX_LISTED = 3


def _interval(s: Spread) -> str:
    return f"[{s.low:.3f}, {s.high:.3f}]"


def _auc(s: Spread) -> str:
    return f"{s.mean:.3f} {_interval(s)}"


def cell_status(cell: Spread, threshold: float = DETECT_AUC) -> str:
    """``transfers`` (whole spread >= threshold), ``fails`` (whole spread < threshold) or ``open``."""
    if cell.low >= threshold:
        return "transfers"
    if cell.high < threshold:
        return "fails"
    return "open"


def _failing(c: MethodTransfer) -> list[tuple[tuple[str, str], Spread]]:
    ranked = sorted(c.cross_cells.items(), key=lambda item: item[1].mean)
    return [item for item in ranked if cell_status(item[1]) == "fails"]


def _learned_source(c: MethodTransfer) -> list[tuple[tuple[str, str], Spread]]:
    """The failing cross-source cells whose training source the classifier does separate within-source."""
    return [((a, b), cell) for (a, b), cell in _failing(c) if cell_status(c.cells[(a, a)]) != "fails"]


def answer(classifier: MethodTransfer) -> str:
    """``faces``, ``source``, ``neither`` or ``unresolved`` by the rule in the module docstring."""
    if not classifier.cross_cells:
        return "unresolved"
    if _learned_source(classifier):
        return "source"
    if _failing(classifier):
        return "neither"
    statuses = [cell_status(cell) for cell in classifier.cross_cells.values()]
    return "faces" if all(s == "transfers" for s in statuses) else "unresolved"


def _cells_text(cells: list[tuple[tuple[str, str], Spread]]) -> str:
    return "; ".join(f"trained against {a}, tested against {b}: {_auc(s)}" for (a, b), s in cells[:MAX_LISTED])


def _answer_sentence(c: MethodTransfer, level: float, n_folds: int) -> str:
    result = answer(c)
    if not c.cross_cells:
        return (f"Not resolved: there is only one negative source ({c.sources[0]}), so whether the classifier "
                f"learned faces or that source cannot be tested; against it, held-out faces reach AUC "
                f"{_auc(c.within)} ({level:.0%} spread over {n_folds} folds).")
    cross_level = next(iter(c.cross_cells.values())).level
    what = f"{cross_level:.1%} simultaneous spreads of per-fold AUCs over {n_folds} grouped outer folds"
    ranked = sorted(c.cross_cells.items(), key=lambda item: item[1].mean)
    (worst_train, worst_test), worst = ranked[0]
    if result == "faces":
        return (f"Yes, it detects faces rather than the data source: trained against any one negative source, the "
                f"eigenface classifier still ranks held-out faces above the non-faces of every other source it never "
                f"saw; the lowest cross-source AUC is {_auc(worst)} (trained against {worst_train}, tested against "
                f"{worst_test}; {what}), all at or above {DETECT_AUC}.")
    if result == "source":
        failing = _learned_source(c)
        within = "; ".join(f"{a}: {_auc(c.cells[(a, a)])}" for a in dict.fromkeys(a for (a, _), _ in failing))
        return (f"No, it learned the data source, not faces: in {len(failing)} of {len(ranked)} cross-source cells "
                f"the whole spread of AUCs stays below {DETECT_AUC} ({_cells_text(failing)}; {what}), although "
                f"against its own training source it does separate the faces ({within}); what the classifier learned "
                "is what sets those non-faces apart from the faces.")
    if result == "neither":
        failing = _failing(c)
        return (f"No, it separates nothing: in {len(failing)} of {len(ranked)} cross-source cells the whole spread "
                f"of AUCs stays below {DETECT_AUC} ({_cells_text(failing)}; {what}), and against those cells' own "
                "training sources it fails as well, so the classifier learned neither faces nor sources.")
    open_cells = [item for item in ranked if cell_status(item[1]) == "open"]
    return (f"Not resolved: no cross-source cell fails, but {len(open_cells)} of {len(ranked)} have spreads that "
            f"straddle {DETECT_AUC} ({_cells_text(open_cells)}; {what}), so these folds cannot tell face detection "
            "from source detection.")


def source_share(c: MethodTransfer) -> str | None:
    """``source``, ``faces``, ``untold`` or ``no advantage``: what the within-source AUC mostly measures, by the
    measured gap against half the advantage over chance (module docstring); None with one negative source."""
    if c.gap is None or c.cross is None:
        return None
    advantage = c.within.mean - CHANCE_AUC
    if advantage <= 0:
        return "no advantage"
    if c.gap.low > advantage / 2:
        return "source"
    if c.gap.high < advantage / 2:
        return "faces"
    return "untold"


def source_sentence(c: MethodTransfer) -> str:
    """The "mostly measures the data source" sentence, derived from the measured gap (module docstring)."""
    share = source_share(c)
    if share is None:
        return ""
    advantage = c.within.mean - CHANCE_AUC
    measured = (f"changing the negative source costs {c.gap.mean:+.3f} AUC (per-fold spread "
                f"{_interval(c.gap)}) of its {advantage:.3f} above chance")
    if share == "no advantage":
        return (f" Within a source the classifier does not beat chance (AUC {c.within.mean:.3f}), so there is no "
                "advantage to split between faces and source.")
    if share == "source":
        return f" Its within-source AUC ({c.within.mean:.3f}) mostly measures the data source: {measured}."
    if share == "faces":
        return (f" Its within-source AUC ({c.within.mean:.3f}) mostly measures faces, not the data source: "
                f"{measured}, less than half.")
    return (f" How much of its within-source AUC ({c.within.mean:.3f}) is the data source cannot be told: "
            f"{measured}, a spread that straddles half of it.")


def short_answer(summary: TransferSummary) -> str:
    """The answer a reader sees first: ``answer`` and ``source_share`` in two sentences (module docstring)."""
    c = summary.classifier
    result = answer(c)
    if not c.cross_cells:
        return (f"Not resolved: with one negative source ({c.sources[0]}) there is no unseen kind of non-face to "
                f"test on; against it, held-out faces reach AUC {c.within.mean:.3f}.")
    ranked = sorted(c.cross_cells.items(), key=lambda item: item[1].mean)
    if result == "faces":
        (a, b), cell = ranked[0]
        first = (f"Yes, it detects faces, not the data source: trained against one kind of non-face, it rejects "
                 f"every kind it never saw (lowest AUC {cell.mean:.3f}, trained against {a}, tested on {b}; all "
                 f">= {DETECT_AUC}).")
    elif result == "source":
        (a, b), cell = _learned_source(c)[0]
        first = (f"No, it learned the data source, not faces: trained against {a} (AUC {c.cells[(a, a)].mean:.3f} "
                 f"on them), it scores only {cell.mean:.3f} on {b}, never seen (< {DETECT_AUC}).")
    elif result == "neither":
        (a, b), cell = _failing(c)[0]
        first = (f"No, it separates nothing: trained against {a}, it fails even on {a} itself (AUC "
                 f"{c.cells[(a, a)].mean:.3f}) and on {b} ({cell.mean:.3f}), below {DETECT_AUC}.")
    else:
        (a, b), cell = next(item for item in ranked if cell_status(item[1]) == "open")
        first = (f"Not resolved: no cross-source AUC is surely below {DETECT_AUC}, but trained against {a}, tested "
                 f"on {b}, its spread straddles it (mean {cell.mean:.3f}, spread {cell.low:.3f}-{cell.high:.3f}).")
    share = source_share(c)
    cost = f"an unseen source costs {c.gap.mean:.3f} of its {c.within.mean - CHANCE_AUC:.3f} AUC above chance"
    second = {
        "source": f" Its within-source AUC mostly measures the source: {cost}.",
        "faces": f" Its within-source AUC mostly measures faces: {cost}.",
        "untold": f" Whether its within-source AUC mostly measures faces cannot be told: {cost}.",
        "no advantage": f" Even within a source it does not beat chance (AUC {c.within.mean:.3f}).",
    }[share]
    return first + second


def _shortcut_sentence(shortcut: MethodTransfer | None) -> str:
    if shortcut is None or not shortcut.pooled:
        return ""
    given_away = sorted(((s, cell) for s, cell in shortcut.pooled.items() if cell.mean >= CONFOUND_AUC),
                        key=lambda item: -item[1].mean)
    if not given_away:
        top = max(shortcut.pooled.values(), key=lambda cell: cell.mean)
        return (f" Trivial image statistics alone separate the faces from no source (shortcut AUC at most "
                f"{top.mean:.3f} when trained against all sources).")
    listed = ", ".join(f"{s} ({cell.mean:.3f})" for s, cell in given_away)
    return (f" Trivial image statistics alone separate the faces from {listed}, so a high AUC against "
            f"{'that source' if len(given_away) == 1 else 'those sources'} says little by itself.")


def _hard_negative_sentence(c: MethodTransfer) -> str:
    if SHIFTED_CROPS not in c.pooled:
        return ""
    cell = c.pooled[SHIFTED_CROPS]
    return (f" Against the hard negatives -- shifted crops of the same face images -- the classifier trained "
            f"against all sources reaches {_auc(cell)}.")


def _baseline_sentence(summary: TransferSummary) -> str:
    parts = []
    for name, label in ((RAW_PIXELS, "logistic regression on raw pixels"), (SHORTCUT, "the shortcut baseline")):
        method = summary.baselines.get(name)
        worst = method.worst_cross if method is not None else None
        if worst is not None:
            (a, b), cell = worst
            parts.append(f"{label} reaches a lowest cross-source AUC of {cell.mean:.3f} ({a} -> {b})")
    if summary.dffs:
        means = {s: cell.mean for s, cell in summary.dffs.items()}
        low = min(means, key=means.get)
        parts.append(f"the distance-from-face-space detector, trained on faces only, "
                     f"{min(means.values()):.3f}-{max(means.values()):.3f} across sources (lowest: {low})")
    if not parts:
        return ""
    text = "; ".join(parts)
    return f" For comparison, {text}."


def eigenfaces_verdict(summary: TransferSummary) -> str:
    """The verdict text for ``summary`` (module docstring)."""
    c = summary.classifier
    return (_answer_sentence(c, summary.level, summary.n_folds) + source_sentence(c)
            + _shortcut_sentence(summary.baselines.get(SHORTCUT)) + _hard_negative_sentence(c)
            + _baseline_sentence(summary))
