"""The exploratory doubling that fixes each model's batch range, on synthetic ``measure`` functions.

Each curve is a function batch -> seconds per call with a known answer, so every stop reason can be reached
on purpose and its boundary checked exactly (no real timing).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dlplayground.bench.explore import (
    BATCH_CAP,
    KNEE,
    LATENCY_BUDGET,
    LIST_END,
    OUT_OF_MEMORY,
    STOP_REASONS,
    TIME_CAP,
    OutOfMemoryAtBatch,
    RangeConfig,
    RangeResult,
    explore,
)


class Curve:
    """``measure(batch)`` from a latency function, remembering which batches were asked for."""

    def __init__(self, latency_s: Callable[[int], float], oom_from: int | None = None):
        self.latency_s, self.oom_from = latency_s, oom_from
        self.asked: list[int] = []

    def __call__(self, batch: int) -> float:
        self.asked.append(batch)
        if self.oom_from is not None and batch >= self.oom_from:
            raise OutOfMemoryAtBatch(f"CUDA out of memory. Tried to allocate {batch} GiB")
        return self.latency_s(batch)


def knee_curve(knee: int, overhead_s: float = 1e-3) -> Callable[[int], float]:
    """Latency flat (overhead-bound) up to ``knee`` items, then linear: throughput doubles, then plateaus."""
    return lambda b: overhead_s * max(1.0, b / knee)


def gains_curve(gains: dict[int, float], overhead_s: float = 1e-3) -> Callable[[int], float]:
    """Throughput multiplied by ``gains[b]`` on the doubling that reaches ``b`` (1.0 where not listed)."""
    def latency(b: int) -> float:
        throughput, batch = 1.0 / overhead_s, 1
        while batch < b:
            batch *= 2
            throughput *= gains.get(batch, 1.0)
        return b / throughput
    return latency


def consistent(result: RangeResult, curve: Curve) -> None:
    """The range is ascending, each batch with the call time ``measure`` gave for it."""
    assert list(result.batch_sizes) == sorted(set(result.batch_sizes))
    assert len(result.call_s) == len(result.batch_sizes)
    assert result.call_s == pytest.approx([curve.latency_s(b) for b in result.batch_sizes])
    assert result.stop_reason in STOP_REASONS
    assert result.stop_detail


def test_knee_is_confirmed_two_doublings_past_the_reference():
    curve = Curve(knee_curve(16))
    result = explore(curve, RangeConfig())
    assert result.stop_reason == KNEE
    assert result.batch_sizes == (1, 2, 4, 8, 16, 32, 64)  # 16 is the reference; 32 and 64 confirm it
    assert curve.asked == list(result.batch_sizes)  # nothing past the confirmation is measured
    assert "past batch 16" in result.stop_detail
    assert result.oom_batch_size is None
    consistent(result, curve)


def test_knee_doublings_sets_how_far_past_the_reference_the_range_goes():
    result = explore(Curve(knee_curve(16)), RangeConfig(knee_doublings=3))
    assert result.batch_sizes[-1] == 128


@pytest.mark.parametrize(("gain", "reference", "last"), [(1.04, 16, 64), (1.06, 32, 128)])
def test_one_doubling_gains_just_below_or_just_above_one_plus_eps(gain, reference, last):
    # Throughput doubles up to 16, then the doubling to 32 gains ``gain``: below 1.05 it does not move the
    # reference (16 stays the knee, confirmed at 64), above it 32 becomes the reference (confirmed at 128).
    curve = Curve(gains_curve({2: 2, 4: 2, 8: 2, 16: 2, 32: gain}))
    result = explore(curve, RangeConfig(eps=0.05))
    assert result.stop_reason == KNEE
    assert f"past batch {reference}" in result.stop_detail
    assert result.batch_sizes[-1] == last
    consistent(result, curve)


def test_a_slow_rise_confirms_a_knee_only_when_two_doublings_together_stay_within_eps():
    # Gains are judged against the reference, not the previous batch: 2 % per doubling is 4 % over two
    # doublings (within 5 %: the knee is confirmed at the first reference), while 4 % per doubling is 8.2 %
    # over two, which moves the reference every second doubling, so the rise never counts as a knee.
    slow = Curve(gains_curve({2**k: 1.02 for k in range(1, 17)}))
    result = explore(slow, RangeConfig(eps=0.05, max_batch=1024))
    assert (result.stop_reason, result.batch_sizes) == (KNEE, (1, 2, 4))
    rising = Curve(gains_curve({2**k: 1.04 for k in range(1, 17)}))
    result = explore(rising, RangeConfig(eps=0.05, max_batch=1024))
    assert result.stop_reason == BATCH_CAP
    assert result.batch_sizes[-1] == 1024
    consistent(result, rising)


def test_out_of_memory_records_the_boundary_and_the_message():
    curve = Curve(knee_curve(1024), oom_from=32)
    result = explore(curve, RangeConfig())
    assert result.stop_reason == OUT_OF_MEMORY
    assert result.batch_sizes == (1, 2, 4, 8, 16)  # the batch that ran out is not part of the range
    assert result.oom_batch_size == 32
    assert result.oom_message == "CUDA out of memory. Tried to allocate 32 GiB"
    assert "batch 32" in result.stop_detail
    assert curve.asked[-1] == 32
    consistent(result, curve)


def test_out_of_memory_at_batch_one_leaves_an_empty_range():
    result = explore(Curve(knee_curve(16), oom_from=1), RangeConfig())
    assert (result.batch_sizes, result.call_s, result.oom_batch_size) == ((), (), 1)


def test_latency_budget_stops_at_the_first_batch_over_it():
    curve = Curve(lambda b: 1e-3 * (1 + b))  # still gaining > 5 % per doubling; 9 ms at 8 is the first over 5
    result = explore(curve, RangeConfig(latency_budget_ms=5.0))
    assert result.stop_reason == LATENCY_BUDGET
    assert result.batch_sizes == (1, 2, 4, 8)  # measured, and its p99 decides the SLO pick later
    assert curve.asked == [1, 2, 4, 8]
    assert "5 ms budget" in result.stop_detail
    consistent(result, curve)


def test_time_cap_leaves_the_slow_batch_out():
    curve = Curve(lambda b: 1e-3 * (1 + b))  # still gaining at 16, which takes 17 ms: over the 10 ms cap
    result = explore(curve, RangeConfig(max_call_s=0.01))
    assert result.stop_reason == TIME_CAP
    assert result.batch_sizes == (1, 2, 4, 8)
    assert curve.asked == [1, 2, 4, 8, 16]
    assert "batch 16" in result.stop_detail
    assert "--max-call-s" in result.stop_detail
    consistent(result, curve)


@pytest.mark.parametrize(("max_batch", "last"), [(8, 8), (10, 8), (1, 1)])
def test_batch_cap_ends_a_curve_that_is_still_rising(max_batch, last):
    curve = Curve(lambda b: 1e-3)  # constant latency: every doubling doubles throughput
    result = explore(curve, RangeConfig(max_batch=max_batch))
    assert result.stop_reason == BATCH_CAP
    assert result.batch_sizes[-1] == last
    assert f"{max_batch} batch cap" in result.stop_detail
    consistent(result, curve)


def test_explicit_list_walks_every_batch_past_knee_budget_and_cap():
    # This curve would stop the doubling at its knee, at the latency budget and at the time cap alike.
    curve = Curve(knee_curve(2, overhead_s=0.5))
    config = RangeConfig(max_call_s=0.1, latency_budget_ms=1.0, max_batch=4)
    result = explore(curve, config, explicit=(1, 3, 16, 100))
    assert result.stop_reason == LIST_END
    assert result.batch_sizes == (1, 3, 16, 100)
    assert curve.asked == [1, 3, 16, 100]
    assert "all 4 listed" in result.stop_detail
    consistent(result, curve)


def test_explicit_list_stops_only_on_out_of_memory():
    curve = Curve(knee_curve(2), oom_from=10)
    result = explore(curve, RangeConfig(), explicit=(1, 3, 16, 100))
    assert result.stop_reason == OUT_OF_MEMORY
    assert result.batch_sizes == (1, 3)
    assert result.oom_batch_size == 16
    assert curve.asked == [1, 3, 16]
    consistent(result, curve)
