"""The verdict rule: which differences count, and the sentences that say so.

Every difference the verdict calls is a paired bootstrap interval over the held-out posts, drawn at the
simultaneous level of the family (``analysis.comparison_pairs``; ``stats.simultaneous_level``), so the
calls hold together at the run's ``--level``. A difference is called only when its interval excludes 0:

* accuracy, full-context Longformer minus TF-IDF: "beats" (interval above 0), "does NOT beat ... TF-IDF is
  better" (below), otherwise "indistinguishable"; macro-F1 the same way, in words "higher / lower / no
  measurable difference";
* long context: if no scored post is longer than the short budget, "cannot help on this data" (the twins
  would read identical tokens; the twin is not trained); otherwise full minus short in accuracy (and
  macro-F1): "helps" (above 0), "hurts" (below), "no measurable effect" (straddles 0);
* full-context Longformer minus the majority class in accuracy: unless the interval lies above 0, the text
  says it does NOT measurably beat the majority class;
* which imbalance strategy the inner selection chose, per fold (a count, not a claim);
* the illustrative corpus is named as such.

The precision/process sentence (``efficiency_sentence``) compares examples/s by blocks of steps: a
configuration is called faster (slower) than the fp32 single-process reference only if its slowest block
beats the reference's fastest (its fastest block trails the reference's slowest), the reference's band
taken over both of its measurements -- before and after every other cell -- so the machine's drift during
the table counts as noise; otherwise "not separable". The ratio is of the first measurements.

The answer (``study_answer``) is the same judgement in two sentences: the first says whether the Longformer
beats TF-IDF in held-out accuracy ("Yes" / "No" / "Not measurably", by the sign of the same interval), with a
caveat when it does not measurably beat the majority class; the second says what long context does (the same
call as above, or that it cannot matter) and, when the precision/process table ran, how the fastest other
configuration compares with fp32 in one process ("is fastest" when called faster, otherwise "nothing is
measurably faster" or "every configuration is slower").
"""

from __future__ import annotations

from collections.abc import Sequence

from dlplayground.stats import Interval
from dlplayground.studies.gods.analysis import Findings
from dlplayground.studies.gods.comparison import PairedComparison
from dlplayground.studies.gods.efficiency import EfficiencyRow
from dlplayground.studies.gods.runs import FULL, MAJORITY, SHORT, TFIDF


def _ci(interval: Interval) -> str:
    return f"[{interval.low:+.3f}, {interval.high:+.3f}]"


def _diff(c: PairedComparison) -> str:
    return f"{c.difference.estimate:+.3f} {_ci(c.difference)}"


def _score(findings: Findings, key: str) -> str:
    m = findings.models[key]
    return (f"{m.name} {m.accuracy.estimate:.3f} [{m.accuracy.low:.3f}, {m.accuracy.high:.3f}] / "
            f"{m.macro_f1.estimate:.3f}")


def _baseline_sentences(findings: Findings) -> list[str]:
    acc, f1 = findings.comparison(FULL, TFIDF, "accuracy"), findings.comparison(FULL, TFIDF, "macro_f1")
    out = []
    if acc is not None:
        level = f"{100 * acc.difference.level:.1f} % simultaneous intervals"
        if acc.difference.sign > 0:
            out.append(f"The Longformer beats TF-IDF in accuracy by {_diff(acc)} ({level}).")
        elif acc.difference.sign < 0:
            out.append(f"The Longformer does NOT beat TF-IDF: TF-IDF is better in accuracy, {_diff(acc)} ({level}).")
        else:
            out.append(f"The Longformer and TF-IDF are indistinguishable in accuracy, {_diff(acc)} ({level}).")
    if f1 is not None:
        word = {1: "higher", -1: "lower", 0: "no measurable difference"}[f1.difference.sign]
        out.append(f"Macro-F1, Longformer minus TF-IDF: {_diff(f1)} ({word}).")
    return out


def _context_sentences(findings: Findings) -> list[str]:
    lengths = findings.lengths
    if not lengths.context_can_matter:
        return [f"Long context cannot help on this data: no scored post is longer than {lengths.short_length} "
                f"tokens (the longest has {lengths.longest}), so a model truncated to {lengths.short_length} tokens "
                "reads exactly the same tokens; the short-context twin was not trained."]
    acc, f1 = findings.comparison(FULL, SHORT, "accuracy"), findings.comparison(FULL, SHORT, "macro_f1")
    share = (f"{100 * lengths.share_beyond_short:.0f} % of the scored posts ({lengths.beyond_short}) are longer than "
             f"{lengths.short_length} tokens (longest {lengths.longest})")
    if acc is None or f1 is None:
        return [f"{share}; the short-context comparison is missing."]
    word = {1: "helps", -1: "hurts", 0: "has no measurable effect"}[acc.difference.sign]
    return [f"{share}. Reading up to {lengths.full_length} instead of {lengths.short_length} tokens {word} in "
            f"accuracy: {_diff(acc)}; macro-F1 {_diff(f1)}."]


def _selection_sentence(findings: Findings) -> str:
    counts = findings.chosen_strategies()
    parts = ", ".join(f"{strategy} in {n}" for strategy, n in counts.most_common())
    folds = "the one development set" if findings.folds == 1 else f"{findings.folds} folds"
    return f"Imbalance handling chosen on the inner validation posts ({folds}): {parts}."


