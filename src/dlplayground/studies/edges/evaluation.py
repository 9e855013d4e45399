"""The work of the edge-operator study: its units, importable so they can run in worker processes, and
the drivers that hand them out.

* ``score_condition`` -- one synthetic condition (scene kind x blur x noise): its tuning images swept for
  every (operator, sigma), each operator's scale and threshold chosen there (``selection``), then its
  held-out images swept for each operator at that scale on the tuning grid. ``score_benchmark`` runs every
  condition.
* ``face_stability`` -- one (operator, sigma) on real faces: agreement of each noisy copy's edge map with
  the clean one, both holding the same number of edge pixels. ``measure_face_stability`` runs every pair.
* ``TaskRunner`` -- runs a list of such calls in-process (``workers=1``) or in a process pool; results
  come back in submission order, so a run is identical whatever the worker count.

Why a process pool, when the runner already sets the thread count: the time goes into per-image,
per-threshold Python loops (NMS, zero-crossings, hysteresis labelling, one maximum bipartite matching per
threshold) on small arrays, which hold the GIL and gain nothing from BLAS or torch threads. The units are
independent and coarse (seconds each), so separate processes are what scales them across cores; spawning
costs a second or so, paid once per run. ``--threads`` still governs the parent process.

Random streams. Seeds are derived from the study seed and the item's identity (never from the order work is
done in). The scenes of a kind depend on (seed, kind, split): the tuning and the held-out images are
different scenes, and every condition of a kind scores the same held-out scenes, which pairs conditions by
scene for the noise-trend comparison. The noise of image i depends on (seed, kind, split, blur, noise, i):
every condition draws its own, independent noise -- conditions share scenes, never noise fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

import numpy as np

from dlplayground.data.olivetti import FaceImages
from dlplayground.progress import progress
from dlplayground.studies.edges.matching import DEFAULT_TOLERANCE_PX, match_edges
from dlplayground.studies.edges.operators import check_image_stack, edge_response, operator_grid
from dlplayground.studies.edges.scenes import SCENE_KINDS, degrade, make_scenes
from dlplayground.studies.edges.scoring import SweepTable, sweep_dataset
from dlplayground.studies.edges.selection import Tuned, tune_operators

if TYPE_CHECKING:  # not at run time: spawned workers import this module, and the config pulls in torch
    from dlplayground.studies.edges.config import EdgeStudyConfig

SPLITS = {"tune": 1, "score": 2}
"""The two image sets of every scene kind and their stream ids: selection sees only ``tune``."""


@dataclass(frozen=True)
class Condition:
    """One dataset: scene kind, Gaussian blur (px) and additive noise sigma (grey levels)."""

    kind: str
    blur_px: float
    noise: float

    @property
    def label(self) -> str:
        return f"{self.kind}, blur {self.blur_px:g} px, noise {self.noise:g}"


@dataclass(frozen=True)
class ConditionResult:
    """One condition's sweeps: every (operator, sigma) on the tuning images, the choices made there, and each
    operator at its chosen scale on the held-out images (on the tuning grid of thresholds)."""

    condition: Condition
    tuning: tuple[SweepTable, ...]
    tuned: dict[str, Tuned]
    scoring: dict[str, SweepTable]


def noise_rng(seed: int, cond: Condition, split: str, image_index: int) -> np.random.Generator:
    """The noise stream of one image of one condition: independent across conditions, splits and images."""
    key = [seed, SCENE_KINDS.index(cond.kind), SPLITS[split], round(cond.blur_px * 1000), round(cond.noise * 1e6),
           image_index]
    return np.random.default_rng(key)


def condition_data(cond: Condition, split: str, n_images: int, size_px: int, seed: int
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The degraded images of one split of one condition and their ground truths, rebuilt identically on every
    call (module docstring: scenes shared by the conditions of a kind, noise drawn per condition)."""
    scenes = make_scenes(cond.kind, n_images, seed=(seed, SCENE_KINDS.index(cond.kind), SPLITS[split]),
                         size=size_px)
    images = [degrade(scene.image, cond.blur_px, cond.noise, noise_rng(seed, cond, split, i))
              for i, scene in enumerate(scenes)]
    return images, [s.edges for s in scenes]


