"""The raw values behind the tables and figures, for ``StudyResult.raw`` (plain JSON).

Kept: per condition, each image's true edge-pixel count, and for each operator at its best scale its ODS
threshold and each image's matched and detected counts and Pratt FOM there (an image's F is
``2 matched / (detected + true)``, with the empty-map conventions of ``scoring``; the counts, unlike F, can
be pooled over images); per face measurement, each face's agreement; the bootstrap settings. Not kept: the
full per-threshold sweeps and the sweeps at the other scales (tens of thousands of counts: re-run the study
with the recorded config and seed to get them), and no edge maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlplayground.studies.edges.analysis import ConditionAnalysis, Resampling
from dlplayground.studies.edges.evaluation import FaceStability


def _condition_record(analysis: ConditionAnalysis) -> dict[str, Any]:
    c = analysis.condition
    any_table = next(iter(analysis.scores.values())).table
    operators = {}
    for op, s in analysis.scores.items():
        at_ods = s.table.counts[:, s.ods_index]
        operators[op] = {
            "sigma_px": s.sigma, "ods_threshold_index": s.ods_index, "ods_threshold": s.table.thresholds[s.ods_index],
            "matched": at_ods[:, 0], "detected": at_ods[:, 1], "fom": s.fom_per_image,
        }
    return {"kind": c.kind, "blur_px": c.blur_px, "noise": c.noise, "true_pixels": any_table.counts[:, 0, 2],
            "operators": operators}


def raw_record(analyses: Sequence[ConditionAnalysis], stability: Sequence[FaceStability],
               synthetic: Resampling, faces: Resampling) -> dict[str, Any]:
    """Per-image scores of the synthetic benchmark and the faces, and how their intervals were drawn."""
    return {
        "bootstrap": {
            "unit": "image", "method": "percentile (dlplayground.stats.bootstrap)",
            "synthetic": synthetic.to_dict(), "faces": faces.to_dict(),
            "ods_f": "counts summed over the resampled images, threshold re-picked in every resample",
            "fom": "mean over the resampled images at the ODS threshold picked on all images",
            "paired": "intervals over one population share their resamples; differences are one statistic of "
                      "both operators' per-image values",
        },
        "synthetic": [_condition_record(a) for a in analyses],
        "faces": [{"operator": s.operator, "sigma_px": s.sigma, "noise": s.noise, "agreement_f": s.per_image}
                  for s in stability],
    }
