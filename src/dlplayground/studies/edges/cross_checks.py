"""Cross-checks against scikit-image, run on every study run and reported as a table.

Our Canny reimplements ``skimage.feature.canny`` step by step (so one strength map serves a threshold sweep);
here it must reproduce scikit-image's maps pixel for pixel at the same thresholds. The other operators are
compared with scikit-image's Canny holding the same number of edge pixels: gradient + NMS maps should nearly
coincide with it (the same kind of detector), Laplacian zero-crossings less so.
"""

from __future__ import annotations

import numpy as np

from dlplayground.results import Table
from dlplayground.studies.edges.config import EdgeStudyConfig
from dlplayground.studies.edges.evaluation import Condition, config_condition_data, face_map
from dlplayground.studies.edges.matching import match_edges
from dlplayground.studies.edges.operators import CANNY_LOW_RATIO, edge_response, operator_label

CHECK_IMAGES = 4
"""Clean scenes the checks run on (the first of the run's first scene kind)."""


def skimage_cross_checks(config: EdgeStudyConfig) -> Table:
    """Our Canny vs skimage.feature.canny, and each operator's map vs skimage's Canny, on clean scenes."""
    from skimage.feature import canny

    images, truths = config_condition_data(Condition(config.scene_kinds[0], 0.0, config.noise_levels[0]), config)
    images = images[: min(CHECK_IMAGES, len(images))]
    sigma = config.display_sigma if config.display_sigma > 0 else 1.0
    mismatched = total = 0
    for im in images:
        ours = edge_response(im, "canny", sigma)
        for high in np.quantile(ours.strength[ours.strength > 0], [0.5, 0.8, 0.95]):
            ref = canny(im, sigma=sigma, low_threshold=CANNY_LOW_RATIO * high, high_threshold=high)
            mismatched += int((ours.edges(high) != ref).sum())
            total += ref.size
    rows: list[list[object]] = [
        ["our Canny vs skimage's Canny", sigma, mismatched, total, None]]
    for op in config.operators:
        if op == "canny":
            continue
        agreement = []
        for im, truth in zip(images, truths, strict=False):
            n = int(truth.sum())  # as many edge pixels as the image truly has
            high = edge_response(im, "canny", sigma).threshold_for_count(n)
            ref = canny(im, sigma=sigma, low_threshold=CANNY_LOW_RATIO * high, high_threshold=high)
            agreement.append(match_edges(face_map(im, op, sigma, int(ref.sum())), ref,
                                         config.tolerance_px).f_measure)
        rows.append([f"{operator_label(op)} vs skimage's Canny", sigma, None, None, float(np.mean(agreement))])
    return Table("Cross-checks against scikit-image",
                 ["check", "sigma (px)", "pixels differing", "pixels compared", "agreement F"], rows,
                 note=f"On {len(images)} {config.scene_kinds[0]} scenes without noise or blur. Our Canny must "
                 "reproduce skimage.feature.canny pixel for pixel at the same thresholds; the other maps are matched "
                 "one-to-one with scikit-image's Canny holding the same number of edge pixels, within "
                 f"{config.tolerance_px:g} px (agreement F): gradient + NMS maps should nearly coincide with it "
                 "(same kind of detector), Laplacian zero-crossings less so.")
