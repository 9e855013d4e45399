"""Is the Laplacian a better edge detector than the gradient? Measured against ground truth, the way the field
scores edges.

The question
------------
The seed claims the Laplacian is superior to the gradient for edge detection, shown by eye on the Olivetti
faces. This study puts numbers on it: where the true edges are known, which operator finds them (and only
them), and how does that change with noise, blur and the kind of edge? On real photographs with human
annotations (BSDS500, when given), which scores better under the benchmark's own protocol? Where no truth is
known (real faces), whose edge map survives noise?

The method
----------
1. **Operators** (``operators``): gradient magnitude with non-maximum suppression -- Sobel, Scharr (3x3, after
   Gaussian pre-smoothing of width sigma) and the derivative of Gaussian (DoG) -- against Laplacian
   zero-crossings -- the plain 3x3 Laplacian (after the same pre-smoothing) and the Laplacian of Gaussian
   (LoG); scikit-image's Canny as the reference. Round-off is kept out by a dead band: strengths within a
   millionth of the grey range of zero are zero. The families compared are equal in size: Sobel and DoG
   against the 3x3 Laplacian and LoG (``operators.FAMILY_MEMBERS``); Scharr and Canny are reported per
   operator.
2. **Scenes** (``scenes``, ``curves``): five kinds with exact ground truth -- random shapes (step edges),
   cartoon faces under shading, textured shapes (gratings inside the regions, not edges), thin lines (line
   edges) and tent ridges (roof edges) -- each at every ``--blur-levels`` Gaussian blur and ``--noise-levels``
   additive noise. Every condition draws its own noise; the conditions of a kind share their scenes.
3. **Selection on tuning images, scores on held-out ones** (``evaluation``, ``selection``): per condition,
   ``--tune-images`` scenes are swept for every (operator, sigma); each operator's scale and threshold, and
   each family's member, are chosen there; ``--images-per-kind`` other scenes are scored at that choice.
4. **Scoring** (``matching``, ``scoring``): detections paired one-to-one with true edge pixels within
   ``--tolerance-px`` (maximum bipartite matching); the primary score is the held-out F at the chosen
   threshold; beside it the field's ODS, OIS and AP on the held-out images and Pratt's FOM.
5. **Decisions** (``significance``, ``analysis``): per condition the two members' held-out F are compared by a
   paired permutation test over images, Holm-corrected over all conditions (family-wise 5 %), with bootstrap
   intervals (``dlplayground.stats.bootstrap``) at the simultaneous level; the change of each panel's
   difference with noise is bootstrapped over the shared scenes.
6. **BSDS500** (``--bsds DIR``, ``bsds_arm``): tuned on ``val``, scored on ``test``, maps thinned, matched
   within 0.0075 x the diagonal against every annotator -- one more condition in the Holm family.
7. **Faces** (``--olivetti PATH``, else scikit-image's ``lfw_subset``, announced): no ground truth, so
   stability -- each map keeps a fixed share of the pixels; agreement = F of a noisy copy's map against the
   clean map; family members chosen on half the faces, compared on the other half.

How to read the result
----------------------
The answer comes first: one or two sentences -- yes, no or "only in places", with the counts of conditions
each family wins, then BSDS and the faces -- written from the same judgements as the verdict (``verdict``,
rule in docs/edge_operators.md), which gives the full reasoning: the decisions, the differences, the noise
trends, BSDS and the faces. The key numbers are the decision counts, the median held-out difference, and the
BSDS and face-stability differences with their intervals. The lead figure is the example grid (held-out images,
truth, every operator at its chosen scale and threshold); the second charts, per condition, the held-out F
difference (gradient minus Laplacian) with its simultaneous interval, filled where the Holm-corrected test
resolves it. Short tables first (per scene kind, per noise panel, faces, cross-checks against scikit-image), the
long per-condition and per-operator tables last. ``result.json`` keeps the per-image counts behind every number
under ``raw`` (``records``).
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
from dlplayground.studies.edges.bsds_arm import load_bsds, score_bsds
from dlplayground.studies.edges.config import CI_LEVEL, FULL_DEFAULTS, QUICK_DEFAULTS, EdgeStudyConfig
from dlplayground.studies.edges.cross_checks import skimage_cross_checks
from dlplayground.studies.edges.evaluation import TaskRunner, measure_face_stability, score_benchmark, select_faces
from dlplayground.studies.edges.figures import (
    figure_differences,
    figure_examples,
    figure_face_edges,
    figure_face_stability,
    figure_vs_noise,
)
from dlplayground.studies.edges.matching import DEFAULT_TOLERANCE_PX
from dlplayground.studies.edges.operators import OPERATORS, operator_grid
from dlplayground.studies.edges.records import raw_record
from dlplayground.studies.edges.scenes import SCENE_KINDS
from dlplayground.studies.edges.tables import (
    face_family_tables,
    face_stability_table,
    family_table,
    headline_metrics,
    kind_summary_table,
    member_table,
    operator_score_tables,
    trend_table,
    tuning_scale_tables,
    winner_table,
)
from dlplayground.studies.edges.verdict import edge_answer, edge_verdict
from dlplayground.studies.runner import common_parser, common_values, run_study

STUDY = "edge_operators"
QUESTION = ("Is the Laplacian (zero-crossings) a better edge detector than the gradient (magnitude + NMS), judged "
            "against ground truth on step, line, roof and textured edges (and BSDS500 when given) and by stability "
            "under noise on real faces?")
FACE_SEED_OFFSET = 1
"""The faces' bootstrap seed is the study seed + 1: a population of its own, drawn independently."""


