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


def _speed_call(row: EfficiencyRow, reference: EfficiencyRow) -> str:
    ratio = row.examples_per_s / reference.examples_per_s
    low, high = row.speed_band
    ref_low, ref_high = reference.speed_band
    word = "faster" if low > ref_high else "slower" if high < ref_low else "not separable"
    return f"{ratio:.2f}x ({word})"


def efficiency_sentence(rows: Sequence[EfficiencyRow]) -> str:
    """One sentence on speed against the fp32 single-process reference (module docstring); '' without rows."""
    done = [r for r in rows if r.measured]
    reference = next((r for r in done if r.precision == "fp32" and r.world_size == 1), None)
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
