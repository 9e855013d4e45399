"""The work of the edge-operator study: its units, importable so they can run in worker processes, and
the two drivers that hand them out.

* ``score_condition`` -- one synthetic dataset (scene kind x blur x noise) swept for every
  (operator, sigma): the raw counts behind ODS/OIS/FOM. ``score_benchmark`` runs every condition.
* ``face_stability`` -- one (operator, sigma) on real faces: agreement of each noisy copy's edge map with
  the clean one, both holding the same number of edge pixels. ``measure_face_stability`` runs every pair.
* ``TaskRunner`` -- runs a list of such calls in-process (``workers=1``) or in a process pool; results
  come back in submission order, so a run is identical whatever the worker count.

Why a process pool, when the runner already sets the thread count: the time goes into per-image,
per-threshold Python loops (NMS, zero-crossings, hysteresis labelling, one maximum bipartite matching per
threshold) on small arrays, which hold the GIL and gain nothing from BLAS or torch threads. The units are
independent and coarse (seconds each), so separate processes are what scales them across cores; spawning
costs a second or so, paid once per run. ``--threads`` still governs the parent process.

Seeds are derived from the study seed and the item's indices (never from the order work is done in).
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
from dlplayground.studies.edges.operators import check_image_stack, edge_response, operator_grid
from dlplayground.studies.edges.scenes import SCENE_KINDS, degrade, make_scenes
from dlplayground.studies.edges.scoring import DEFAULT_TOLERANCE_PX, SweepTable, match_edges, score_dataset

if TYPE_CHECKING:  # not at run time: spawned workers import this module, and the config pulls in torch
    from dlplayground.studies.edges.config import EdgeStudyConfig


@dataclass(frozen=True)
class Condition:
    """One synthetic dataset: scene kind, Gaussian blur (px) and additive noise sigma (grey levels)."""

    kind: str
    blur_px: float
    noise: float


@dataclass(frozen=True)
class ConditionResult:
    condition: Condition
    tables: tuple[SweepTable, ...]


def condition_data(cond: Condition, images_per_kind: int, size_px: int, seed: int
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The degraded images and their ground truths for one condition, rebuilt identically on every call.

    The scenes depend only on (seed, kind); the noise of image i only on (seed, kind, i), as one
    standard-normal field scaled by the noise level -- so noise levels and blur levels are paired.
    """
    kind_index = SCENE_KINDS.index(cond.kind)
    scenes = make_scenes(cond.kind, images_per_kind, seed=seed * 101 + kind_index, size=size_px)
    images = [degrade(scene.image, cond.blur_px, cond.noise, np.random.default_rng([seed, kind_index, i]))
              for i, scene in enumerate(scenes)]
    return images, [s.edges for s in scenes]


def score_condition(cond: Condition, images_per_kind: int, size_px: int, grid: Sequence[tuple[str, float]],
                    n_thresholds: int, tolerance_px: float, seed: int) -> ConditionResult:
    images, truths = condition_data(cond, images_per_kind, size_px, seed)
    return ConditionResult(cond, tuple(score_dataset(images, truths, grid, n_thresholds, tolerance_px)))


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


def config_condition_data(cond: Condition, config: EdgeStudyConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``condition_data`` at the run's size and seed (the figures and cross-checks rebuild images with it)."""
    return condition_data(cond, config.images_per_kind, config.scene_size_px, config.seed)


def score_benchmark(config: EdgeStudyConfig, runner: TaskRunner) -> list[ConditionResult]:
    """Score every condition for every (operator, sigma) of the run; one result per condition, in order."""
    conditions = benchmark_conditions(config)
    grid = operator_grid(list(config.operators), list(config.sigmas_px))
    progress(f"synthetic benchmark: {len(conditions)} conditions x {config.images_per_kind} images x "
             f"{len(grid)} operator/scale pairs, {config.workers} worker(s)")
    calls = [{"cond": c, "images_per_kind": config.images_per_kind, "size_px": config.scene_size_px, "grid": grid,
              "n_thresholds": config.n_thresholds, "tolerance_px": config.tolerance_px, "seed": config.seed}
             for c in conditions]
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
