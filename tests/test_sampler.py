"""Distributed resampling: disjoint per-rank shares whose pooled class mix matches the target."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from dlplayground.studies.gods.sampler import (
    DistributedUndersampler,
    DistributedWeightedSampler,
    balanced_class_weights,
    balanced_sample_weights,
    build_sampler,
    epoch_size,
)

# An imbalanced label vector like the sample corpus's training split: 144 / 96 / 48 / 32.
COUNTS = (144, 96, 48, 32)
LABELS = torch.cat([torch.full((n,), c) for c, n in enumerate(COUNTS)])


def _shares(sampler_factory, world: int, epoch: int = 0) -> list[list[int]]:
    shares = []
    for rank in range(world):
        sampler = sampler_factory(rank)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
    return shares


@pytest.mark.parametrize("world", [1, 2, 3])
def test_weighted_shares_partition_one_global_draw(world: int) -> None:
    weights = balanced_sample_weights(LABELS, 4)

    def make(rank: int) -> DistributedWeightedSampler:
        return DistributedWeightedSampler(weights, 320, num_replicas=world, rank=rank, seed=7)

    shares = _shares(make, world)
    reference = make(0).global_indices(0).tolist()
    assert all(len(s) == len(make(0)) for s in shares)  # equal counts per rank: DDP steps stay in lockstep
    # The shares are disjoint position slices of the one global draw, and interleave back into it.
    rebuilt = [shares[p % world][p // world] for p in range(len(reference))]
    assert rebuilt == reference
    assert len(reference) == 320 + (-320 % world)  # padded by wrapping to a multiple of world


def test_weighted_without_replacement_gives_disjoint_index_sets() -> None:
    weights = torch.rand(100, generator=torch.Generator().manual_seed(0)) + 0.1
    shares = _shares(lambda r: DistributedWeightedSampler(weights, 60, replacement=False, num_replicas=2, rank=r,
                                                          seed=1), 2)
    assert len(shares[0]) == len(shares[1]) == 30
    assert not set(shares[0]) & set(shares[1])
    assert len(set(shares[0]) | set(shares[1])) == 60


def test_pooled_class_frequencies_match_target_weights() -> None:
    # Target prior 0.1 / 0.2 / 0.3 / 0.4 through per-example weights; pooled over 2 ranks and 20 epochs.
    target = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.double)
    weights = target[LABELS] / torch.tensor(COUNTS, dtype=torch.double)[LABELS]
    pooled: Counter[int] = Counter()
    for epoch in range(20):
        for rank in range(2):
            sampler = DistributedWeightedSampler(weights, 1000, num_replicas=2, rank=rank, seed=3)
            sampler.set_epoch(epoch)
            pooled.update(LABELS[list(sampler)].tolist())
    total = sum(pooled.values())
    observed = torch.tensor([pooled[c] / total for c in range(4)], dtype=torch.double)
    # 20 000 draws: the binomial sd of each share is <= 0.0035; allow about 4 sd.
    assert torch.allclose(observed, target, atol=0.015), observed


def test_oversampling_balances_classes_across_ranks() -> None:
    pooled: Counter[int] = Counter()
    for rank in range(2):
        sampler = build_sampler("oversample", LABELS, 4, num_replicas=2, rank=rank, seed=0)
        for epoch in range(10):
            sampler.set_epoch(epoch)
            pooled.update(LABELS[list(sampler)].tolist())
    shares = [pooled[c] / sum(pooled.values()) for c in range(4)]
    assert shares == pytest.approx([0.25] * 4, abs=0.02)


def test_set_epoch_changes_the_draw_and_is_reproducible() -> None:
    sampler = build_sampler("oversample", LABELS, 4, num_replicas=2, rank=1, seed=5)
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert first != second
    other_seed = build_sampler("oversample", LABELS, 4, num_replicas=2, rank=1, seed=6)
    assert list(other_seed) != first


def test_undersampler_is_exactly_balanced_and_disjoint() -> None:
    shares = _shares(lambda r: DistributedUndersampler(LABELS, num_replicas=2, rank=r, seed=2), 2, epoch=4)
    assert not set(shares[0]) & set(shares[1])  # no example twice in an epoch
    pooled = Counter(LABELS[shares[0] + shares[1]].tolist())
    assert pooled == {0: 32, 1: 32, 2: 32, 3: 32}  # exactly the smallest class's size, per class
    assert epoch_size("undersample", LABELS) == 128


def test_none_strategy_is_a_permutation_split_over_ranks() -> None:
    shares = _shares(lambda r: build_sampler("none", LABELS, 4, num_replicas=2, rank=r, seed=0), 2)
    assert sorted(shares[0] + shares[1]) == list(range(len(LABELS)))


def test_class_weights_are_sklearn_balanced() -> None:
    weights = balanced_class_weights(LABELS, 5)  # class 4 absent from training
    expected = [320 / (4 * n) for n in COUNTS] + [0.0]
    assert weights.tolist() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": [1.0, -1.0], "num_samples": 2}, "non-negative"),
        ({"weights": [0.0, 0.0], "num_samples": 2}, "not all zero"),
        ({"weights": [1.0, 0.0, 1.0], "num_samples": 3, "replacement": False}, "without replacement"),
        ({"weights": [1.0, 1.0], "num_samples": 1, "num_replicas": 2}, "cannot be shared"),
        ({"weights": [1.0, 1.0], "num_samples": 2, "num_replicas": 2, "rank": 2}, "rank must be"),
    ],
)
def test_weighted_sampler_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DistributedWeightedSampler(**kwargs)  # type: ignore[arg-type]
