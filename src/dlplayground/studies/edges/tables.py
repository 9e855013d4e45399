"""The study's tables and headline metrics, as raw values (the report rounds when it renders).

Cells are numbers, operator labels, short class words, None (not applicable) or an interval as a ``[low, high]``
pair; what a column means is said in the table's note, not in its cells. Every table keeps to seven columns or
fewer, so it fits a report page: a wide one is split in two or three, each repeating the condition's columns. The
short tables come first and the long per-condition ones last (the report folds tables of more than 30 rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlplayground.results import Metrics, Table
from dlplayground.stats import Interval
from dlplayground.studies.edges.analysis import (
    BenchmarkAnalysis,
    ConditionAnalysis,
    FaceAgreement,
    FaceFamilyComparison,
    FamilyComparison,
    NoiseTrend,
)
from dlplayground.studies.edges.bsds_arm import BSDS_KIND
from dlplayground.studies.edges.config import EdgeStudyConfig
from dlplayground.studies.edges.operators import operator_label
from dlplayground.studies.edges.verdict import DECISION_WORDS, trend_short

OPERATORS_PER_TUNING_TABLE = 3
"""The tuning sweep is split into tables of this many operators, so each stays within seven columns."""
CONDITION = ["scene", "blur (px)", "noise"]
"""The columns naming a condition, first in every per-condition table."""


def interval_cell(interval: Interval) -> list[float]:
    """An interval as a table cell: ``[low, high]``."""
    return [interval.low, interval.high]


def _pct(level: float) -> str:
    return f"{100 * level:.3g}%"


def _condition(analysis: ConditionAnalysis | FamilyComparison) -> list[object]:
    c = analysis.condition
    return [c.kind, c.blur_px, c.noise]


def kind_summary_table(comparisons: Sequence[FamilyComparison]) -> Table:
    """Decisions per scene kind: the shape of the answer at a glance."""
    rows = []
    for kind in dict.fromkeys(c.condition.kind for c in comparisons):
        mine = [c for c in comparisons if c.condition.kind == kind]
        decisions = [c.decision for c in mine]
        differences = [c.difference.estimate for c in mine]
        rows.append([kind, decisions.count(1), decisions.count(-1), decisions.count(0),
                     float(np.median(differences)), float(min(differences)), float(max(differences))])
    return Table("Gradient vs Laplacian per scene kind",
                 ["scene", "gradient better", "Laplacian better", "unresolved", "median diff.", "smallest diff.",
                  "largest diff."], rows,
                 note="Counts of conditions (blur x noise) by decision: paired permutation test, Holm-corrected over "
                      "all conditions (family-wise 5 %). Diff. = held-out F of each family's member (chosen on the "
                      "tuning images), gradient minus Laplacian.")


def _noise_span(trends: Sequence[NoiseTrend]) -> str:
    lows, highs = sorted({t.low_noise for t in trends}), sorted({t.high_noise for t in trends})
    if len(lows) == len(highs) == 1:
        return f"low noise = {lows[0]:g}, high noise = {highs[0]:g}"
    return "low / high noise = each panel's lowest / highest level (result.json raw: noise_trends)"


def trend_table(trends: Sequence[NoiseTrend], level: float) -> Table:
    rows = [[t.kind, t.blur_px, t.low_difference, t.high_difference, t.change.estimate, interval_cell(t.change),
             trend_short(t)] for t in trends]
    return Table("Change of the difference with noise, per panel",
                 ["scene", "blur (px)", "diff. low noise", "diff. high noise", "change", f"{_pct(level)} CI",
                  "reading"], rows,
                 note=f"Diff. = held-out F gradient minus Laplacian ({_noise_span(trends)}); the change (high minus "
                      "low) is paired over the held-out scenes (each condition draws its own noise); "
                      f"{_pct(level)} = 95 % simultaneous over the panels. Reading: the verdict's class of the panel, "
                      "from the change interval and the Holm-corrected decisions at the two ends (a lead is a resolved "
                      "decision).")


def face_family_tables(families: Sequence[FaceFamilyComparison]) -> list[Table]:
    """The out-of-sample face comparison, and what each family chose on the tuning half."""
    level = families[0].difference.level if families else 0.95
    compared = Table("Face stability: gradient vs Laplacian (held-out faces)",
                     ["noise", "gradient F", "Laplacian F", "difference", f"{_pct(level)} CI"],
                     [[f.noise, f.gradient_agreement, f.laplacian_agreement, f.difference.estimate,
                       interval_cell(f.difference)] for f in families],
                     note="Agreement F of each family's map on a noisy copy with its map on the clean face, mean over "
                          "the held-out half of the faces; difference gradient minus Laplacian, "
                          f"{_pct(level)} = 95 % simultaneous over the noise levels.")
    chosen = Table("Face stability: each family's choice (tuning faces)",
                   ["noise", "gradient", "gradient sigma (px)", "Laplacian", "Laplacian sigma (px)"],
                   [[f.noise, operator_label(f.gradient.operator), f.gradient.sigma,
                     operator_label(f.laplacian.operator), f.laplacian.sigma] for f in families],
                   note="The operator and scale of each family with the best mean agreement on the other half of the "
                        "faces (even positions), never scored there.")
    return [compared, chosen]


def family_table(analysis: BenchmarkAnalysis) -> Table:
    rows = [[*_condition(c), c.difference.estimate, interval_cell(c.difference), c.p_holm, DECISION_WORDS[c.decision]]
            for c in analysis.comparisons]
    level = _pct(analysis.comparison_level)
    alpha = analysis.comparisons[0].alpha if analysis.comparisons else 0.05
    return Table("Gradient vs Laplacian per condition (held-out, Holm-corrected)",
                 [*CONDITION, "difference", f"{level} CI", "Holm p", "decision"], rows,
                 note="Difference = held-out F of the gradient member minus the Laplacian member (the next table). "
                      "Holm p: paired permutation test (within-image swaps), adjusted over all conditions; decision at "
                      f"Holm p < {alpha:g}. CI: bootstrap over held-out images at the simultaneous level {level}. The "
                      "unadjusted p is in result.json (raw: conditions[].family.p).")


def member_table(analysis: BenchmarkAnalysis) -> Table:
    rows = []
    for c in analysis.comparisons:
        rows.append([*_condition(c), "gradient", operator_label(c.gradient), c.gradient_sigma, c.gradient_f])
        rows.append([*_condition(c), "Laplacian", operator_label(c.laplacian), c.laplacian_sigma, c.laplacian_f])
    return Table("Family members per condition", [*CONDITION, "family", "member", "sigma (px)", "held-out F"], rows,
                 note="Each family's member, scale and threshold chosen on the tuning images; F on the held-out images "
                      "at that threshold.")


def winner_table(analyses: Sequence[ConditionAnalysis]) -> Table:
    rows = []
    for a in analyses:
        ranked = a.ranked
        win, second = ranked[0], (ranked[1] if len(ranked) > 1 else None)
        rows.append([*_condition(a), operator_label(win.operator), win.f,
                     operator_label(second.operator) if second else None, second.f if second else None])
    return Table("Best operator per condition (held-out F)",
                 [*CONDITION, "best", "held-out F", "runner-up", "runner-up F"], rows,
                 note="Every operator, Canny and Scharr included, at its chosen scale; scales and intervals are in the "
                      "per-operator tables.")


def operator_score_tables(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig) -> list[Table]:
    """Every operator on every condition, in three tables: the primary score, the field's measures, P/R and FOM."""
    primary, field, detail = [], [], []
    for a in analyses:
        for op, s in a.scores.items():
            key = [*_condition(a), operator_label(op)]
            p, r = s.precision_recall
            primary.append([*key, s.sigma, s.f, interval_cell(s.f_interval)])
            field.append([*key, s.ods_f, s.ois_f, s.ap])
            detail.append([*key, p, r, s.fom_interval.estimate if s.fom_interval else None])
    chosen = (f"scale and threshold chosen on {config.tune_images_per_kind} tuning images per kind, scored on "
              f"{config.score_images_per_kind} other images")
    matching = (f"matching one-to-one within {config.tolerance_px:g} px (BSDS: 0.0075 x diagonal, all annotators)")
    return [
        Table("Per operator: held-out F", [*CONDITION, "operator", "sigma (px)", "held-out F", "95% CI"], primary,
              note=f"The primary score: {chosen}; {matching}; 95 % bootstrap over the held-out images. The chosen "
                   "threshold and the tuning F are in result.json (raw: conditions[].operators)."),
        Table("Per operator: ODS F, OIS F and AP", [*CONDITION, "operator", "ODS F", "OIS F", "AP"], field,
              note="The field's measures on the held-out images at the chosen scale; they pick their thresholds on the "
                   "images they score, by definition (ODS one for the set, OIS one per image)."),
        Table("Per operator: precision, recall and FOM", [*CONDITION, "operator", "precision", "recall", "FOM"], detail,
              note=f"Held-out precision and recall at the chosen threshold ({matching}); Pratt's FOM there, mean over "
                   "the held-out images (not defined with several annotators; its 95 % CIs are in the FOM figure)."),
    ]


