"""Eigenfaces, face vs. no-face detection: does a PCA classifier detect faces -- or the data set they came from?

**Question.** Project grey-scale images onto their principal components ("eigenfaces"), keep enough
components to explain a target share of the variance, and train a linear or kernel classifier on the
whitened projections. It may separate faces from non-faces on held-out images because it learned what faces
look like, or because the faces and the non-faces come from different sources that differ in brightness,
sharpness or resize history. Only the second kind of classifier fails when the non-faces change source. So
the question is asked per negative source: trained against one kind of non-face, does it still reject a kind
it never saw?

**Method.**

1. Data. Faces from ``--faces DIR`` (a folder of images; a sub-folder named ``non_face``, ``background`` or
   ``negative`` supplies non-faces) and/or ``--olivetti PATH`` (subject ids known); non-faces from ``--cifar DIR``.
   With no paths, the offline default is scikit-image's ``lfw_subset`` (100 faces, and 100 background crops
   from the same photographs) plus patches cut from scikit-image's sample photographs -- announced in the
   output. Every image, whatever its source, goes the same way: grey (BT.601), centre-cropped square, resized
   to a *frame*, of which the centre ``--image-size`` window is kept (for a face: the face, ``--window-share``
   of the frame). The frame's corner windows are the *hard negatives*: shifted crops of the same face images,
   with the same resize history. Each negative source stays separate and named: ``lfw backgrounds``,
   ``sample-photo patches``, ``shifted face crops`` (offline), ``CIFAR-10``, ``faces-folder negatives``.
2. Repeated stratified grouped cross-validation (``--outer-repeats`` x ``--outer-folds``): scikit-learn's
   ``StratifiedGroupKFold`` stratified by source, grouped by subject (Olivetti), face image (a face and its
   shifted crops) or photograph (patches), reshuffled per repeat. In each fold, every negative source is cut
   to ``--nonfaces-per-face`` per face, by matching trivial statistics to that fold's *training* faces (not
   with ``--no-match``); test faces are never looked at.
3. In each fold, each model is trained once against each single negative source and once against all pooled,
   and scores every test image: the eigenface classifier (whitened PCA with k by the ``--variance`` rule on its
   training set, then logistic regression or an RBF SVC, family and hyper-parameters by inner stratified CV on
   that training set); logistic regression on raw pixels; the shortcut baseline (logistic regression on eight
   trivial statistics: brightness, contrast, clipping, sharpness, entropy). Turk & Pentland's
   distance-from-face-space detector is fitted on the training faces only.
4. Each fold gives the AUC of the held-out faces against the held-out images of each negative source, for
   every training set: the leave-one-source-out matrix (trained against A, tested against B), with the
   pooled row as the AUC per negative source. Each cell is reported as the mean and percentile spread of its
   per-fold AUCs.

**How to read the result.** The answer (two sentences, shown first) and the verdict (the full reasoning) come
from the cross-source cells (trained against A, tested against B != A): "Yes" when every cell's whole spread
(Bonferroni-adjusted across the cells) is at least 0.8; "No, it learned the data source" when some cell's whole
spread is below 0.8 although the classifier does separate the faces from that cell's training source; "No, it
separates nothing" when it fails there too; else "Not resolved"
(``docs/eigenfaces.md``, "The rule"). A second sentence derives from the measured gap between within-source and
cross-source AUC whether the usual within-source number mostly measures the data source. The key numbers: the
lowest and mean cross-source AUC, the within-source AUC, that gap, the AUC against the hard negatives and the
number of faces. The lead figure shows the matrix as a heat map beside the AUC per negative source of every
method; then the eigenfaces, the baselines' matrices, samples of every source, and the images the classifier
ranks worst. ``raw`` in ``result.json`` holds the rule's answer code, every per-fold AUC, every fold's images, every
search's choice, and repeat 0's out-of-fold scores of every image.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import sklearn

from dlplayground.devices import cpu_threads
from dlplayground.errors import UserInputError
from dlplayground.progress import progress
from dlplayground.results import StudyResult
from dlplayground.seeding import numpy_rng
from dlplayground.studies.eigenfaces.analysis import analyse_faces_vs_nonfaces
from dlplayground.studies.eigenfaces.assembly import MIN_PER_CLASS, FaceDataRequest, assemble_face_dataset
from dlplayground.studies.eigenfaces.config import (
    OUTER_FOLDS,
    OUTER_REPEATS,
    QUICK_OUTER_FOLDS,
    QUICK_OUTER_REPEATS,
    QUICK_SWEEP_TARGETS,
    SPREAD_LEVEL,
    SWEEP_TARGETS,
    EigenfacesConfig,
    SearchGrids,
)
from dlplayground.studies.eigenfaces.figures import draw_figures
from dlplayground.studies.eigenfaces.records import headline_metrics, raw_record
from dlplayground.studies.eigenfaces.tables import study_tables
from dlplayground.studies.eigenfaces.verdict import eigenfaces_verdict, short_answer
from dlplayground.studies.runner import common_parser, common_values, run_study

STUDY = "eigenfaces"
QUESTION = ("Face vs. no-face detection: does a whitened-PCA (eigenface) classifier detect faces -- or the data set "
            "its non-faces came from? Trained against one kind of non-face, does it still reject kinds it never saw?")


# --------------------------------------------------------------------------------------------- config
def build_parser() -> argparse.ArgumentParser:
    parser = common_parser(STUDY, __doc__)
    data = parser.add_argument_group("data (no paths: offline scikit-image data, announced)")
    data.add_argument("--faces", type=Path, default=None, metavar="DIR",
                      help="folder of face images (any depth, any common format); images under a folder named "
                           "non_face/background/negative are non-faces")
    data.add_argument("--olivetti", type=Path, default=None, metavar="PATH",
                      help="scikit-learn's olivetti_py3.pkz, or the data home holding it (faces)")
    data.add_argument("--cifar", type=Path, default=None, metavar="DIR",
                      help="CIFAR-10 python batches: cifar-10-batches-py/, its parent, or cifar-10-python.tar.gz "
                           "(non-faces)")
    study = parser.add_argument_group("study")
    study.add_argument("--variance", type=float, default=0.95,
                       help="explained-variance target that picks the number of PCA components (default 0.95)")
    study.add_argument("--image-size", type=int, default=15, metavar="PX",
                       help="side of the square grey window every model sees (default 15)")
    study.add_argument("--window-share", type=float, default=0.6, metavar="F",
                       help="the face window's share of the frame's side; the frame's corners are the shifted "
                            "face crops (default 0.6)")
    study.add_argument("--max-per-class", type=int, default=2000, metavar="N",
                       help="at most N faces, and N candidates per negative source (default 2000)")
    study.add_argument("--nonfaces-per-face", type=float, default=1.0, metavar="R",
                       help="non-faces of each negative source per face, in every fold (default 1)")
    study.add_argument("--crops-per-face", type=int, default=1, metavar="N",
                       help="shifted face crops (hard negatives) per face, 0-4 (default 1)")
    study.add_argument("--patches", type=int, default=2000, metavar="N",
                       help="offline default only: candidate non-face patches cut from scikit-image sample "
                            "photos (default 2000)")
    study.add_argument("--no-match", action="store_true",
                       help="cut each negative source to its quota at random instead of matching trivial "
                            "statistics to the fold's training faces (shows the raw source confound)")
    study.add_argument("--outer-folds", type=int, default=None, metavar="K",
                       help=f"outer cross-validation folds (default {OUTER_FOLDS}; {QUICK_OUTER_FOLDS} with --quick)")
    study.add_argument("--outer-repeats", type=int, default=None, metavar="R",
                       help=f"repeats of the outer cross-validation (default {OUTER_REPEATS}; "
                            f"{QUICK_OUTER_REPEATS} with --quick)")
    return parser


def _checked_path(flag: str, path: Path | None) -> Path | None:
    if path is None:
        return None
    path = Path(path).expanduser()
    if not path.exists():
        raise UserInputError(f"{flag} {str(path)!r}: no such file or folder")
    return path


def resolve(args: argparse.Namespace) -> EigenfacesConfig:
    """Check every number and path before any data is read; fill in the --quick-dependent settings."""
    common = common_values(args, STUDY)
    if not (0.0 < args.variance <= 1.0) or math.isnan(args.variance):
        raise UserInputError(f"--variance must be in (0, 1] (a share of explained variance), got {args.variance}")
    if not 8 <= args.image_size <= 128:
        raise UserInputError(f"--image-size must be between 8 and 128 pixels, got {args.image_size}")
    if not (0.3 <= args.window_share <= 1.0):
        raise UserInputError(f"--window-share must be between 0.3 and 1 (a share of the frame), "
                             f"got {args.window_share}")
    if args.max_per_class < MIN_PER_CLASS:
        raise UserInputError(f"--max-per-class must be >= {MIN_PER_CLASS}, got {args.max_per_class}")
    if not args.nonfaces_per_face > 0 or math.isinf(args.nonfaces_per_face):
        raise UserInputError(f"--nonfaces-per-face must be a positive number, got {args.nonfaces_per_face}")
    if not 0 <= args.crops_per_face <= 4:
        raise UserInputError(f"--crops-per-face must be 0-4 (corners of the frame), got {args.crops_per_face}")
    if args.patches < 0:
        raise UserInputError(f"--patches must be >= 0, got {args.patches}")
    quick = common["quick"]
    folds = args.outer_folds if args.outer_folds is not None else (QUICK_OUTER_FOLDS if quick else OUTER_FOLDS)
    repeats = args.outer_repeats if args.outer_repeats is not None else (
        QUICK_OUTER_REPEATS if quick else OUTER_REPEATS)
    if folds < 2:
        raise UserInputError(f"--outer-folds must be >= 2, got {folds}")
    if repeats < 1:
        raise UserInputError(f"--outer-repeats must be >= 1, got {repeats}")
    frame = int(round(args.image_size / args.window_share))
    if args.crops_per_face and frame - args.image_size < 2:
        raise UserInputError(f"--window-share {args.window_share} leaves no room around a {args.image_size} px window "
                             "for shifted face crops; lower it or pass --crops-per-face 0")
    return EigenfacesConfig(
        **common,
        faces=_checked_path("--faces", args.faces), olivetti=_checked_path("--olivetti", args.olivetti),
        cifar=_checked_path("--cifar", args.cifar),
        variance=float(args.variance), image_size_px=int(args.image_size), window_share=float(args.window_share),
        max_per_class=int(args.max_per_class), nonfaces_per_face=float(args.nonfaces_per_face),
        crops_per_face=int(args.crops_per_face), patches=int(args.patches), match=not args.no_match,
        outer_folds=int(folds), outer_repeats=int(repeats), spread_level=SPREAD_LEVEL,
        sweep_targets=tuple(sorted({*(QUICK_SWEEP_TARGETS if quick else SWEEP_TARGETS), float(args.variance)})),
        search=SearchGrids.quick() if quick else SearchGrids(),
    )


# ----------------------------------------------------------------------------------------------- body
def body(config: EigenfacesConfig, out_dir: Path) -> StudyResult:
    frame_px = int(round(config.image_size_px / config.window_share))
    request = FaceDataRequest(
        faces=config.faces, olivetti=config.olivetti, cifar=config.cifar, window_px=config.image_size_px,
        frame_px=frame_px, max_per_class=config.max_per_class, crops_per_face=config.crops_per_face,
        patches=config.patches,
    )
    dataset = assemble_face_dataset(request, numpy_rng(config.seed), announce=progress)
    data = dataset.data
    if dataset.fallback:
        progress("using offline data shipped with scikit-image (pass --faces DIR / --olivetti PATH / --cifar DIR "
                 "for real data)")
    progress(f"{data.n_faces} faces, {data.n_nonfaces} non-face candidates from {len(data.negative_sources)} "
             f"sources; {config.image_size_px}x{config.image_size_px} px windows of {frame_px} px frames")
    # The matrices here are small (hundreds of images x hundreds of pixels): BLAS threads only add overhead,
    # and on a shared machine oversubscription made the run several times slower. One thread, same results.
    # scikit-learn's per-call input and parameter checks cost more than the fits themselves at this size (about a
    # fifth of the run); the inputs are our own finite arrays and grids, so they are skipped -- same results.
    with cpu_threads(1), sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        out = analyse_faces_vs_nonfaces(data, config)
    figures = draw_figures(out, out_dir, numpy_rng(config.seed + 2))
    metrics = headline_metrics(out, dataset)
    return StudyResult(
        study=STUDY, question=QUESTION, data_source=dataset.source, answer=short_answer(out.summary),
        verdict=eigenfaces_verdict(out.summary), metrics=metrics.values, labels=metrics.labels,
        tables=study_tables(out, dataset), figures=figures, raw=raw_record(out, dataset, config),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_study(STUDY, build_parser(), resolve, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
