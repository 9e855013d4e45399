"""How long the posts are in tokens, and so whether a long context can matter at all on this data.

A Longformer's reason to exist is reading past one attention window. If no post is longer than the
short-context twin's budget, the twins read identical inputs and the question "does long context help"
has a measured answer before any training: it cannot, here. Lengths are untruncated token counts
(special tokens included) of every scored post, each measured with the tokenizer of its fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENTILES = (0, 10, 25, 50, 75, 90, 99, 100)


@dataclass(frozen=True)
class LengthProfile:
    """Token lengths of the scored posts against the two context lengths."""

    lengths: tuple[int, ...]
    full_length: int
    short_length: int

    @property
    def longest(self) -> int:
        return max(self.lengths) if self.lengths else 0

    def percentiles(self) -> list[float]:
        """The lengths at ``PERCENTILES`` (linear interpolation)."""
        if not self.lengths:
            return [float("nan")] * len(PERCENTILES)
        return [float(v) for v in np.percentile(self.lengths, PERCENTILES)]

    @property
    def beyond_short(self) -> int:
        """Posts the short-context twin truncates."""
        return sum(1 for n in self.lengths if n > self.short_length)

    @property
    def beyond_full(self) -> int:
        """Posts truncated even at the full context length."""
        return sum(1 for n in self.lengths if n > self.full_length)

    @property
    def share_beyond_short(self) -> float:
        return self.beyond_short / len(self.lengths) if self.lengths else 0.0

    @property
    def share_beyond_full(self) -> float:
        return self.beyond_full / len(self.lengths) if self.lengths else 0.0

    @property
    def context_can_matter(self) -> bool:
        """False when every post fits the short budget: the twins would read the same tokens."""
        return self.beyond_short > 0

    def mask_beyond_short(self) -> np.ndarray:
        """Boolean mask of the posts the short twin truncates, in scored order."""
        return np.asarray(self.lengths) > self.short_length

    def to_dict(self) -> dict[str, Any]:
        return {"lengths": list(self.lengths), "full_length": self.full_length, "short_length": self.short_length,
                "percentiles": dict(zip(map(str, PERCENTILES), self.percentiles(), strict=True)),
                "beyond_short": self.beyond_short, "beyond_full": self.beyond_full}


def length_profile(lengths: Sequence[int], full_length: int, short_length: int) -> LengthProfile:
    if short_length >= full_length:
        raise ValueError(f"short_length {short_length} must be below full_length {full_length}")
    return LengthProfile(tuple(int(n) for n in lengths), full_length, short_length)