@dataclass(frozen=True)
class ImageSet:
    """Images to sweep, their truths (a map, or several annotators' maps, per image) and how to match them."""

    images: list[np.ndarray]
    truths: list[Any]
    tolerance_px: float | list[float] = DEFAULT_TOLERANCE_PX
    """One matching radius, or one per image."""
    thin: bool = False
    """Thin every binary map before matching (the BSDS protocol)."""

    def sweep_call(self, operator: str, sigma: float, **grid: Any) -> dict[str, Any]:
        """Keyword arguments of ``sweep_dataset`` for this set; ``grid``: ``n_thresholds=`` or ``thresholds=``."""
        return {"images": self.images, "truths": self.truths, "operator": operator, "sigma": sigma,
                "tolerance_px": self.tolerance_px, "thin": self.thin, **grid}


def tune_then_score(cond: Condition, tuning: ImageSet, held_out: ImageSet, grid: Sequence[tuple[str, float]],
                    n_thresholds: int, runner: TaskRunner | None = None) -> ConditionResult:
    """Sweep the tuning set for every (operator, sigma), choose there (``selection``), then sweep the held-out set
    for each operator at its chosen scale on the same threshold grid. ``runner`` spreads the sweeps over
    processes (the BSDS arm); without one they run here (a synthetic condition is already one process's unit)."""
    run = runner.map if runner is not None else (lambda fn, calls: [fn(**kwargs) for kwargs in calls])
    tables = tuple(run(sweep_dataset, [tuning.sweep_call(op, sigma, n_thresholds=n_thresholds) for op, sigma in grid]))
    tuned = tune_operators(tables)
    calls = []
    for op, choice in tuned.items():
        thresholds = next(t for t in tables if t.operator == op and t.sigma == choice.sigma).thresholds
        calls.append(held_out.sweep_call(op, choice.sigma, thresholds=thresholds))
    return ConditionResult(cond, tables, tuned, dict(zip(tuned, run(sweep_dataset, calls), strict=True)))


def score_condition(cond: Condition, tune_images: int, score_images: int, size_px: int,
                    grid: Sequence[tuple[str, float]], n_thresholds: int, tolerance_px: float, seed: int
                    ) -> ConditionResult:
    """One synthetic condition, tuned and scored (the unit of work of ``score_benchmark``)."""
    sets = [ImageSet(*condition_data(cond, split, n, size_px, seed), tolerance_px=tolerance_px)
            for split, n in (("tune", tune_images), ("score", score_images))]
    return tune_then_score(cond, sets[0], sets[1], grid, n_thresholds)


@dataclass(frozen=True)
class FaceStability:
    """Agreement F of noisy vs clean edge maps for one operator, scale and noise level, per face."""

    operator: str
    sigma: float
    noise: float
    per_image: np.ndarray  # mean over noise draws


def face_edge_pixels(images: np.ndarray, edge_density: float) -> int:
    """How many edge pixels every face map keeps: ``edge_density`` of an (n, h, w) stack's image area."""
    return max(1, round(edge_density * images.shape[1] * images.shape[2]))


def face_map(image: np.ndarray, operator: str, sigma: float, n_pixels: int) -> np.ndarray:
    """The operator's edge map on ``image`` holding about ``n_pixels`` edge pixels."""
    response = edge_response(image, operator, sigma)
    return response.edges(response.threshold_for_count(n_pixels))


def face_noise_rng(seed: int, image_index: int, draw: int) -> np.random.Generator:
    return np.random.default_rng([seed, 7, image_index, draw])


def face_stability(images: np.ndarray, operator: str, sigma: float, noise_levels: Sequence[float], draws: int,
                   edge_density: float, seed: int, tolerance_px: float = DEFAULT_TOLERANCE_PX
                   ) -> list[FaceStability]:
    """Stability of one operator on ``images`` (n, h, w): the same edge-pixel share on clean and noisy."""
    n_pixels = face_edge_pixels(images, edge_density)
    clean = [face_map(im, operator, sigma, n_pixels) for im in images]
    out = []
    for noise in noise_levels:
        agreement = np.zeros((len(images), draws))
        for i, im in enumerate(images):
            for d in range(draws):
                noisy = degrade(im, 0.0, noise, face_noise_rng(seed, i, d))
                agreement[i, d] = match_edges(face_map(noisy, operator, sigma, n_pixels), clean[i],
                                              tolerance_px).f_measure
        out.append(FaceStability(operator, sigma, noise, agreement.mean(axis=1)))
    return out


