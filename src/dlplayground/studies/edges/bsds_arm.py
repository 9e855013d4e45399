"""The real-image arm (``--bsds DIR``): BSDS500 photographs scored with the benchmark's own protocol.

Selection and scoring follow the synthetic conditions, with the dataset's splits as the two sets: every
(operator, sigma) is swept on the ``val`` images and each operator's scale and threshold chosen there; the
``test`` images are scored at that choice. As BSDS does, every binary map is thinned before matching, the
matching distance is ``0.0075 x`` the image diagonal (``matching.BSDS_MAX_DIST``: 4.3 px on a 481 x 321 photo)
and every annotator's boundaries count -- precision from detections matched to any annotator, recall summed
over annotators (``matching``). The photographs are converted to grey (``dlplayground.data.bsds``); no noise or
blur is added. The arm is one more condition, ``BSDS500``, in the family comparison and its Holm correction.

Cost: a photograph has ~17 times the pixels of a synthetic scene, 5-7 annotators and a wider matching radius;
one sweep of one operator and scale over one photograph took 1-3 s here (20 thresholds, 5 annotators), about
100 times a synthetic image's. With the default 4 scales that is ~(21 + 6) sweeps per photograph pair:
``--bsds-images`` (per split, default 10) bounds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlplayground.data.bsds import BsdsSplit, load_bsds_split
from dlplayground.progress import progress
from dlplayground.studies.edges.evaluation import Condition, ConditionResult, ImageSet, TaskRunner, tune_then_score
from dlplayground.studies.edges.matching import bsds_tolerance_px

BSDS_KIND = "BSDS500"
"""The condition's kind in tables, figures and the verdict."""
TUNING_SPLIT, SCORING_SPLIT = "val", "test"
BSDS_CONDITION = Condition(BSDS_KIND, 0.0, 0.0)


@dataclass(frozen=True)
class BsdsData:
    """The tuning and held-out splits as read."""

    tuning: BsdsSplit
    held_out: BsdsSplit

    @property
    def source(self) -> str:
        return (f"BSDS500 from {str(self.held_out.root)}: tuned on {len(self.tuning.images)} {TUNING_SPLIT} images, "
                f"scored on {len(self.held_out.images)} {SCORING_SPLIT} images")

    @property
    def annotators(self) -> tuple[int, int]:
        """Fewest and most annotators per held-out image."""
        counts = [im.annotators for im in self.held_out.images]
        return min(counts), max(counts)


def load_bsds(path: Path, images_per_split: int) -> BsdsData:
    """Read the two splits (validated before any long work starts)."""
    return BsdsData(load_bsds_split(path, TUNING_SPLIT, images_per_split),
                    load_bsds_split(path, SCORING_SPLIT, images_per_split))


def _image_set(split: BsdsSplit) -> ImageSet:
    return ImageSet(images=[im.image for im in split.images], truths=[list(im.boundaries) for im in split.images],
                    tolerance_px=[bsds_tolerance_px(im.image.shape) for im in split.images], thin=True)


def score_bsds(data: BsdsData, grid: Sequence[tuple[str, float]], n_thresholds: int, runner: TaskRunner
               ) -> ConditionResult:
    """Tune on ``val``, score on ``test``, with the BSDS protocol (module docstring)."""
    progress(f"BSDS500: {len(grid)} operator/scale pairs on {len(data.tuning.images)} {TUNING_SPLIT} images, then "
             f"each operator on {len(data.held_out.images)} {SCORING_SPLIT} images")
    return tune_then_score(BSDS_CONDITION, _image_set(data.tuning), _image_set(data.held_out), grid, n_thresholds,
                           runner)