def comparison_verdict(findings: Findings) -> str:
    """The verdict on the held-out comparison (module docstring)."""
    where = (f"{findings.n} held-out posts" if findings.folds == 1
             else f"{findings.n} posts, each held out once in {findings.folds}-fold cross-validation")
    scored = [_score(findings, k) for k in (FULL, SHORT, TFIDF, MAJORITY) if k in findings.models]
    parts = [f"Held out ({where}), accuracy [interval] / macro-F1: " + "; ".join(scored) + "."]
    parts += _baseline_sentences(findings)
    parts += _context_sentences(findings)
    majority = findings.comparison(FULL, MAJORITY, "accuracy")
    if majority is not None and majority.difference.sign <= 0:
        parts.append(f"The Longformer does NOT measurably beat predicting the majority class ({_diff(majority)}).")
    parts.append(_selection_sentence(findings))
    if findings.illustrative:
        parts.append("Illustrative corpus written for this project: this shows the method works, not how the models "
                     "score on the competition data.")
    return " ".join(parts)


def speed_call(row: EfficiencyRow, reference: EfficiencyRow) -> tuple[float, str]:
    """``row``'s examples/s as a multiple of the reference's, and "faster" / "slower" / "not separable"."""
    ratio = row.examples_per_s / reference.examples_per_s
    low, high = row.speed_band
    ref_low, ref_high = reference.speed_band
    return ratio, "faster" if low > ref_high else "slower" if high < ref_low else "not separable"


def _speed_call(row: EfficiencyRow, reference: EfficiencyRow) -> str:
    ratio, word = speed_call(row, reference)
    return f"{ratio:.2f}x ({word})"


def speed_reference(rows: Sequence[EfficiencyRow]) -> EfficiencyRow | None:
    """The measured fp32 single-process cell every speed is compared with, if it ran."""
    return next((r for r in rows if r.measured and r.precision == "fp32" and r.world_size == 1), None)


def fastest_other(rows: Sequence[EfficiencyRow]) -> EfficiencyRow | None:
    """The measured cell with the most examples/s apart from the reference (the one the answer names)."""
    reference = speed_reference(rows)
    others = [r for r in rows if r.measured and r is not reference]
    return max(others, key=lambda r: r.examples_per_s) if reference is not None and others else None


def efficiency_sentence(rows: Sequence[EfficiencyRow]) -> str:
    """One sentence on speed against the fp32 single-process reference (module docstring); '' without rows."""
    done = [r for r in rows if r.measured]
    reference = speed_reference(rows)
    if reference is None:
        failed = [r.label for r in rows if r.failed]
        return (f"Precision/process table: the fp32 single-process reference did not run (failed: {', '.join(failed)})."
                if failed else "")
    others = [f"{r.label} {_speed_call(r, reference)}" for r in done if r is not reference]
    failed = [r.label for r in rows if r.failed]
    again = (f", {reference.remeasured_examples_per_s:.0f} re-measured last"
             if reference.remeasured_block_examples_per_s else "")
    text = (f"Speed against fp32 in one process ({reference.examples_per_s:.0f} examples/s{again}, on "
            f"{reference.device}): " + ("; ".join(others) if others else "no other configuration ran") + ".")
    if failed:
        text += f" Failed: {', '.join(failed)}."
    return text


# ------------------------------------------------------------------------------------------------ answer
def _points(interval: Interval, *, signed: bool = True) -> str:
    """A difference of fractions in percentage points."""
    value = 100 * interval.estimate
    return f"{value:+.1f} points" if signed else f"{abs(value):.1f} points"


def _baseline_answer(findings: Findings) -> str:
    acc = findings.comparison(FULL, TFIDF, "accuracy")
    if acc is None:
        return "The Longformer was not compared with TF-IDF."
    full, tfidf = (f"{100 * findings.models[k].accuracy.estimate:.1f} %" for k in (FULL, TFIDF))
    d = acc.difference
    margin = _points(d, signed=False)
    if d.sign > 0:
        text = f"Yes: the Longformer's accuracy ({full}) beats TF-IDF's ({tfidf}) by {margin}"
    elif d.sign < 0:
        text = f"No: TF-IDF's accuracy ({tfidf}) beats the Longformer's ({full}) by {margin}"
    else:
        text = (f"Not measurably: the Longformer's accuracy ({full}) and TF-IDF's ({tfidf}) differ by "
                f"{_points(d)}, within sampling error")
    majority = findings.comparison(FULL, MAJORITY, "accuracy")
    if majority is not None and majority.difference.sign <= 0:
        text += ", and the Longformer does not measurably beat the majority class"
    return text + "."


def _context_answer(findings: Findings) -> str:
    lengths = findings.lengths
    if not lengths.context_can_matter:
        return f"Long context cannot matter here (no post exceeds {lengths.short_length} tokens)"
    acc = findings.comparison(FULL, SHORT, "accuracy")
    if acc is None:
        return "The short-context comparison is missing"
    word = {1: "helps", -1: "hurts", 0: "has no measurable effect"}[acc.difference.sign]
    share = f"{100 * lengths.share_beyond_short:.0f} % of posts exceed {lengths.short_length} tokens"
    context = f"Long context ({lengths.full_length} vs {lengths.short_length} tokens)"
    return f"{context} {word} ({_points(acc.difference)}; {share})"


def _speed_answer(rows: Sequence[EfficiencyRow]) -> str:
    reference, best = speed_reference(rows), fastest_other(rows)
    if reference is None or best is None:
        return ""
    ratio, word = speed_call(best, reference)
    if word == "faster":
        return f"{best.label} is fastest ({ratio:.2f}x fp32 in one process)"
    lead = "every other configuration is slower than" if word == "slower" else "nothing is measurably faster than"
    return f"{lead} fp32 in one process (best {best.label}: {ratio:.2f}x)"


def study_answer(findings: Findings, efficiency: Sequence[EfficiencyRow] = ()) -> str:
    """The two-sentence answer (module docstring): the same calls as the verdict, from the same intervals."""
    second = "; ".join(t for t in (_context_answer(findings), _speed_answer(efficiency)) if t)
    return f"{_baseline_answer(findings)} {second}."
