"""The study's tables and headline metrics, as raw values (the report rounds when it renders).

Cells are numbers, operator labels, None (not applicable) or an interval as a ``[low, high]`` pair. The short
tables come first and the long per-condition ones last (the report folds tables of more than 30 rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlplayground.results import Table
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
from dlplayground.studies.edges.verdict import DECISION_WORDS, trend_phrase

MetricValue = float | int | str | list[float] | None


def interval_cell(interval: Interval) -> list[float]:
    """An interval as a table cell: ``[low, high]``."""
    return [interval.low, interval.high]


def _pct(level: float) -> str:
    return f"{100 * level:.3g}%"


def kind_summary_table(comparisons: Sequence[FamilyComparison]) -> Table:
    """Decisions per scene kind: the shape of the answer at a glance."""
    rows = []
    for kind in dict.fromkeys(c.condition.kind for c in comparisons):
        mine = [c for c in comparisons if c.condition.kind == kind]
        decisions = [c.decision for c in mine]
        differences = [c.difference.estimate for c in mine]
        rows.append([kind, len(mine), decisions.count(1), decisions.count(-1), decisions.count(0),
                     float(np.median(differences)), float(min(differences)), float(max(differences))])
    return Table("Gradient vs Laplacian per scene kind",
                 ["scene", "conditions", "gradient better", "Laplacian better", "unresolved", "median difference",
                  "smallest difference", "largest difference"], rows,
                 note="Held-out F of each family's member (chosen on the tuning images), gradient minus Laplacian; "
                      "decisions by the paired permutation test, Holm-corrected over all conditions (family-wise 5 %).")


def trend_table(trends: Sequence[NoiseTrend], level: float) -> Table:
    rows = [[t.kind, t.blur_px, t.low_noise, t.high_noise, t.low_difference, t.high_difference, t.change.estimate,
             interval_cell(t.change), trend_phrase(t)] for t in trends]
    return Table("Change of the difference with noise, per panel",
                 ["scene", "blur (px)", "low noise", "high noise", "difference at low noise",
                  "difference at high noise", "change", f"{_pct(level)} CI", "reading"], rows,
                 note="Difference = held-out F gradient minus Laplacian; the change is paired over the held-out scenes "
                      f"(each condition draws its own noise); {_pct(level)} = 95 % simultaneous over the panels.")


def face_family_table(families: Sequence[FaceFamilyComparison]) -> Table:
    rows = [[f.noise, operator_label(f.gradient.operator), f.gradient.sigma, f.gradient_agreement,
             operator_label(f.laplacian.operator), f.laplacian.sigma, f.laplacian_agreement, f.difference.estimate,
             interval_cell(f.difference)] for f in families]
    level = families[0].difference.level if families else 0.95
    return Table("Face stability: gradient vs Laplacian (held-out faces)",
                 ["noise", "gradient", "gradient sigma (px)", "gradient agreement", "Laplacian", "Laplacian sigma (px)",
                  "Laplacian agreement", "difference", f"{_pct(level)} CI"], rows,
                 note="Each family's operator and scale chosen on half the faces, compared on the other half; "
                      f"{_pct(level)} = 95 % simultaneous over the noise levels.")


def family_table(analysis: BenchmarkAnalysis) -> Table:
    rows = []
    for c in analysis.comparisons:
        cond, d = c.condition, c.difference
        rows.append([cond.kind, cond.blur_px, cond.noise, operator_label(c.gradient), c.gradient_sigma, c.gradient_f,
                     operator_label(c.laplacian), c.laplacian_sigma, c.laplacian_f, d.estimate, interval_cell(d),
                     c.p_value, c.p_holm, DECISION_WORDS[c.decision]])
    level = _pct(analysis.comparison_level)
    return Table("Gradient vs Laplacian per condition (held-out, Holm-corrected)",
                 ["scene", "blur (px)", "noise", "gradient", "gradient sigma (px)", "gradient F", "Laplacian",
                  "Laplacian sigma (px)", "Laplacian F", "difference", f"{level} CI",
                  "p", "Holm p", "decision"], rows,
                 note="Members, scales and thresholds chosen on the tuning images; F on the held-out images at those "
                      "thresholds. p: paired permutation test (within-image swaps); Holm p: adjusted over all "
                      f"conditions; CI: bootstrap over held-out images at the simultaneous level {level}.")


def winner_table(analyses: Sequence[ConditionAnalysis]) -> Table:
    rows = []
    for a in analyses:
        ranked = a.ranked
        win, second = ranked[0], (ranked[1] if len(ranked) > 1 else None)
        rows.append([a.condition.kind, a.condition.blur_px, a.condition.noise, operator_label(win.operator), win.sigma,
                     win.f, operator_label(second.operator) if second else None, second.f if second else None])
    return Table("Best operator per condition (held-out F)",
                 ["scene", "blur (px)", "noise", "best", "sigma (px)", "held-out F", "runner-up", "runner-up F"], rows,
                 note="Every operator, Canny and Scharr included; see the per-operator table for intervals.")


def operator_score_table(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig) -> Table:
    rows = []
    for a in analyses:
        c = a.condition
        for op, s in a.scores.items():
            p, r = s.precision_recall
            rows.append([c.kind, c.blur_px, c.noise, operator_label(op), s.sigma, s.tuned.threshold, s.tuned.tuning_f,
                         p, r, s.f, interval_cell(s.f_interval), s.ods_f, s.ois_f, s.ap,
                         s.fom_interval.estimate if s.fom_interval else None,
                         interval_cell(s.fom_interval) if s.fom_interval else None])
    note = (f"Scale and threshold chosen on {config.tune_images_per_kind} tuning images per kind; held-out scores on "
            f"{config.score_images_per_kind} other images. ODS/OIS/AP are the field's measures on the held-out images "
            "at the chosen scale (they pick thresholds on the images they score, by definition). Matching one-to-one "
            f"within {config.tolerance_px:g} px (BSDS: 0.0075 x diagonal, all annotators); FOM at the chosen threshold "
            "(not defined with several annotators).")
    return Table("Per operator: held-out F, ODS/OIS/AP, FOM",
                 ["scene", "blur (px)", "noise", "operator", "sigma (px)", "threshold", "tuning F", "held-out P",
                  "held-out R", "held-out F", "held-out F 95% CI", "ODS F", "OIS F", "AP", "FOM", "FOM 95% CI"], rows,
                 note=note)


def tuning_scale_table(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig) -> Table:
    rows = []
    for a in analyses:
        c = a.condition
        for sigma in dict.fromkeys(t.sigma for t in a.result.tuning):
            f = {t.operator: t.score.ods[2] for t in a.result.tuning if t.sigma == sigma}
            rows.append([c.kind, c.blur_px, c.noise, sigma, *[f.get(o) for o in config.operators]])
    return Table("Tuning images: ODS F per operator at each scale",
                 ["scene", "blur (px)", "noise", "sigma (px)", *[operator_label(o) for o in config.operators]], rows,
                 note="What the scale selection saw (in-sample on the tuning images): every operator at the same "
                      "Gaussian scale; sigma = 0 is the raw 3x3 kernels.")


def face_stability_table(agreements: Sequence[FaceAgreement], config: EdgeStudyConfig, face_source: str,
                         n_faces: int) -> Table:
    rows = [[operator_label(f.stability.operator), f.stability.sigma, f.stability.noise, f.interval.estimate,
             interval_cell(f.interval)] for f in agreements]
    return Table("Face stability under noise (all faces)", ["operator", "sigma (px)", "noise", "agreement F", "95% CI"],
                 rows, note=f"{face_source}; {n_faces} faces, {config.face_noise_draws} noise draw(s) each; every map "
                            f"keeps {config.face_edge_density:.0%} of the pixels.")


def headline_metrics(analysis: BenchmarkAnalysis, face_families: Sequence[FaceFamilyComparison],
                     config: EdgeStudyConfig, n_faces: int, face_fallback: bool) -> dict[str, MetricValue]:
    """The counts the verdict rests on, the size of the differences, the trends, BSDS and faces in a few numbers."""
    comparisons = analysis.comparisons
    decisions = [c.decision for c in comparisons]
    differences = [c.difference.estimate for c in comparisons]
    metrics: dict[str, MetricValue] = {
        "conditions_compared": len(comparisons), "conditions_gradient_better": decisions.count(1),
        "conditions_laplacian_better": decisions.count(-1), "conditions_unresolved": decisions.count(0),
        "median_heldout_f_difference": float(np.median(differences)) if differences else None,
        "mean_heldout_f_gradient": float(np.mean([c.gradient_f for c in comparisons])) if comparisons else None,
        "mean_heldout_f_laplacian": float(np.mean([c.laplacian_f for c in comparisons])) if comparisons else None,
        "noise_panels_rising": sum(t.direction > 0 for t in analysis.trends),
        "noise_panels_falling": sum(t.direction < 0 for t in analysis.trends),
        "noise_panels_unresolved": sum(t.direction == 0 for t in analysis.trends),
    }
    for c in comparisons:
        if c.condition.kind == BSDS_KIND:
            metrics["bsds_heldout_f_difference"] = c.difference.estimate
            metrics["bsds_holm_p"] = c.p_holm
    if face_families:
        face = face_families[len(face_families) // 2]
        metrics[f"face_agreement_difference_noise_{face.noise:g}"] = face.difference.estimate
    metrics.update({"images_per_kind_tuning": config.tune_images_per_kind,
                    "images_per_kind_held_out": config.score_images_per_kind, "face_images": n_faces,
                    "face_data_fallback": int(face_fallback)})
    return metrics
