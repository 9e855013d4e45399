"""The measuring plan: every point visited once per pass, all models mixed, in a fresh random order per pass.

A shared machine drifts over seconds to minutes (other processes, clocks, thermals). Measured point by point
in one block each, that drift lands on a whole model or a whole batch range, and no interval computed inside a
block can see it. Visiting every (model, batch) point once per pass, in a new seeded random order across *all*
models each pass, spreads the drift over every point, and the differences between a point's passes show how
large it was (``dlplayground.bench.noise``). This is Google Benchmark's random interleaving and asv's
interleaved processes; each pass runs in a fresh worker process (``dlplayground.bench.worker``), so the passes
also differ in what a process fixes for its lifetime.

Each visit re-warms the model briefly (caches and thread pools cooled while other points ran; not for calls
longer than ``rewarm_max_call_s``, except in a fresh worker, where every point's first call is untimed), then
times a fixed number of calls: enough to fill ``pass_time_s`` at the exploratory call time, within
``[min_calls, max_calls]``. The passes spend the time budget by taking fewer calls per pass, not by running
longer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from dlplayground.bench.timing import TimerConfig
from dlplayground.errors import UserInputError

P = TypeVar("P")


@dataclass(frozen=True)
class PassConfig:
    """How many passes, and how each visit of a point is timed."""

    passes: int = 5
    """Passes over all points (``--passes``); the intervals come from the differences between them."""
    pass_time_s: float = 0.1
    """Timed seconds per point per pass (at the exploratory call time)."""
    min_calls: int = 3
    """Timed calls per visit, at least (however slow the call)."""
    max_calls: int = 50
    """...and at most (however fast)."""
    rewarm_calls: int = 1
    """Untimed calls at the start of every visit..."""
    rewarm_s: float = 0.02
    """...continued until this much time has passed..."""
    rewarm_max_call_s: float = 0.05
    """...for points whose call takes at most this long (slower ones are not re-warmed)."""
    seed: int = 0
    """Seeds the visiting order of every pass (recorded, so a run's order can be reproduced)."""

    def __post_init__(self) -> None:
        if self.passes < 2:
            raise UserInputError(f"--passes must be >= 2 (the spread between passes is the noise), got {self.passes}")
        if not self.pass_time_s > 0:
            raise UserInputError(f"pass_time_s must be > 0, got {self.pass_time_s}")
        if not 1 <= self.min_calls <= self.max_calls:
            raise UserInputError(f"need 1 <= min_calls <= max_calls, got {self.min_calls}, {self.max_calls}")

    def calls_for(self, call_s: float) -> int:
        """Timed calls per visit for a point whose call takes about ``call_s``."""
        wanted = math.ceil(self.pass_time_s / call_s) if call_s > 0 else self.max_calls
        return max(self.min_calls, min(self.max_calls, wanted))

    def visit_timer(self, call_s: float, *, threads: int | None, back_to_back: bool,
                    fresh_process: bool = False) -> TimerConfig:
        """The shared timer's settings for one visit of a point whose call takes about ``call_s``.

        ``fresh_process``: the visit is the point's first call in its process (a pass worker), so even a slow
        point gets one untimed call: the first call at a shape pays for lazy initialisation, kernel selection
        and the allocator growing, which are not the model's latency.
        """
        calls = self.calls_for(call_s)
        # A slow call is not re-warmed in the process that explored it: its own length dwarfs a cold cache, and
        # re-warming it would double the cost of the slowest points (they already ran in the exploration).
        rewarm = call_s <= self.rewarm_max_call_s
        warmup_calls = self.rewarm_calls if rewarm else 0
        if fresh_process:
            warmup_calls = max(1, warmup_calls)
        return TimerConfig(warmup_calls=warmup_calls, warmup_s=self.rewarm_s if rewarm else 0.0,
                           min_rounds=calls, max_rounds=calls, target_time_s=self.pass_time_s, threads=threads,
                           back_to_back=back_to_back)


def pass_order(points: Sequence[P], pass_index: int, seed: int) -> list[P]:
    """The points in the visiting order of pass ``pass_index``: a seeded permutation, fresh for each pass."""
    order = np.random.default_rng([seed, pass_index]).permutation(len(points))
    return [points[i] for i in order]
