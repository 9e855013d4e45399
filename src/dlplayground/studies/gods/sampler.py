"""Resampling that works under DistributedDataParallel.

``WeightedRandomSampler`` draws for one process and ``DistributedSampler`` shards a fixed order; neither
does both, so combining them either gives every rank the same draw (each example seen ``world_size``
times per epoch) or an unweighted shard. The samplers here do both: every rank computes the *same*
global draw for the epoch (one generator seeded from ``(seed, epoch)``) and takes the positions
``rank, rank + world_size, ...`` of it. The ranks' shares are therefore disjoint slices of one weighted
sample, their union is exactly that sample, and ``set_epoch`` gives a fresh draw each epoch, as with
``DistributedSampler``. The strided split also means that with a global batch of ``B`` split as ``B /
world_size`` per rank, step ``k`` sees the same examples as a single process with batch ``B``.

Epoch ``e`` of a sampler seeded with ``seed`` draws from ``streams.derive_seed(seed, e)``, the ``e``-th child of
the ``SeedSequence`` rooted at ``seed`` -- not from ``seed + e``, with which a run seeded ``s + 1`` would
replay the run seeded ``s`` one epoch later.

Strategies (``IMBALANCE_STRATEGIES``):

``none``           every training example once per epoch, shuffled
``weighted-loss``  the same order; the loss weights each class by ``n / (k * n_c)`` instead
``oversample``     ``n`` draws per epoch with replacement, each class drawn with equal probability
``undersample``    exactly ``min_c n_c`` examples of every class per epoch, without replacement
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import Sampler

from dlplayground.studies.gods.streams import derive_seed

IMBALANCE_STRATEGIES = ("none", "weighted-loss", "oversample", "undersample")


def _check_replicas(num_replicas: int, rank: int) -> None:
    if num_replicas < 1:
        raise ValueError(f"num_replicas must be >= 1, got {num_replicas}")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")


class _ShardedDraw(Sampler[int]):
    """One global draw per epoch, identical on every rank; each rank iterates its strided share.

    Subclasses define ``_draw(generator)``, returning ``num_samples`` dataset indices. When
    ``num_samples`` is not a multiple of ``num_replicas`` the draw is padded by wrapping around (every
    rank gets the same count, which DDP needs), or truncated with ``drop_last``.
    """

    def __init__(self, num_samples: int, *, num_replicas: int, rank: int, seed: int, drop_last: bool) -> None:
        _check_replicas(num_replicas, rank)
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if num_samples < num_replicas:
            raise ValueError(f"{num_samples} samples cannot be shared among {num_replicas} ranks")
        self.num_samples = num_samples
        self.num_replicas = num_replicas
        self.rank = rank
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        per_rank = num_samples // num_replicas if drop_last else math.ceil(num_samples / num_replicas)
        self.samples_per_rank = per_rank
        self.total_size = per_rank * num_replicas

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Use a fresh draw for ``epoch`` (call it on every rank, before iterating)."""
        self.epoch = int(epoch)

    def global_indices(self, epoch: int | None = None) -> torch.Tensor:
        """The whole epoch's draw, the same on every rank (the ranks' shares interleave into it)."""
        generator = torch.Generator()
        generator.manual_seed(derive_seed(self.seed, self.epoch if epoch is None else epoch))
        drawn = self._draw(generator)
        if self.total_size > len(drawn):  # pad by wrapping, as DistributedSampler does
            reps = math.ceil(self.total_size / len(drawn))
            drawn = drawn.repeat(reps)
        return drawn[: self.total_size]

    def __iter__(self) -> Iterator[int]:
        share = self.global_indices()[self.rank : self.total_size : self.num_replicas]
        return iter(share.tolist())

    def __len__(self) -> int:
        return self.samples_per_rank


