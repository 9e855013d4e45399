"""Is the Laplacian a better edge detector than the gradient? Measured against ground truth.

The question
------------
The seed claims the Laplacian is superior to the gradient for edge detection, shown by eye on the Olivetti
faces. This study puts numbers on it: where the true edges are known, which operator finds them (and only
them), and how does that change with noise and blur? Where they are not known (real faces), whose edge
map survives noise?

The method
----------
1. **Operators at a matched scale** (``operators``): gradient magnitude with non-maximum suppression --
   Sobel, Scharr (3x3, after Gaussian pre-smoothing of width sigma) and the derivative of Gaussian (DoG)
   -- against Laplacian zero-crossings -- the plain 3x3 Laplacian (after the same pre-smoothing) and the
   Laplacian of Gaussian (LoG); scikit-image's Canny as the reference. sigma is the same Gaussian for every
   operator (``--sigmas``, default 0, 1, 2, 3 px; sigma = 0 runs the raw 3x3 kernels only). Filters come
   from scipy.ndimage / scikit-image; our Canny is checked pixel for pixel against ``skimage.feature.canny``
   in the "Cross-checks" table (``cross_checks``).
2. **Ground truth** (``scenes``, ``evaluation``): ``--images-per-kind`` synthetic images of two kinds,
   random shapes and cartoon faces (head, hair, eyes, brows, nose, mouth, with a smooth illumination
   ramp), anti-aliased so edges sit at sub-pixel positions. Every image is degraded at each
   ``--blur-levels`` Gaussian blur and each ``--noise-levels`` additive Gaussian noise (grey levels on a
   0-1 scale; the same noise field scaled, so noise levels are paired).
3. **Scoring** (``scoring``, ``analysis``): each operator's strength map (NMS magnitude; zero-crossing
   slope; Canny's high hysteresis threshold) is swept over a threshold grid of pooled strength quantiles.
   Detections and true edge pixels are paired one-to-one within ``--tolerance-px`` (a maximum bipartite
   matching, so a thick map gets no free recall); precision, recall and F give ODS (one threshold per
   dataset) and OIS (one per image), as in the Berkeley benchmark, and Pratt's figure of merit (FOM) is
   taken at the ODS threshold. Each operator's scale is the one with the best ODS F on all images; 95 %
   confidence intervals are percentile bootstraps over images (``dlplayground.stats.bootstrap``,
   ``--bootstrap`` resamples; the ODS threshold re-picked in every resample), and operator comparisons are
   paired (one statistic of both operators on the same resampled images).
4. **Faces** (``--olivetti PATH``, else scikit-image's ``lfw_subset`` faces, announced): no ground truth, so
   we measure stability. Each operator's threshold is set so the map keeps a fixed share of the pixels
   (``--face-edge-density``, the same on clean and noisy copies); the agreement is the F-measure of the
   noisy map matched to the clean one (1 = unchanged by noise).

How to read the result
----------------------
"Gradient vs Laplacian" gives, per condition (scene kind, blur, noise), the best gradient operator's ODS F,
the best Laplacian operator's, and the paired 95 % CI of the difference: a CI above 0 means the gradient
wins there, below 0 the Laplacian. "Winner per condition" names the single best operator (Canny
included). "ODS/OIS/FOM" has every number; "Matched scale" compares the families at each sigma, so no
operator profits from a scale the other was denied. "Face stability" ranks the operators on real faces.
The verdict (``verdict``) counts the conditions each way. Figures (``figures``): example edge maps, F and
FOM against noise, and face edge maps with their stability curves. ``result.json`` keeps the per-image
scores behind every number and the bootstrap settings under ``raw`` (``records``).

Module names above are inside ``dlplayground.studies.edges``; tables and headline metrics are built in
``tables``, the config and its defaults live in ``config``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from dlplayground.data.olivetti import load_face_images
from dlplayground.errors import UserInputError
from dlplayground.progress import progress
from dlplayground.results import Figure, StudyResult
from dlplayground.studies.edges.analysis import Resampling, analyse_benchmark, analyse_faces
from dlplayground.studies.edges.config import CI_LEVEL, FULL_DEFAULTS, QUICK_DEFAULTS, EdgeStudyConfig
from dlplayground.studies.edges.cross_checks import skimage_cross_checks
from dlplayground.studies.edges.evaluation import TaskRunner, measure_face_stability, score_benchmark, select_faces
from dlplayground.studies.edges.figures import (
    figure_examples,
    figure_face_edges,
    figure_face_stability,
    figure_vs_noise,
)
from dlplayground.studies.edges.operators import OPERATORS
from dlplayground.studies.edges.records import raw_record
from dlplayground.studies.edges.scoring import DEFAULT_TOLERANCE_PX
from dlplayground.studies.edges.tables import (
    face_stability_table,
    family_table,
    fom_table,
    headline_metrics,
    matched_scale_table,
    operator_score_table,
    winner_table,
)
from dlplayground.studies.edges.verdict import edge_verdict, tally_families
from dlplayground.studies.runner import common_parser, common_values, run_study

STUDY = "edge_operators"
QUESTION = ("Is the Laplacian (zero-crossings) a better edge detector than the gradient (magnitude + NMS), "
            "judged against ground truth on synthetic images and by stability under noise on real faces?")
FACE_SEED_OFFSET = 1
"""The faces' bootstrap seed is the study seed + 1: a population of its own, drawn independently."""