# ------------------------------------------------------------------------------------------ config
def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__)
    data = parser.add_argument_group("data")
    data.add_argument("--olivetti", type=Path, default=None, metavar="PATH",
                      help="scikit-learn's olivetti_py3.pkz, or the data home holding it (default: look in "
                           "scikit-learn's data home, else use scikit-image's lfw_subset faces; never downloads)")
    data.add_argument("--bsds", type=Path, default=None, metavar="DIR",
                      help="BSDS500 'data' folder (images/ and groundTruth/, or a folder above it): tune on val, "
                           "score on test with the benchmark's protocol (default: synthetic scenes only)")
    data.add_argument("--bsds-images", type=int, default=None,
                      help=f"BSDS images per split, the first by id (default {FULL_DEFAULTS['bsds_images']})")
    grid = parser.add_argument_group("grid (comma-separated lists override the defaults; --quick shrinks them)")
    grid.add_argument("--operators", default=None, help=f"subset of {', '.join(OPERATORS)} (default all)")
    grid.add_argument("--scene-kinds", default=None, help=f"subset of {', '.join(SCENE_KINDS)} (default all)")
    grid.add_argument("--sigmas", default=None, help="Gaussian scales in px to choose from (default 0,1,2,3)")
    grid.add_argument("--noise-levels", default=None, help="additive noise sigmas (default 0,0.05,0.1,0.2)")
    grid.add_argument("--blur-levels", default=None, help="blur sigmas in px before the noise (default 0,1,2)")
    grid.add_argument("--tune-images", type=int, default=None,
                      help=f"tuning images per kind (default {FULL_DEFAULTS['tune_images_per_kind']})")
    grid.add_argument("--images-per-kind", type=int, default=None,
                      help=f"held-out (scored) images per kind (default {FULL_DEFAULTS['score_images_per_kind']})")
    grid.add_argument("--thresholds", type=int, default=None,
                      help=f"thresholds per sweep (default {FULL_DEFAULTS['n_thresholds']})")
    grid.add_argument("--tolerance-px", type=float, default=None,
                      help=f"matching radius in px on the synthetic scenes (default {DEFAULT_TOLERANCE_PX})")
    grid.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples (default 1000)")
    grid.add_argument("--permutations", type=int, default=None,
                      help=f"swaps per permutation test (default {FULL_DEFAULTS['permutations']})")
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
    for flag, field in (("operators", "operators"), ("scene_kinds", "scene_kinds")):
        text = getattr(args, flag)
        if text is not None:
            values[field] = tuple(v.strip() for v in text.split(",") if v.strip())
    for flag, field in (("images_per_kind", "score_images_per_kind"), ("tune_images", "tune_images_per_kind"),
                        ("face_images", "face_images"), ("thresholds", "n_thresholds"),
                        ("bootstrap", "bootstrap_resamples"), ("permutations", "permutations"), ("workers", "workers"),
                        ("tolerance_px", "tolerance_px"), ("face_edge_density", "face_edge_density"),
                        ("bsds_images", "bsds_images")):
        value = getattr(args, flag)
        if value is not None:
            values[field] = value
    return EdgeStudyConfig(**common_values(args, STUDY), olivetti=args.olivetti, bsds=args.bsds, **values)


