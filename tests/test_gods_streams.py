"""Seed streams: two repeats draw independent data orders, initial weights and dropout; the old scheme did not."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dlplayground.studies.gods.sampler import build_sampler
from dlplayground.studies.gods.streams import Purpose, derive_seed, stream_seed

LABELS = torch.cat([torch.full((n,), c) for c, n in enumerate((144, 96, 48, 32))])
EPOCHS = 6


def _epochs(seed: int, strategy: str = "none") -> list[list[int]]:
    sampler = build_sampler(strategy, LABELS, 4, seed=seed)
    return [sampler.global_indices(epoch).tolist() for epoch in range(EPOCHS)]


def _replayed(first: list[list[int]], second: list[list[int]]) -> bool:
    """Whether any epoch of one run is an epoch of the other (a replayed data order)."""
    return any(a == b for a, b in itertools.product(first, second))


def _old_epochs(seed: int) -> list[list[int]]:
    """The former scheme: epoch e of a run seeded ``seed`` used a generator seeded ``seed + e``."""
    out = []
    for epoch in range(EPOCHS):
        generator = torch.Generator().manual_seed(seed + epoch)
        out.append(torch.multinomial(torch.ones(len(LABELS), dtype=torch.double), len(LABELS), False,
                                     generator=generator).tolist())
    return out


def test_the_replay_check_catches_the_old_scheme() -> None:
    # Repeat r + 1 = seed + 1 replayed repeat r's epochs one later: the check below must be able to fail.
    assert _old_epochs(0)[1:] == _old_epochs(1)[:-1]
    assert _replayed(_old_epochs(0), _old_epochs(1))


@pytest.mark.parametrize("strategy", ["none", "oversample", "undersample"])
def test_two_repeats_never_replay_each_others_data_order(strategy: str) -> None:
    first = _epochs(stream_seed(0, Purpose.SAMPLER, 0, 0), strategy)
    second = _epochs(stream_seed(0, Purpose.SAMPLER, 0, 1), strategy)
    assert not _replayed(first, second)
    assert len({tuple(e) for e in first}) == EPOCHS  # every epoch a fresh draw


def test_two_repeats_data_orders_are_uncorrelated() -> None:
    # Position of each example in the epoch: independent permutations have rank correlation ~ N(0, 1/sqrt(n)).
    first = _epochs(stream_seed(3, Purpose.SAMPLER, 1, 0))
    second = _epochs(stream_seed(3, Purpose.SAMPLER, 1, 1))
    n = len(LABELS)
    for a, b in zip(first, second, strict=True):
        rank_a, rank_b = np.argsort(a), np.argsort(b)
        rho = np.corrcoef(rank_a, rank_b)[0, 1]
        assert abs(rho) < 4 / np.sqrt(n), rho


def test_two_repeats_start_from_different_weights_and_dropout() -> None:
    def draws(purpose: Purpose, *key: int) -> torch.Tensor:
        torch.manual_seed(stream_seed(0, purpose, *key))
        return torch.rand(1000)

    init_0, init_1 = draws(Purpose.INIT, 0, 0), draws(Purpose.INIT, 0, 1)
    assert abs(float(torch.corrcoef(torch.stack([init_0, init_1]))[0, 1])) < 0.15
    assert not torch.equal(draws(Purpose.DROPOUT, 0, 0, 0), draws(Purpose.DROPOUT, 0, 0, 1))  # per rank too


def test_every_stream_of_a_run_has_its_own_seed() -> None:
    keys = [(p, f, r) for p in (Purpose.INIT, Purpose.DROPOUT, Purpose.SAMPLER) for f in range(5) for r in range(5)]
    seeds = {stream_seed(7, p, f, r) for p, f, r in keys}
    assert len(seeds) == len(keys)
    # The root matters, and neighbouring roots are unrelated (no "seed + 1" structure).
    assert stream_seed(7, Purpose.SAMPLER, 0, 0) != stream_seed(8, Purpose.SAMPLER, 0, 0)
    assert stream_seed(7, Purpose.SAMPLER, 0, 1) != stream_seed(8, Purpose.SAMPLER, 0, 0)


def test_streams_are_the_seed_sequence_spawn_tree_and_reproducible() -> None:
    child = np.random.SeedSequence(11).spawn(int(Purpose.SAMPLER) + 1)[Purpose.SAMPLER].spawn(3)[2]
    high, low = child.generate_state(2, np.uint32)
    assert stream_seed(11, Purpose.SAMPLER, 2) == ((int(high) << 32) | int(low)) >> 1
    assert stream_seed(11, Purpose.SAMPLER, 2) == stream_seed(11, Purpose.SAMPLER, 2)
    assert 0 <= derive_seed(11, 2, bits=32) < 2**32
    with pytest.raises(ValueError, match="non-negative integers"):
        derive_seed(11, -1)
