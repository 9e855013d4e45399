"""The raw values behind the tables and figures, for ``StudyResult.raw`` (plain JSON).

Kept, per condition: each held-out image's true edge-pixel count (summed over annotators), and for each
operator its choice on the tuning images (scale, threshold index and value, tuning F) and each held-out
image's counts at that threshold -- ``matched_detected`` and ``detected``, plus ``matched_true`` where it
differs from ``matched_detected`` (several annotators): with ``true_pixels`` these are the four
``matching.COUNT_COLUMNS``, and the held-out F is that of the counts summed over the images -- and Pratt's FOM
there; the family comparison (members, difference, interval, p-values); per panel the noise trend; per face
measurement, each face's agreement, and whether the faces are the fallback set; the bootstrap and permutation
settings. Not kept: the per-threshold sweeps (re-run with the recorded config and seed to get them) and no edge
maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlplayground.studies.edges.analysis import BenchmarkAnalysis, ConditionAnalysis, Resampling
from dlplayground.studies.edges.evaluation import FaceStability
from dlplayground.studies.edges.matching import COUNT_COLUMNS


def _condition_record(analysis: ConditionAnalysis) -> dict[str, Any]:
    c = analysis.condition
    any_score = next(iter(analysis.scores.values()))
    operators = {}
    for op, s in analysis.scores.items():
        operators[op] = {
            "sigma_px": s.sigma, "threshold_index": s.tuned.threshold_index, "threshold": s.tuned.threshold,
            "tuning_f": s.tuned.tuning_f, "matched_detected": s.counts[:, 0], "detected": s.counts[:, 1],
            "fom": s.fom_per_image,
        }
        if not np.array_equal(s.counts[:, 0], s.counts[:, 2]):
            operators[op]["matched_true"] = s.counts[:, 2]
    record: dict[str, Any] = {"kind": c.kind, "blur_px": c.blur_px, "noise": c.noise,
                              "true_pixels": any_score.counts[:, 3].tolist(), "operators": operators}
    if analysis.family is not None:
        f = analysis.family
        record["family"] = {"gradient": f.gradient, "laplacian": f.laplacian, "difference": f.difference.to_dict(),
                            "p": f.p_value, "p_holm": f.p_holm, "decision": f.decision}
    return record


def raw_record(analysis: BenchmarkAnalysis, stability: Sequence[FaceStability], synthetic: Resampling,
               faces: Resampling, face_fallback: bool) -> dict[str, Any]:
    """Per-image scores of every condition and face measurement, and how their intervals and tests were drawn."""
    return {
        "bootstrap": {
            "unit": "held-out image", "method": "percentile (dlplayground.stats.bootstrap)",
            "synthetic": synthetic.to_dict(), "faces": faces.to_dict(),
            "heldout_f": "counts summed over the resampled images at the threshold chosen on the tuning images",
            "family_difference": f"simultaneous level {analysis.comparison_level:g} (Bonferroni over the conditions)",
            "noise_trend": f"simultaneous level {analysis.trend_level:g} over the panels, paired by held-out scene",
        },
        "test": {"method": "paired permutation test, within-image swaps of the two members' counts, two-sided",
                 "permutations": synthetic.permutations, "multiplicity": "Holm over every condition compared",
                 "family_wise_alpha": synthetic.alpha},
        "count_columns": list(COUNT_COLUMNS),
        "conditions": [_condition_record(a) for a in analysis.conditions],
        "noise_trends": [{"kind": t.kind, "blur_px": t.blur_px, "low_noise": t.low_noise, "high_noise": t.high_noise,
                          "change": t.change.to_dict()} for t in analysis.trends],
        "face_data_fallback": face_fallback,
        "faces": [{"operator": s.operator, "sigma_px": s.sigma, "noise": s.noise, "agreement_f": s.per_image.tolist()}
                  for s in stability],
    }
