"""The paired permutation test behind every family decision of the edge study.

Two operators scored on the same held-out images give two count vectors per image. Under the null
hypothesis that the operators are interchangeable -- each image's pair of results would have been as likely
the other way round -- swapping the pair within any subset of images leaves the distribution of the data
unchanged. The test draws ``permutations`` random subsets (each image swapped with probability 1/2), computes
the statistic (here the difference of the pooled F-measures, the study's score) on every swapped dataset,
and reports the two-sided Monte-Carlo p-value

    p = (1 + #{ |T_swapped| >= |T_observed| }) / (1 + permutations),

which is exact in level for any number of images (the +1 counts the observed arrangement; Phipson & Smyth,
2010). Swapping every image negates the difference, so the swapped distribution is symmetric about 0 and the
absolute value gives the two-sided test. Unlike a bootstrap tail, the p-value needs no distributional
assumption and keeps its level far into the tail that Holm's correction over many conditions asks for (the
smallest p-value it can report is ``1 / (1 + permutations)``); the intervals shown beside it still come from
``dlplayground.stats.bootstrap``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

PairedStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]
_BATCH_ELEMENTS = 2_000_000


def paired_permutation_p(a: np.ndarray, b: np.ndarray, statistic: PairedStatistic, *, permutations: int,
                         seed: int | Sequence[int]) -> float:
    """Two-sided p-value of ``statistic(a, b)`` under within-image swaps of ``a`` and ``b`` (module docstring).

    ``a`` and ``b`` hold one row per image (first axis, same length); ``statistic`` receives both with one
    leading axis of swapped datasets, shape (p, n, ...), and returns p values. Deterministic for a ``seed``.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim < 1 or len(a) == 0:
        raise ValueError(f"paired data must have one non-empty shape, got {a.shape} and {b.shape}")
    if permutations < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    observed = abs(float(np.asarray(statistic(a[None], b[None])).reshape(-1)[0]))
    tolerance = 1e-12 * max(1.0, observed)  # ties with the observed value count as at least as extreme
    rng = np.random.default_rng(seed)
    batch = max(1, _BATCH_ELEMENTS // max(1, a.size))
    extreme = 0
    for start in range(0, permutations, batch):
        swap = rng.random((min(batch, permutations - start), len(a))) < 0.5
        swap = swap.reshape(swap.shape + (1,) * (a.ndim - 1))
        swapped = np.abs(np.asarray(statistic(np.where(swap, b, a), np.where(swap, a, b)), dtype=float))
        extreme += int((swapped >= observed - tolerance).sum())
    return (1 + extreme) / (1 + permutations)