class DistributedWeightedSampler(_ShardedDraw):
    """``WeightedRandomSampler`` semantics, sharded over ranks.

    Draws ``num_samples`` indices in all (not per rank) with probability proportional to ``weights``,
    with or without replacement; rank ``r`` iterates positions ``r::num_replicas`` of that draw.
    """

    def __init__(
        self,
        weights: Sequence[float] | torch.Tensor,
        num_samples: int,
        *,
        replacement: bool = True,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        w = torch.as_tensor(weights, dtype=torch.double)
        if w.ndim != 1 or len(w) == 0:
            raise ValueError(f"weights must be a non-empty 1-D sequence, got shape {tuple(w.shape)}")
        if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > int((w > 0).sum()):
            raise ValueError(
                f"cannot draw {num_samples} samples without replacement from {int((w > 0).sum())} positive weights"
            )
        super().__init__(num_samples, num_replicas=num_replicas, rank=rank, seed=seed, drop_last=drop_last)
        self.weights = w
        self.replacement = replacement

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        return torch.multinomial(self.weights, self.num_samples, self.replacement, generator=generator)


class DistributedUndersampler(_ShardedDraw):
    """A fresh class-balanced subset every epoch: ``per_class`` examples of each class, no repeats.

    Weighted sampling *without* replacement cannot do this: with weights ``1 / n_c`` the small classes
    run out of mass as they are drawn, and the epoch ends up skewed towards the large ones again. So the
    draw is exact per class (a random ``per_class`` subset of each), then shuffled.
    """

    def __init__(
        self,
        labels: Sequence[int] | torch.Tensor,
        *,
        per_class: int | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        y = torch.as_tensor(labels, dtype=torch.long)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError("labels must be a non-empty 1-D sequence")
        self._members = [torch.nonzero(y == c).flatten() for c in torch.unique(y).tolist()]
        smallest = min(len(m) for m in self._members)
        self.per_class = smallest if per_class is None else per_class
        if not 1 <= self.per_class <= smallest:
            raise ValueError(f"per_class must be in [1, {smallest}] (the smallest class), got {per_class}")
        super().__init__(
            self.per_class * len(self._members), num_replicas=num_replicas, rank=rank, seed=seed,
            drop_last=drop_last,
        )

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        picked = [m[torch.randperm(len(m), generator=generator)[: self.per_class]] for m in self._members]
        pooled = torch.cat(picked)
        return pooled[torch.randperm(len(pooled), generator=generator)]


def balanced_sample_weights(labels: Sequence[int] | torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-example weights ``1 / n_c``: every present class carries the same total weight."""
    y = torch.as_tensor(labels, dtype=torch.long)
    counts = torch.bincount(y, minlength=num_classes).double()
    return 1.0 / counts[y]


def balanced_class_weights(labels: Sequence[int] | torch.Tensor, num_classes: int) -> torch.Tensor:
    """Loss weights ``n / (k * n_c)`` (scikit-learn's "balanced"); classes absent from training get 0.

    ``k`` counts the classes present in ``labels``: scikit-learn weighs only those, and a class the training
    split lacks contributes no loss term to weigh.
    """
    y = torch.as_tensor(labels, dtype=torch.long).numpy()
    present = np.unique(y)
    weights = torch.zeros(num_classes, dtype=torch.double)
    weights[torch.as_tensor(present)] = torch.as_tensor(
        compute_class_weight("balanced", classes=present, y=y), dtype=torch.double
    )
    return weights.float()


def epoch_size(strategy: str, labels: Sequence[int] | torch.Tensor) -> int:
    """How many examples (over all ranks) one epoch of ``strategy`` draws."""
    y = torch.as_tensor(labels, dtype=torch.long)
    if strategy == "undersample":
        return int(torch.unique(y, return_counts=True)[1].min()) * len(torch.unique(y))
    return len(y)


def build_sampler(
    strategy: str,
    labels: Sequence[int] | torch.Tensor,
    num_classes: int,
    *,
    num_replicas: int = 1,
    rank: int = 0,
    seed: int = 0,
) -> _ShardedDraw:
    """The sampler for an imbalance strategy (see the module docstring)."""
    y = torch.as_tensor(labels, dtype=torch.long)
    common = {"num_replicas": num_replicas, "rank": rank, "seed": seed}
    if strategy in ("none", "weighted-loss"):
        uniform = torch.ones(len(y), dtype=torch.double)
        return DistributedWeightedSampler(uniform, len(y), replacement=False, **common)
    if strategy == "oversample":
        return DistributedWeightedSampler(balanced_sample_weights(y, num_classes), len(y), replacement=True, **common)
    if strategy == "undersample":
        return DistributedUndersampler(y, **common)
    raise ValueError(f"unknown imbalance strategy {strategy!r}; expected one of {IMBALANCE_STRATEGIES}")
