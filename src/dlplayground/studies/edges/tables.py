"""The study's tables and headline metrics, as raw values (the report rounds when it renders).

Cells are numbers, operator labels, None (not applicable) or an interval as a ``[low, high]`` pair.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlplayground.results import Table
from dlplayground.stats import Interval
from dlplayground.studies.edges.analysis import ConditionAnalysis, FaceAgreement, FaceFamilyComparison
from dlplayground.studies.edges.config import EdgeStudyConfig
from dlplayground.studies.edges.operators import operator_label
from dlplayground.studies.edges.verdict import FamilyTally

WINNER_NAMES = {1: "gradient", -1: "Laplacian", 0: "no clear winner"}
"""The family a paired interval of (gradient - Laplacian) points to, by its sign."""
MetricValue = float | int | str | list[float] | None


def interval_cell(interval: Interval) -> list[float]:
    """An interval as a table cell: ``[low, high]``."""
    return [interval.low, interval.high]


def family_table(analyses: Sequence[ConditionAnalysis]) -> Table:
    rows = []
    for a in analyses:
        if a.family is None:
            continue
        c, g, la, diff = a.condition, a.family.first, a.family.second, a.family.difference
        rows.append([c.kind, c.blur_px, c.noise, operator_label(g.operator), g.sigma, g.score.ods[2],
                     operator_label(la.operator), la.sigma, la.score.ods[2], diff.estimate, interval_cell(diff),
                     WINNER_NAMES[diff.sign]])
    return Table("Gradient vs Laplacian per condition",
                 ["scene", "blur (px)", "noise", "best gradient", "gradient sigma (px)", "best gradient F",
                  "best Laplacian", "Laplacian sigma (px)", "best Laplacian F", "difference", "95% CI", "winner"],
                 rows,
                 note="ODS F of the best operator of each family, each at its best scale; CI: paired bootstrap over "
                      "images (operator and scale chosen on all images, threshold re-picked in every resample).")


def winner_table(analyses: Sequence[ConditionAnalysis]) -> Table:
    rows = []
    for a in analyses:
        c, win = a.condition, a.ranked[0]
        second = a.ranked[1] if len(a.ranked) > 1 else None
        lead = a.lead.difference if a.lead is not None else None
        rows.append([c.kind, c.blur_px, c.noise, operator_label(win.operator), win.sigma, win.ods_f,
                     operator_label(second.operator) if second else None, lead.estimate if lead else None,
                     interval_cell(lead) if lead else None])
    return Table("Winner per condition", ["scene", "blur (px)", "noise", "winner", "sigma (px)", "ODS F",
                                          "runner-up", "F lead", "F lead 95% CI"], rows,
                 note="A lead whose CI includes 0 is not a resolved win.")


def operator_score_table(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig) -> Table:
    rows = []
    for a in analyses:
        c = a.condition
        for op, s in a.scores.items():
            p, r, f = s.ods
            rows.append([c.kind, c.blur_px, c.noise, operator_label(op), s.sigma, p, r, f,
                         interval_cell(s.ods_f_interval), s.ois_f, s.fom, interval_cell(s.fom_interval)])
    return Table("ODS/OIS/FOM per operator (best scale)",
                 ["scene", "blur (px)", "noise", "operator", "sigma (px)", "ODS P", "ODS R", "ODS F", "ODS F 95% CI",
                  "OIS F", "FOM", "FOM 95% CI"], rows,
                 note=f"Matching: one-to-one (maximum bipartite) within {config.tolerance_px:g} px; "
                      f"{config.n_thresholds} thresholds; {config.images_per_kind} images per condition; FOM at the "
                      "ODS threshold.")


def fom_table(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig) -> Table:
    rows = [[a.condition.kind, a.condition.blur_px, a.condition.noise, *[a.scores[o].fom for o in config.operators]]
            for a in analyses]
    return Table("Pratt's figure of merit (best scale, ODS threshold)",
                 ["scene", "blur (px)", "noise", *[operator_label(o) for o in config.operators]], rows)


def matched_scale_table(analyses: Sequence[ConditionAnalysis], config: EdgeStudyConfig) -> Table:
    rows = []
    for a in analyses:
        c = a.condition
        for m in a.matched_scales:
            diff = m.family.difference if m.family is not None else None
            rows.append([c.kind, c.blur_px, c.noise, m.sigma, *[m.ods_f.get(o) for o in config.operators],
                         diff.estimate if diff else None, interval_cell(diff) if diff else None])
    return Table("Matched scale: ODS F per operator at each sigma",
                 ["scene", "blur (px)", "noise", "sigma (px)", *[operator_label(o) for o in config.operators],
                  "gradient - Laplacian", "95% CI"], rows,
                 note="Every operator at the same Gaussian scale; sigma = 0 is the raw 3x3 kernels. The difference is "
                      "best gradient minus best Laplacian at that scale, with its paired bootstrap CI over images.")


def face_stability_table(agreements: Sequence[FaceAgreement], config: EdgeStudyConfig, face_source: str,
                         n_faces: int) -> Table:
    rows = [[operator_label(f.stability.operator), f.stability.sigma, f.stability.noise, f.interval.estimate,
             interval_cell(f.interval)] for f in agreements]
    return Table("Face stability under noise", ["operator", "sigma (px)", "noise", "agreement F", "95% CI"], rows,
                 note=f"{face_source}; {n_faces} faces, {config.face_noise_draws} noise draw(s) each; every map "
                      f"keeps {config.face_edge_density:.0%} of the pixels.")


def headline_metrics(tally: FamilyTally, face_families: Sequence[FaceFamilyComparison], config: EdgeStudyConfig,
                     n_faces: int, face_fallback: bool) -> dict[str, MetricValue]:
    """The counts the verdict rests on, the family means, and per-condition and per-noise gaps."""
    metrics: dict[str, MetricValue] = {
        "conditions": tally.conditions, "conditions_gradient_wins": tally.gradient_wins,
        "conditions_laplacian_wins": tally.laplacian_wins, "mean_ods_f_best_gradient": tally.mean_gradient_f,
        "mean_ods_f_best_laplacian": tally.mean_laplacian_f, "images_per_condition": config.images_per_kind,
        "tolerance_px": config.tolerance_px, "face_images": n_faces, "face_data_fallback": int(face_fallback),
    }
    for cond, comparison in tally.comparisons:
        if cond.blur_px == config.blur_levels_px[0]:
            metrics[f"ods_f_gradient_minus_laplacian_{cond.kind}_noise_{cond.noise:g}"] = comparison.difference.estimate
    for face in face_families:
        metrics[f"face_agreement_gradient_noise_{face.noise:g}"] = float(face.gradient.per_image.mean())
        metrics[f"face_agreement_laplacian_noise_{face.noise:g}"] = float(face.laplacian.per_image.mean())
    return metrics
