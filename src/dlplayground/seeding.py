"""Seed every random number generator a study touches, and say which seed was used.

Seeds are recorded in each run's config so a figure can be reproduced; ``torch.use_deterministic_algorithms``
is left alone because it changes kernel choice and hence the very timings the benchmarks measure.
"""

from __future__ import annotations

import random

import numpy as np
import torch

MAX_SEED = 2**32 - 1
"""The largest seed a user may give (``--seed`` of every command): NumPy's legacy seeding takes 32 bits."""


def check_seed(seed: int, option: str = "--seed") -> int:
    """``seed`` if it is a seed every generator takes, else ``UserInputError`` naming ``option`` and the range."""
    if not 0 <= seed <= MAX_SEED:
        from dlplayground.errors import UserInputError

        raise UserInputError(f"{option} must be in 0..{MAX_SEED}, got {seed}")
    return seed


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
