"""The measured-peaks arithmetic and search, driven by a fake timer (no wall-clock figure is asserted)."""

from __future__ import annotations

import math

import pytest
import torch

from dlplayground.bench.peaks import PeakConfig, Peaks, copy_gb_s, matmul_gflop_s, measure_peaks
from dlplayground.bench.timing import TimerConfig


class FakeTimer:
    """Stands in for ``time_call``: returns scripted samples, remembers what it was asked to time."""

    def __init__(self, *scripted: list[float]):
        self.scripted = list(scripted)
        self.configs: list[TimerConfig] = []

    def __call__(self, fn, device, config):
        fn()  # the closure must be callable as built (small sizes here)
        self.configs.append(config)
        return self.scripted.pop(0), 3, "fake"


CONFIG = PeakConfig(min_call_s=0.015, min_n=64, max_n=256, copy_bytes=1 << 20,
                    timer=TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=2, max_rounds=5, target_time_s=0.1))


def test_formulas():
    assert matmul_gflop_s(1000, 0.5) == pytest.approx(4.0)  # 2e9 FLOP in 0.5 s
    assert copy_gb_s(1_000_000_000, 2.0) == pytest.approx(1.0)  # 1 GB read + 1 GB written in 2 s


def test_matmul_grows_until_a_call_is_long_enough_and_keeps_the_best_size():
    # n=64: fastest call 0.01 s (< min_call_s, grow); n=128: 0.02 s (long enough, stop); then the copy.
    fake = FakeTimer([0.01, 0.012], [0.03, 0.02, 0.04], [0.004, 0.005, 0.006])
    peaks = measure_peaks(torch.device("cpu"), torch.float32, CONFIG, threads=2, time_fn=fake)
    assert [row["n"] for row in peaks.matmul_by_n] == [64, 128]
    best_64, best_128 = 2 * 64**3 / 0.01 / 1e9, 2 * 128**3 / 0.02 / 1e9
    assert peaks.matmul_by_n[0]["best_gflop_s"] == pytest.approx(best_64)
    assert best_128 > best_64
    assert peaks.matmul_gflop_s == pytest.approx(best_128)
    assert peaks.matmul_n == 128
    assert peaks.matmul_median_gflop_s == pytest.approx(2 * 128**3 / 0.03 / 1e9)
    assert peaks.copy_bytes == 1 << 20
    assert peaks.bandwidth_gb_s == pytest.approx(2 * (1 << 20) / 0.004 / 1e9)
    assert peaks.bandwidth_median_gb_s == pytest.approx(2 * (1 << 20) / 0.005 / 1e9)
    assert peaks.ridge_flop_per_byte == pytest.approx(peaks.matmul_gflop_s / peaks.bandwidth_gb_s)
    assert peaks.threads == 3  # what the timer reported using
    assert all(c.threads == 2 for c in fake.configs)  # the benchmark's thread count is passed on
    assert (peaks.dtype, peaks.device) == ("float32", "cpu")


def test_a_faster_smaller_size_sets_the_ceiling():
    fake = FakeTimer([0.0001], [0.05], [0.01])  # n=64 at 5.2 GFLOP/s beats n=128 at 0.08
    peaks = measure_peaks(torch.device("cpu"), torch.float32, CONFIG, time_fn=fake)
    assert peaks.matmul_n == 64
    assert peaks.matmul_gflop_s == pytest.approx(2 * 64**3 / 0.0001 / 1e9)


def test_growth_stops_at_the_size_cap():
    fake = FakeTimer([1e-6], [1e-6], [1e-6], [0.01])  # never long enough: 64, 128, 256 (= max_n), stop
    peaks = measure_peaks(torch.device("cpu"), torch.bfloat16, CONFIG, time_fn=fake)
    assert [row["n"] for row in peaks.matmul_by_n] == [64, 128, 256]
    assert peaks.dtype == "bfloat16"
    assert peaks.copy_bytes == 1 << 20  # 512 Ki bfloat16 elements


def test_to_dict_round_trips_and_carries_the_ridge():
    fake = FakeTimer([0.02], [0.01])
    peaks = measure_peaks(torch.device("cpu"), torch.float32, CONFIG, time_fn=fake)
    data = peaks.to_dict()
    for key in ("matmul_gflop_s", "bandwidth_gb_s", "dtype", "ridge_flop_per_byte", "matmul_by_n", "threads"):
        assert key in data
    assert Peaks.from_dict(data) == peaks


def test_real_measurement_runs_and_is_finite():
    """Shape only: the real timer on a tiny configuration returns positive finite ceilings."""
    tiny = PeakConfig(min_call_s=1e-9, min_n=32, max_n=32, copy_bytes=1 << 16,
                      timer=TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=2, max_rounds=2,
                                        target_time_s=1e-6))
    peaks = measure_peaks(torch.device("cpu"), torch.float32, tiny)
    assert peaks.matmul_n == 32
    assert math.isfinite(peaks.matmul_gflop_s)
    assert peaks.matmul_gflop_s > 0
    assert math.isfinite(peaks.bandwidth_gb_s)
    assert peaks.bandwidth_gb_s > 0