# -------------------------------------------------------------------------------------------- body
def body(config: EdgeStudyConfig, out: Path) -> StudyResult:
    # validate every data source before the long work
    faces = load_face_images(config.olivetti)
    face_stack = select_faces(faces, config.face_images)
    progress(f"faces: {faces.source}")
    bsds = load_bsds(config.bsds, config.bsds_images) if config.bsds is not None else None
    if bsds is not None:
        progress(bsds.source)

    # 1-2. tune and score every condition (and BSDS), measure face stability (a process pool when workers > 1)
    with TaskRunner(config.workers) as runner:
        results = score_benchmark(config, runner)
        if bsds is not None:
            grid = operator_grid(list(config.operators), list(config.sigmas_px))
            results.append(score_bsds(bsds, grid, config.n_thresholds, runner))
        stability = measure_face_stability(face_stack, config, runner)

    # 3. held-out scores, paired tests with Holm's correction, simultaneous intervals, noise trends
    progress("statistics: bootstrap intervals and permutation tests")
    synthetic = Resampling(config.bootstrap_resamples, CI_LEVEL, config.seed, config.permutations)
    face_resampling = Resampling(config.bootstrap_resamples, CI_LEVEL, config.seed + FACE_SEED_OFFSET)
    analysis = analyse_benchmark(results, synthetic)
    agreements, face_families = analyse_faces(stability, config.face_noise_levels, face_resampling)

    # 4. the verdict rule, on the numbers: the full reasoning, and the short answer from the same judgements
    verdict = edge_verdict(analysis.comparisons, analysis.trends, face_families, faces.is_fallback,
                           comparison_level=analysis.comparison_level, trend_level=analysis.trend_level)
    answer = edge_answer(analysis.comparisons, face_families, faces.is_fallback)

    progress("figures")
    level = f"{100 * analysis.comparison_level:.3g} %"
    figures = [
        Figure("Example edge maps", figure_examples(analysis, config, out, bsds),
               f"The first held-out image of each scene kind (blur {config.blur_levels_px[0]:g} px) at the lowest and "
               "highest noise: ground truth and each operator at the scale and threshold chosen on the tuning images; "
               "F is that image's F-measure."),
        Figure("Paired difference per condition", figure_differences(analysis, config, out),
               f"Held-out F of the gradient member minus the Laplacian member per condition, with {level} "
               "simultaneous bootstrap intervals over the held-out images; filled markers are resolved by the paired "
               "permutation test after Holm's correction (family-wise 5 %)."),
        Figure("Held-out F vs noise", figure_vs_noise(analysis, config, out, "f"),
               "Held-out F of each operator at its chosen scale and threshold against additive noise, one panel per "
               "scene kind and blur, 95 % bootstrap CIs over images. Solid: gradient + NMS and Canny; dashed: "
               "Laplacian zero-crossings."),
        Figure("Pratt's FOM vs noise", figure_vs_noise(analysis, config, out, "fom"),
               "Pratt's figure of merit at each operator's chosen threshold, mean over held-out images, 95 % CI."),
        Figure("Edge maps on faces", figure_face_edges(face_stack, config, out),
               f"{faces.source}: each operator keeps {config.face_edge_density:.0%} of the pixels, on a clean face "
               "and a noisy copy."),
        Figure("Edge-map stability on faces", figure_face_stability(stability, config, out),
               "Agreement (F-measure, one-to-one within the tolerance) of each operator's map on a noisy copy "
               "with its map on the clean face, mean over faces and noise draws; higher = more stable."),
    ]
    tables = [
        kind_summary_table(analysis.comparisons), trend_table(analysis.trends, analysis.trend_level),
        *face_family_tables(face_families), skimage_cross_checks(config),
        face_stability_table(agreements, config, faces.source, len(face_stack)),
        family_table(analysis), member_table(analysis), winner_table(analysis.conditions),
        *operator_score_tables(analysis.conditions, config), *tuning_scale_tables(analysis.conditions, config),
    ]
    source = (f"synthetic scenes with exact ground truth ({', '.join(config.scene_kinds)}; "
              f"{config.tune_images_per_kind} tuning + {config.score_images_per_kind} held-out images per kind, "
              f"{config.scene_size_px} px); real faces: {faces.source}")
    if bsds is not None:
        source += f"; {bsds.source}"
    metrics = headline_metrics(analysis, face_families, config, len(face_stack))
    return StudyResult(
        study=STUDY, question=QUESTION, verdict=verdict, answer=answer, data_source=source,
        metrics=metrics.values, labels=metrics.labels, tables=tables, figures=figures,
        raw=raw_record(analysis, stability, synthetic, face_resampling, faces.is_fallback),
        lead_figures=2,  # the example grid, then the per-condition paired differences that carry the answer
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_study(STUDY, build_parser(), resolve, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