def tuning_scale_tables(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig) -> list[Table]:
    """What the scale selection saw, split so that each table holds at most three operators."""
    chunks = [config.operators[i:i + OPERATORS_PER_TUNING_TABLE]
              for i in range(0, len(config.operators), OPERATORS_PER_TUNING_TABLE)]
    tables = []
    for chunk in chunks:
        rows = []
        for a in analyses:
            for sigma in dict.fromkeys(t.sigma for t in a.result.tuning):
                f = {t.operator: t.score.ods[2] for t in a.result.tuning if t.sigma == sigma}
                rows.append([*_condition(a), sigma, *[f.get(o) for o in chunk]])
        names = [operator_label(o) for o in chunk]
        tables.append(Table(f"Tuning images: ODS F per scale ({', '.join(names)})",
                            [*CONDITION, "sigma (px)", *names], rows,
                            note="What the scale selection saw (in-sample on the tuning images): every operator at the "
                                 "same Gaussian scale; sigma = 0 is the raw 3x3 kernels; a dash where the operator "
                                 "needs sigma > 0."))
    return tables


def face_stability_table(agreements: Sequence[FaceAgreement], config: EdgeStudyConfig, face_source: str,
                         n_faces: int) -> Table:
    rows = [[operator_label(f.stability.operator), f.stability.sigma, f.stability.noise, f.interval.estimate,
             interval_cell(f.interval)] for f in agreements]
    return Table("Face stability under noise (all faces)", ["operator", "sigma (px)", "noise", "agreement F", "95% CI"],
                 rows, note=f"{face_source}; {n_faces} faces, {config.face_noise_draws} noise draw(s) each; every map "
                            f"keeps {config.face_edge_density:.0%} of the pixels.")


