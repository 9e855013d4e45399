"""The verdict rule: which differences between models count, and the sentence that says so.

A difference counts as real only if it exceeds twice the larger seed spread of the two models and one
validation example (``1 / n_val`` of accuracy): below that, another seed or one post could flip it. The
baselines are deterministic (spread 0). With one seed there is no spread, so the strategy comparison is
reported as too thin to call.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlplayground.studies.gods.analysis import MAJORITY, TFIDF, ScoreSummary, longformer_name


def is_clear_difference(diff: float, sd_a: float, sd_b: float, n_val: int) -> bool:
    """A difference counts only beyond twice the seed spread and one validation example."""
    return abs(diff) > max(2 * max(sd_a, sd_b), 1.0 / n_val)


def imbalance_verdict(
    summaries: dict[str, ScoreSummary], strategies: Sequence[str], best: str, repeats: int, n_val: int,
    illustrative: bool,
) -> str:
    """The verdict: the best strategy against the baselines, then every strategy against ``none``."""
    b, tfidf, major = summaries[longformer_name(best)], summaries[TFIDF], summaries[MAJORITY]
    spread = f"sd {b.accuracy_sd:.3f} over {repeats} seeds" if repeats > 1 else "one seed, no spread estimate"
    parts = [
        f"Best Longformer setting '{best}': validation accuracy {b.accuracy:.3f} ({spread}), macro-F1 "
        f"{b.macro_f1:.3f}; TF-IDF + logistic regression {tfidf.accuracy:.3f} / {tfidf.macro_f1:.3f}; majority "
        f"class {major.accuracy:.3f} / {major.macro_f1:.3f}."
    ]
    diff = b.accuracy - tfidf.accuracy
    if is_clear_difference(diff, b.accuracy_sd, 0.0, n_val):
        parts.append("The Longformer beats the TF-IDF baseline." if diff > 0 else
                     f"The Longformer does NOT beat the TF-IDF baseline (accuracy {diff:+.3f}).")
    else:
        parts.append(f"The Longformer and the TF-IDF baseline are indistinguishable in accuracy ({diff:+.3f}).")
    f1_diff = b.macro_f1 - tfidf.macro_f1
    f1_call = "beyond" if is_clear_difference(f1_diff, b.macro_f1_sd, 0.0, n_val) else "within"
    parts.append(f"Macro-F1 against TF-IDF: {f1_diff:+.3f} ({f1_call} the noise threshold).")
    if not b.accuracy > major.accuracy + 1.0 / n_val:
        parts.append("It does NOT even beat predicting the majority class.")
    if "none" in strategies and len(strategies) > 1:
        base = summaries[longformer_name("none")]
        effects = []
        for s in strategies:
            if s == "none":
                continue
            other = summaries[longformer_name(s)]
            d = other.macro_f1 - base.macro_f1
            call = "clear" if is_clear_difference(d, other.macro_f1_sd, base.macro_f1_sd, n_val) else "within noise"
            effects.append(f"{s} {d:+.3f}" + (f" ({call})" if repeats > 1 else ""))
        judged = "" if repeats > 1 else " (one seed: too little to call any of these differences real)"
        parts.append("Macro-F1 against no correction: " + ", ".join(effects) + judged + ".")
    if illustrative:
        parts.append("Illustrative corpus: this shows the pipeline works, not how it scores on the competition data.")
    return " ".join(parts)
