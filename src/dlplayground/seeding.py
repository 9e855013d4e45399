"""Seed every random number generator a study touches, and say which seed was used.

Seeds are recorded in each run's config so a figure can be reproduced; ``torch.use_deterministic_algorithms``
is left alone because it changes kernel choice and hence the very timings the benchmarks measure.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and torch (all devices) with ``seed``; return it for recording."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        from dlplayground.errors import UserInputError

        raise UserInputError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def numpy_rng(seed: int) -> np.random.Generator:
    """A fresh NumPy generator; studies pass it around instead of using the global state."""
    return np.random.default_rng(seed)