def headline_metrics(analysis: BenchmarkAnalysis, face_families: Sequence[FaceFamilyComparison],
                     config: EdgeStudyConfig, n_faces: int) -> Metrics:
    """The counts the verdict rests on, the size of the differences, the trends, BSDS and faces, each labelled.

    Key numbers (the report's compact table): the three decision counts, the median difference, and where they
    exist BSDS's difference and the face-stability difference -- what the answer is written from.
    """
    comparisons = analysis.comparisons
    decisions = [c.decision for c in comparisons]
    differences = [c.difference.estimate for c in comparisons]
    holm = "Holm-corrected, family-wise 5 %"
    m = Metrics()
    bsds = [c for c in comparisons if c.condition.kind == BSDS_KIND]
    compared = "Conditions compared (scene kind x blur x noise" + (f", and {BSDS_KIND})" if bsds else ")")
    m.add("conditions_compared", len(comparisons), compared, unit="conditions")
    m.add("conditions_gradient_better", decisions.count(1), f"Gradient + NMS better ({holm})", unit="conditions",
          key_number=True)
    m.add("conditions_laplacian_better", decisions.count(-1), f"Laplacian zero-crossings better ({holm})",
          unit="conditions", key_number=True)
    m.add("conditions_unresolved", decisions.count(0), "No resolved difference", unit="conditions", key_number=True)
    m.add("median_heldout_f_difference", float(np.median(differences)) if differences else None,
          "Median held-out F difference over the conditions, gradient minus Laplacian", key_number=True)
    m.add("mean_heldout_f_gradient", float(np.mean([c.gradient_f for c in comparisons])) if comparisons else None,
          "Mean held-out F of the gradient member over the conditions")
    m.add("mean_heldout_f_laplacian", float(np.mean([c.laplacian_f for c in comparisons])) if comparisons else None,
          "Mean held-out F of the Laplacian member over the conditions")
    panels = "Panels (scene kind x blur) whose difference"
    m.add("noise_panels_rising", sum(t.direction > 0 for t in analysis.trends),
          f"{panels} moves towards the gradient as noise grows", unit="panels")
    m.add("noise_panels_falling", sum(t.direction < 0 for t in analysis.trends),
          f"{panels} moves towards the Laplacian as noise grows", unit="panels")
    m.add("noise_panels_unresolved", sum(t.direction == 0 for t in analysis.trends),
          f"{panels} shows no resolved change with noise", unit="panels")
    for c in bsds:
        d = c.difference
        m.add("bsds_heldout_f_difference", d.estimate,
              f"{BSDS_KIND} held-out F difference, gradient minus Laplacian ({_pct(d.level)} simultaneous CI)",
              ci=(d.low, d.high), key_number=True)
        m.add("bsds_holm_p", c.p_holm, f"{BSDS_KIND} paired permutation test, Holm-adjusted p")
    if face_families:
        face = face_families[len(face_families) // 2]  # the verdict's: the middle face noise level
        d = face.difference
        m.add("face_agreement_difference", d.estimate,
              f"Face-map stability at noise {face.noise:g}, agreement F gradient minus Laplacian (held-out faces, "
              f"{_pct(d.level)} simultaneous CI)", ci=(d.low, d.high), key_number=True)
    m.add("images_per_kind_tuning", config.tune_images_per_kind, "Tuning images per scene kind", unit="images")
    m.add("images_per_kind_held_out", config.score_images_per_kind, "Held-out (scored) images per scene kind",
          unit="images")
    m.add("face_images", n_faces, "Real faces measured for stability", unit="faces")
    return m