class TaskRunner:
    """Run calls in-process or in a pool of ``workers`` processes; results in submission order.

    Spawned, not forked: the parent has imported torch, whose thread pools do not survive a fork reliably,
    and spawn behaves the same on Linux and macOS.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Executor | None = None

    def __enter__(self) -> TaskRunner:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def map(self, fn: Callable[..., Any], calls: Sequence[dict[str, Any]],
            on_done: Callable[[int, int], None] | None = None) -> list[Any]:
        results = []
        if self._pool is None:
            for i, kwargs in enumerate(calls, 1):
                results.append(fn(**kwargs))
                if on_done:
                    on_done(i, len(calls))
            return results
        futures = [self._pool.submit(fn, **kwargs) for kwargs in calls]
        for i, future in enumerate(futures, 1):
            results.append(future.result())
            if on_done:
                on_done(i, len(calls))
        return results


# ------------------------------------------------------------------------------------------- drivers
def benchmark_conditions(config: EdgeStudyConfig) -> list[Condition]:
    """Every synthetic condition of the run: scene kind x blur x noise, in that nesting order."""
    return [Condition(k, b, n) for k in config.scene_kinds for b in config.blur_levels_px for n in config.noise_levels]


def config_condition_data(cond: Condition, config: EdgeStudyConfig, split: str = "score"
                          ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``condition_data`` at the run's sizes and seed (the figures and cross-checks rebuild images with it)."""
    n_images = config.score_images_per_kind if split == "score" else config.tune_images_per_kind
    return condition_data(cond, split, n_images, config.scene_size_px, config.seed)


def score_benchmark(config: EdgeStudyConfig, runner: TaskRunner) -> list[ConditionResult]:
    """Tune and score every condition for every (operator, sigma) of the run; one result per condition, in order."""
    conditions = benchmark_conditions(config)
    grid = operator_grid(list(config.operators), list(config.sigmas_px))
    progress(f"synthetic benchmark: {len(conditions)} conditions x ({config.tune_images_per_kind} tuning + "
             f"{config.score_images_per_kind} held-out images) x {len(grid)} operator/scale pairs, "
             f"{config.workers} worker(s)")
    calls = [{"cond": c, "tune_images": config.tune_images_per_kind, "score_images": config.score_images_per_kind,
              "size_px": config.scene_size_px, "grid": grid, "n_thresholds": config.n_thresholds,
              "tolerance_px": config.tolerance_px, "seed": config.seed} for c in conditions]
    return runner.map(score_condition, calls, lambda i, n: progress(f"  condition {i}/{n} scored"))


def select_faces(faces: FaceImages, n: int) -> np.ndarray:
    """``n`` images spread evenly over the set (so every Olivetti subject is represented)."""
    stack = check_image_stack(faces.images, "face images")
    index = np.unique(np.linspace(0, len(stack) - 1, min(n, len(stack))).round().astype(int))
    return stack[index]


def measure_face_stability(images: np.ndarray, config: EdgeStudyConfig, runner: TaskRunner) -> list[FaceStability]:
    """``face_stability`` for every (operator, sigma) on the faces, flattened: pair-major, then noise level."""
    grid = operator_grid(list(config.operators), list(config.face_sigmas_px))
    progress(f"face stability: {len(images)} faces x {len(grid)} operator/scale pairs x "
             f"{len(config.face_noise_levels)} noise levels x {config.face_noise_draws} draws")
    calls = [{"images": images, "operator": op, "sigma": sigma, "noise_levels": config.face_noise_levels,
              "draws": config.face_noise_draws, "edge_density": config.face_edge_density, "seed": config.seed,
              "tolerance_px": config.tolerance_px} for op, sigma in grid]
    per_pair = runner.map(face_stability, calls, lambda i, n: progress(f"  faces {i}/{n} operator/scale pairs"))
    return [row for rows in per_pair for row in rows]
