"""Eigenfaces: can PCA features tell a face from a non-face -- or only one data set from another?

**Question.** Project grey-scale images onto their principal components ("eigenfaces"), keep enough
components to explain a target share of the variance, and train a linear or kernel classifier on the
whitened projections. Does that separate faces from non-faces on held-out images -- and does it do so
because it learned what faces look like, or because the face images and the non-face images come from
different sources that differ in brightness, contrast or sharpness?

**Method.**

1. Data. Faces from ``--faces DIR`` (a folder of images, Kaggle-style; a sub-folder named ``non_face``,
   ``background`` or ``negative`` supplies non-faces) and/or ``--olivetti PATH``; non-faces from
   ``--cifar DIR`` (CIFAR-10 python batches, read with a restricted unpickler). With no paths, the
   offline default is scikit-image's ``lfw_subset`` (100 faces, 100 non-faces) plus non-face patches cut
   from scikit-image's sample photographs -- announced in the output. Every image, whatever its source,
   is converted to grey with the same BT.601 weights, centre-cropped to a square and resized to
   ``--image-size`` pixels with the same anti-aliased resize, then standardised per image (zero mean,
   unit contrast) before any PCA or classifier sees it.
   Non-faces are drawn from a larger *pool* and, unless ``--no-match``, the ones kept
   (``--nonfaces-per-face`` per face) are those whose trivial statistics best match the faces'
   (case-control matching). Without that, faces and non-faces from different sources differ so much in
   brightness, contrast and sharpness that any classifier looks good: on the offline data, those
   statistics alone separate faces from the unmatched pool with ROC-AUC about 0.97.
2. A stratified held-out test set (``--test-fraction``), untouched until the final scores.
3. PCA fitted on the training images; ``k`` = the smallest number of components whose cumulative
   explained variance exceeds ``--variance`` (scikit-learn's ``PCA(n_components=target)`` rule). A sweep
   over other targets (cross-validated ROC-AUC on the training set) shows what the choice costs; it does
   not pick ``k``.
4. Whitened PCA(k) + logistic regression, and + an RBF SVC (both class-balanced), hyper-parameters by
   stratified k-fold CV on the sum of ROC-AUC and balanced accuracy (AUC alone would accept a model that
   ranks well but thresholds everything into one class); the one with the better CV ROC-AUC is the
   headline classifier.
5. Baselines: logistic regression on raw pixels (no PCA); the *shortcut* baseline -- logistic regression
   and a random forest on eight trivial, position-free statistics of each image (mean, std, 5th/95th
   percentile, dark and bright clipping, sharpness, histogram entropy), computed before the per-image
   standardisation so brightness and contrast are available to it; and Turk & Pentland's
   distance-from-face-space detector (reconstruction error under eigenfaces fitted on faces only).
6. Test-set ROC-AUC, PR-AUC, balanced accuracy and confusion matrices, with 95% intervals from a
   stratified bootstrap of the test set (``dlplayground.stats.bootstrap``: faces and non-faces resampled
   separately); the classifier's gain over the strongest shortcut baseline (picked by its *test* AUC, which
   favours the shortcut) gets an interval from the same resamples (paired).

**How to read the result.** The verdict answers the question: the classifier beats the shortcut only
if the paired interval of the AUC gain excludes zero. A high shortcut AUC means the two classes differ
in trivial ways; a classifier can then score well without knowing anything about faces, so its accuracy
alone is no evidence. The "which trivial statistic" table shows which statistic gives the sources away
after matching, and the metric ``unmatched_pool_shortcut_cv_roc_auc`` how much it gave away before. The
figures show the mean face and eigenfaces, the explained-variance curve with the chosen ``k``, ROC and
precision-recall curves, and the test images the classifier gets wrong. ``raw`` in ``result.json`` holds
every test image's scores, the per-fold CV scores, the variance curves and the bootstrap settings.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from dlplayground.devices import cpu_threads
from dlplayground.errors import UserInputError
from dlplayground.progress import progress
from dlplayground.results import Figure, StudyResult
from dlplayground.seeding import numpy_rng
from dlplayground.studies.eigenfaces.analysis import analyse_faces_vs_nonfaces
from dlplayground.studies.eigenfaces.assembly import MIN_PER_CLASS, FaceDataRequest, assemble_face_dataset
from dlplayground.studies.eigenfaces.config import (
    BOOTSTRAP_RESAMPLES,
    CI_LEVEL,
    QUICK_BOOTSTRAP_RESAMPLES,
    QUICK_SWEEP_TARGETS,
    SWEEP_TARGETS,
    EigenfacesConfig,
    SearchGrids,
)
from dlplayground.studies.eigenfaces.figures import (
    figure_eigenfaces,
    figure_errors,
    figure_roc,
    figure_samples,
    figure_variance,
)
from dlplayground.studies.eigenfaces.records import headline_metrics, raw_record
from dlplayground.studies.eigenfaces.tables import (
    data_table,
    feature_table,
    hyperparameter_table,
    methods_table,
    sweep_table,
)
from dlplayground.studies.eigenfaces.verdict import eigenfaces_verdict
from dlplayground.studies.runner import common_parser, common_values, run_study

STUDY = "eigenfaces"
QUESTION = ("Do whitened-PCA (eigenface) features let a classifier tell faces from non-faces on held-out "
            "images, beyond what trivial image statistics of the data sources reveal?")


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
    study.add_argument("--image-size", type=int, default=24, metavar="PX",
                       help="side of the square grey images every source is resized to (default 24)")
    study.add_argument("--test-fraction", type=float, default=0.25,
                       help="share of each class held out for the final test (default 0.25)")
    study.add_argument("--max-per-class", type=int, default=2000, metavar="N",
                       help="random subset of at most N images per class (default 2000)")
    study.add_argument("--nonfaces-per-face", type=float, default=2.0, metavar="R",
                       help="cap the non-face class at R x the number of faces (default 2)")
    study.add_argument("--patches", type=int, default=2000, metavar="N",
                       help="offline default only: candidate non-face patches cut from scikit-image sample "
                            "photos, before matching (default 2000)")
    study.add_argument("--no-match", action="store_true",
                       help="keep a random subset of the non-face pool instead of the one matched to the faces "
                            "on trivial statistics (shows the raw source confound)")
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
    if not (0.1 <= args.test_fraction <= 0.5):
        raise UserInputError(f"--test-fraction must be between 0.1 and 0.5, got {args.test_fraction}")
    if args.max_per_class < MIN_PER_CLASS:
        raise UserInputError(f"--max-per-class must be >= {MIN_PER_CLASS}, got {args.max_per_class}")
    if not args.nonfaces_per_face > 0 or math.isinf(args.nonfaces_per_face):
        raise UserInputError(f"--nonfaces-per-face must be a positive number, got {args.nonfaces_per_face}")
    if args.patches < 0:
        raise UserInputError(f"--patches must be >= 0, got {args.patches}")
    quick = common["quick"]
    return EigenfacesConfig(
        **common,
        faces=_checked_path("--faces", args.faces), olivetti=_checked_path("--olivetti", args.olivetti),
        cifar=_checked_path("--cifar", args.cifar),
        variance=float(args.variance), image_size_px=int(args.image_size), test_fraction=float(args.test_fraction),
        max_per_class=int(args.max_per_class), nonfaces_per_face=float(args.nonfaces_per_face),
        patches=int(args.patches), match=not args.no_match,
        sweep_targets=tuple(sorted({*(QUICK_SWEEP_TARGETS if quick else SWEEP_TARGETS), float(args.variance)})),
        search=SearchGrids.quick() if quick else SearchGrids(),
        bootstrap_resamples=QUICK_BOOTSTRAP_RESAMPLES if quick else BOOTSTRAP_RESAMPLES,
        ci_level=CI_LEVEL,
    )


# ----------------------------------------------------------------------------------------------- body
def body(config: EigenfacesConfig, out_dir: Path) -> StudyResult:
    request = FaceDataRequest(
        faces=config.faces, olivetti=config.olivetti, cifar=config.cifar, image_size_px=config.image_size_px,
        max_per_class=config.max_per_class, nonfaces_per_face=config.nonfaces_per_face, patches=config.patches,
        match=config.match,
    )
    dataset = assemble_face_dataset(request, numpy_rng(config.seed), announce=progress)
    data = dataset.data
    if dataset.fallback:
        progress("using offline data shipped with scikit-image (pass --faces DIR / --olivetti PATH / --cifar DIR "
                 "for real data)")
    progress(f"{data.n_faces} faces, {data.n_nonfaces} non-faces at {data.size}x{data.size} px")
    # The matrices here are small (hundreds of images x hundreds of pixels): BLAS threads only add overhead,
    # and on a shared machine oversubscription made the run several times slower. One thread, same results.
    with cpu_threads(1):
        out = analyse_faces_vs_nonfaces(dataset, config)

    figure_samples(out, out_dir / "samples.png", numpy_rng(config.seed + 2))
    figure_eigenfaces(out, out_dir / "eigenfaces.png")
    figure_variance(out, out_dir / "explained_variance.png")
    figure_roc(out, out_dir / "roc.png")
    figure_errors(out, out_dir / "errors.png")
    figures = [
        Figure("Data samples", "samples.png", "Random faces and non-faces after the shared grey conversion, resize."),
        Figure("Mean face and eigenfaces", "eigenfaces.png",
               "PCA of the training faces only (the distance-from-face-space model)."),
        Figure("Explained variance and the component sweep", "explained_variance.png",
               f"Left: cumulative explained variance, target {config.variance:.0%}. Right: CV ROC-AUC against k."),
        Figure("ROC and precision-recall curves", "roc.png", "Held-out test set; dashed: shortcut baselines."),
        Figure("Errors of the classifier", "errors.png",
               f"{out.headline}: highest-scoring non-faces called faces and lowest-scoring faces missed."),
    ]
    return StudyResult(
        study=STUDY, question=QUESTION, data_source=dataset.source,
        verdict=eigenfaces_verdict(out, variance=config.variance, matched=dataset.matched),
        metrics=headline_metrics(out, dataset),
        tables=[methods_table(out), hyperparameter_table(out), sweep_table(out), feature_table(out),
                data_table(data, out.stats)],
        figures=figures, raw=raw_record(out, dataset),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_study(STUDY, build_parser(), resolve, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