# ------------------------------------------------------------------------------------------ config
def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__)
    data = parser.add_argument_group("data")
    data.add_argument("--olivetti", type=Path, default=None, metavar="PATH",
                      help="scikit-learn's olivetti_py3.pkz, or the data home holding it (default: look in "
                           "scikit-learn's data home, else use scikit-image's lfw_subset faces; never downloads)")
    grid = parser.add_argument_group("grid (comma-separated lists override the defaults; --quick shrinks them)")
    grid.add_argument("--operators", default=None, help=f"subset of {', '.join(OPERATORS)} (default all)")
    grid.add_argument("--sigmas", default=None, help="matched Gaussian scales in px (default 0,1,2,3)")
    grid.add_argument("--noise-levels", default=None, help="additive noise sigmas (default 0,0.02,0.05,0.1,0.2)")
    grid.add_argument("--blur-levels", default=None, help="blur sigmas in px before the noise (default 0,1)")
    grid.add_argument("--images-per-kind", type=int, default=None, help="synthetic images per kind (default 30)")
    grid.add_argument("--thresholds", type=int, default=None, help="thresholds per sweep (default 30)")
    grid.add_argument("--tolerance-px", type=float, default=None,
                      help=f"matching radius in px (default {DEFAULT_TOLERANCE_PX})")
    grid.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples (default 1000)")
    grid.add_argument("--face-images", type=int, default=None, help="real faces for stability (default 100)")
    grid.add_argument("--face-noise-levels", default=None, help="noise on faces (default 0.02,0.05,0.1)")
    grid.add_argument("--face-sigmas", default=None, help="scales on faces in px (default 0,1,2)")
    grid.add_argument("--face-edge-density", type=float, default=None,
                      help="share of pixels kept as edges on each face map (default 0.08)")
    grid.add_argument("--workers", type=int, default=None, help="processes for the benchmark (default min(2, CPUs))")
    return parser


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserInputError(f"{flag}: expected comma-separated numbers, got {text!r}") from None


