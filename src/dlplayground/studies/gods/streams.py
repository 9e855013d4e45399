"""Independent random streams, one per purpose and per (fold, repeat), all derived from the one ``--seed``.

The old scheme seeded repeat ``r`` with ``seed + r`` and the sampler's epoch ``e`` with ``seed + e``, so
repeat ``r + 1`` replayed repeat ``r``'s data order shifted by one epoch, and "three seeds" were far from
three independent runs. Here every stream is a node of NumPy's ``SeedSequence`` tree rooted at the run's
seed: the stream for ``(purpose, i, j, ...)`` is ``SeedSequence(seed).spawn(..)[purpose].spawn(..)[i]...``
(``stream`` builds it directly from its ``spawn_key``, which is what ``spawn`` sets, so a stream is
reachable without spawning its siblings). ``SeedSequence`` hashes the whole key together with the root, so
neighbouring keys give unrelated seeds -- nothing is ever "the next seed".

The purposes (``Purpose``) and their keys:

=============  ===========================  ===================================================================
purpose        key                          drives
=============  ===========================  ===================================================================
OUTER_SPLIT    ()                           the stratified outer k-fold shuffle
INNER_SPLIT    (fold,)                      the fold's inner train / inner validation split
INIT           (fold, repeat)               model initialisation (torch's global generator, before building)
DROPOUT        (fold, repeat, rank)         torch's global generator during training (dropout masks)
SAMPLER        (fold, repeat)               the sampler; epoch ``e`` draws from its child ``e``
BOOTSTRAP      ()                           the resamples of every interval (the same for all: paired)
EFFICIENCY     (what, rank)                 the precision/process table's runs (what: 0 init, 1 sampler,
                                            2 dropout) -- the same for every configuration measured
=============  ===========================  ===================================================================

Strategies of one (fold, repeat), and the full- and short-context twins, deliberately share INIT, DROPOUT
and SAMPLER: they start from the same weights and the same stream of draws, so their differences come from
the strategy or the context length, not from the luck of the seed (common random numbers).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Purpose(IntEnum):
    """What a random stream is for; the first element of its key (module docstring)."""

    OUTER_SPLIT = 0
    INNER_SPLIT = 1
    INIT = 2
    DROPOUT = 3
    SAMPLER = 4
    BOOTSTRAP = 5
    EFFICIENCY = 6


def _check_key(key: tuple[int, ...]) -> None:
    if any(isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0 for k in key):
        raise ValueError(f"a stream key is a tuple of non-negative integers, got {key!r}")


def derive_seed(root: int, *key: int, bits: int = 63) -> int:
    """A ``bits``-bit integer seed for the node ``key`` of the ``SeedSequence`` tree rooted at ``root``.

    63 bits suit ``torch.manual_seed`` and ``torch.Generator``; 32 bits suit scikit-learn's ``random_state``.
    """
    if not 1 <= bits <= 64:
        raise ValueError(f"bits must be in [1, 64], got {bits}")
    _check_key(key)
    high, low = np.random.SeedSequence(int(root), spawn_key=tuple(int(k) for k in key)).generate_state(2, np.uint32)
    return ((int(high) << 32) | int(low)) >> (64 - bits)


def stream_seed(root: int, purpose: Purpose, *index: int, bits: int = 63) -> int:
    """The seed of ``purpose``'s stream at ``index`` (e.g. ``(fold, repeat)``), from the run's ``root`` seed."""
    return derive_seed(root, int(purpose), *index, bits=bits)