def resolve(args: argparse.Namespace) -> EdgeStudyConfig:
    """The run's config: --quick's or the full defaults, overridden by every flag given explicitly."""
    values = dict(QUICK_DEFAULTS) if args.quick else {**FULL_DEFAULTS, "workers": min(2, os.cpu_count() or 1)}
    for flag, field in (("sigmas", "sigmas_px"), ("noise_levels", "noise_levels"), ("blur_levels", "blur_levels_px"),
                        ("face_noise_levels", "face_noise_levels"), ("face_sigmas", "face_sigmas_px")):
        text = getattr(args, flag)
        if text is not None:
            values[field] = _floats(text, "--" + flag.replace("_", "-"))
    if args.operators is not None:
        values["operators"] = tuple(v.strip() for v in args.operators.split(",") if v.strip())
    for flag, field in (("images_per_kind", "images_per_kind"), ("face_images", "face_images"),
                        ("thresholds", "n_thresholds"), ("bootstrap", "bootstrap_resamples"), ("workers", "workers"),
                        ("tolerance_px", "tolerance_px"), ("face_edge_density", "face_edge_density")):
        value = getattr(args, flag)
        if value is not None:
            values[field] = value
    return EdgeStudyConfig(**common_values(args, STUDY), olivetti=args.olivetti, **values)


# -------------------------------------------------------------------------------------------- body
def body(config: EdgeStudyConfig, out: Path) -> StudyResult:
    faces = load_face_images(config.olivetti)  # validate data before the long work
    face_stack = select_faces(faces, config.face_images)
    progress(f"faces: {faces.source}")

    # 1-2. score every condition and every face measurement (a process pool when workers > 1)
    with TaskRunner(config.workers) as runner:
        results = score_benchmark(config, runner)
        stability = measure_face_stability(face_stack, config, runner)

    # 3. best scales, paired comparisons and bootstrap intervals over images
    synthetic = Resampling(config.bootstrap_resamples, CI_LEVEL, config.seed)
    face_resampling = Resampling(config.bootstrap_resamples, CI_LEVEL, config.seed + FACE_SEED_OFFSET)
    analyses = analyse_benchmark(results, synthetic)
    agreements, face_families = analyse_faces(stability, config.face_noise_levels, face_resampling)

    # 4. the verdict rule, on the numbers
    tally = tally_families(analyses)
    verdict = edge_verdict(tally, face_families, config.noise_levels, faces.is_fallback)

    progress("figures")
    figures = [
        Figure("Example edge maps", figure_examples(analyses, config, out),
               f"First synthetic image of each kind (blur {config.blur_levels_px[0]:g} px) at three noise levels: "
               f"ground truth and each operator at sigma = {config.display_sigma:g} px (else its best), thresholded "
               "at its ODS threshold; F is that image's F-measure."),
        Figure("F-measure vs noise", figure_vs_noise(analyses, config, out, "f"),
               "ODS F-measure of each operator at its best scale against additive noise, with 95 % bootstrap CIs "
               "over images. Solid: gradient + NMS and Canny; dashed: Laplacian zero-crossings."),
        Figure("Pratt's FOM vs noise", figure_vs_noise(analyses, config, out, "fom"),
               "Pratt's figure of merit at each operator's ODS threshold and best scale, mean over images, 95 % CI."),
        Figure("Edge maps on faces", figure_face_edges(face_stack, config, out),
               f"{faces.source}: each operator keeps {config.face_edge_density:.0%} of the pixels, on a clean face "
               "and a noisy copy."),
        Figure("Edge-map stability on faces", figure_face_stability(stability, config, out),
               "Agreement (F-measure, one-to-one within the tolerance) of each operator's map on a noisy copy "
               "with its map on the clean face, mean over faces and noise draws; higher = more stable."),
    ]
    tables = [
        family_table(analyses), winner_table(analyses), operator_score_table(analyses, config),
        fom_table(analyses, config), matched_scale_table(analyses, config),
        face_stability_table(agreements, config, faces.source, len(face_stack)), skimage_cross_checks(config),
    ]
    return StudyResult(
        study=STUDY, question=QUESTION, verdict=verdict,
        data_source=(f"synthetic shapes and cartoon faces with exact ground truth ({config.images_per_kind} per kind, "
                     f"{config.scene_size_px} px); real faces: {faces.source}"),
        metrics=headline_metrics(tally, face_families, config, len(face_stack), faces.is_fallback),
        tables=tables, figures=figures, raw=raw_record(analyses, stability, synthetic, face_resampling),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_study(STUDY, build_parser(), resolve, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
