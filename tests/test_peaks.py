"""The measured-peaks arithmetic and schedule, driven by fake timers (no wall-clock figure is asserted).

``ScriptedTimer`` returns given samples per kernel, for exact arithmetic. ``DriftingMachine`` emulates the
shared timer on a fake clock whose speed changes over time, for the reason the rounds are interleaved: a
one-block-per-size schedule hands the ceiling to whichever size ran while the machine was fast.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from dlplayground.bench.peaks import (
    UNSTABLE_SPREAD,
    CopyCall,
    PeakConfig,
    Peaks,
    copy_gb_s,
    matmul_gflop_s,
    measure_peaks,
    relative_spread,
)
from dlplayground.bench.timing import TimerConfig
from dlplayground.errors import UserInputError

CPU = torch.device("cpu")


def label(fn) -> int | str:
    """Which kernel a visit times: the matmul's n, or "copy"."""
    return "copy" if isinstance(fn, CopyCall) else fn.n


class ScriptedTimer:
    """Stands in for ``time_call``: per kernel, the samples of each of its visits in turn (probe first)."""

    def __init__(self, script: dict[int | str, list[list[float]]]):
        self.script = {k: list(v) for k, v in script.items()}
        self.visits: list[tuple[int | str, TimerConfig]] = []

    def __call__(self, fn, device, config):
        fn()  # the timed unit must be callable as built (small sizes here)
        self.visits.append((label(fn), config))
        return self.script[label(fn)].pop(0), 3, "fake"


CONFIG = PeakConfig(min_call_s=0.015, min_n=64, max_n=256, copy_bytes=1 << 20, repeats=2,
                    timer=TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=2, max_rounds=5, target_time_s=0.1))


def test_formulas():
    assert matmul_gflop_s(1000, 0.5) == pytest.approx(4.0)  # 2e9 FLOP in 0.5 s
    assert copy_gb_s(1_000_000_000, 2.0) == pytest.approx(1.0)  # 1 GB read + 1 GB written in 2 s
    assert relative_spread([100.0, 90.0, 95.0]) == pytest.approx(0.1)
    assert relative_spread([100.0]) is None  # one round: nothing to compare


def test_the_ceiling_is_the_best_call_over_sizes_and_rounds_and_the_probe_does_not_count():
    # Probe: n=64 takes 1e-5 s (< min_call_s: grow), n=128 0.02 s (long enough: stop). The probe's n=64 call
    # would be the fastest of all if it counted; it only decides the sizes.
    fake = ScriptedTimer({64: [[1e-5], [2e-4, 3e-4], [2.5e-4]],
                          128: [[0.02], [0.004, 0.005], [0.0015, 0.006]],
                          "copy": [[0.001, 0.0012], [0.0009, 0.002]]})
    peaks = measure_peaks(CPU, torch.float32, CONFIG, threads=2, time_fn=fake)
    assert [row["n"] for row in peaks.matmul_by_n] == [64, 128]
    assert peaks.matmul_n == 128  # 2.80 GFLOP/s at n=128 beats 2.62 at n=64
    assert peaks.matmul_gflop_s == pytest.approx(matmul_gflop_s(128, 0.0015))
    assert peaks.matmul_by_n[0]["best_gflop_s"] == pytest.approx(matmul_gflop_s(64, 2e-4))
    assert peaks.matmul_by_n[0]["median_gflop_s"] == pytest.approx(matmul_gflop_s(64, 2.5e-4))
    assert peaks.matmul_median_gflop_s == pytest.approx(matmul_gflop_s(128, 0.0045))  # median of its 4 calls
    assert peaks.matmul_rounds_gflop_s == pytest.approx((matmul_gflop_s(128, 0.004), matmul_gflop_s(128, 0.0015)))
    assert peaks.copy_bytes == 1 << 20
    assert peaks.bandwidth_gb_s == pytest.approx(copy_gb_s(1 << 20, 0.0009))
    assert peaks.bandwidth_median_gb_s == pytest.approx(copy_gb_s(1 << 20, 0.0011))
    assert peaks.bandwidth_rounds_gb_s == pytest.approx((copy_gb_s(1 << 20, 0.001), copy_gb_s(1 << 20, 0.0009)))
    assert peaks.ridge_flop_per_byte == pytest.approx(peaks.matmul_gflop_s / peaks.bandwidth_gb_s)
    assert peaks.threads == 3  # what the timer reported using
    assert (peaks.dtype, peaks.device) == ("float32", "cpu")
    # The probe uses the probe timer, the rounds the visit timer; both get the benchmark's thread count.
    assert [(k, c.max_rounds) for k, c in fake.visits[:2]] == [(64, 1), (128, 1)]
    assert all(c.max_rounds == 5 for _, c in fake.visits[2:])
    assert all(c.threads == 2 for _, c in fake.visits)
    # Two rounds, each visiting both sizes and the copy once.
    rounds = [k for k, _ in fake.visits[2:]]
    assert sorted(rounds[:3], key=str) == sorted(rounds[3:], key=str) == [128, 64, "copy"]


def test_growth_stops_at_the_size_cap():
    fake = ScriptedTimer({64: [[1e-6], [1e-6]], 128: [[1e-6], [1e-6]], 256: [[1e-6], [1e-6]], "copy": [[0.01]]})
    peaks = measure_peaks(CPU, torch.bfloat16, PeakConfig(**{**CONFIG.__dict__, "repeats": 1}), time_fn=fake)
    assert [row["n"] for row in peaks.matmul_by_n] == [64, 128, 256]  # never long enough: 256 = max_n, stop
    assert peaks.dtype == "bfloat16"
    assert peaks.copy_bytes == 1 << 20  # 512 Ki bfloat16 elements
    assert peaks.matmul_spread is None  # one round: no spread, not unstable
    assert not peaks.unstable


# ------------------------------------------------------------------------------------------ drift
TRUE_GFLOP_S = {64: 9.0, 128: 10.0, 256: 9.0}  # n=128 is the real ceiling
TRUE_GB_S = 10.0
SLOW = 1.5  # while the machine is busy, every call takes 1.5x as long
DRIFT = PeakConfig(min_call_s=1.0, min_n=64, max_n=256, copy_bytes=1 << 20, repeats=5,
                   timer=TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=1, max_rounds=10_000,
                                     target_time_s=0.1))
# Every visit lasts ~0.1 s of fake time (calls are <= 4 ms), so with 4 kernels and 5 rounds: an interleaved
# round spans ~0.4 s; the one-block schedule (64, 128, 256, copy, 5 visits each) spends ~0.5 s per kernel.
FAST_EARLY = 0.45  # fast until then: all of round 1, but only n=64's block of the one-block schedule
FAST_LATE = 1.3  # fast from then: all of round 5, but in the one-block schedule only n=256 and the copy


class DriftingMachine:
    """``time_call`` on a fake clock: each call lasts its true duration times the machine's slowdown then."""

    def __init__(self, slowdown):
        self.now = 0.0
        self.slowdown = slowdown
        self.log: list[int | str] = []

    def call_s(self, kernel) -> float:
        base = (2 * (1 << 20) / (TRUE_GB_S * 1e9) if kernel == "copy"
                else 2 * kernel**3 / (TRUE_GFLOP_S[kernel] * 1e9))
        duration = base * self.slowdown(self.now)
        self.now += duration
        return duration

    def __call__(self, fn, device, config):
        kernel = label(fn)
        self.log.append(kernel)
        for _ in range(config.warmup_calls):
            self.call_s(kernel)
        samples: list[float] = []
        while len(samples) < config.max_rounds:
            samples.append(self.call_s(kernel))
            if len(samples) >= config.min_rounds and sum(samples) >= config.target_time_s:
                break
        return samples, 1, "fake"


def one_block_per_size(machine: DriftingMachine, sizes: list[int]) -> int:
    """The schedule this module replaced: each size (then the copy) in one block of ``repeats`` visits, in
    order; returns the size with the best call."""
    best: dict[int, float] = {}
    for kernel in [*sizes, "copy"]:
        for _ in range(DRIFT.repeats):
            samples, _, _ = machine(SimpleNamespace(n=kernel), CPU, DRIFT.timer)
            if kernel != "copy":
                best[kernel] = max(best.get(kernel, 0.0), matmul_gflop_s(kernel, min(samples)))
    return max(best, key=best.get)


@pytest.mark.parametrize(("slowdown", "one_block_pick"), [
    (lambda t: 1.0 if t < FAST_EARLY else SLOW, 64),  # the machine gets busy: n=64 ran while it was fast
    (lambda t: 1.0 if t >= FAST_LATE else SLOW, 256),  # the machine frees up: n=256 ran while it was fast
], ids=["fast-early", "fast-late"])
def test_interleaved_rounds_find_the_true_ceiling_whichever_way_the_machine_drifts(slowdown, one_block_pick):
    machine = DriftingMachine(slowdown)
    peaks = measure_peaks(CPU, torch.float32, DRIFT, time_fn=machine)
    assert peaks.matmul_n == 128
    assert peaks.matmul_gflop_s == pytest.approx(TRUE_GFLOP_S[128])
    assert peaks.bandwidth_gb_s == pytest.approx(TRUE_GB_S)
    # Each round visits the 3 sizes and the copy once, in a fresh order (after the 3 probe visits).
    rounds = [tuple(machine.log[3 + 4 * r: 7 + 4 * r]) for r in range(DRIFT.repeats)]
    assert all(sorted(r, key=str) == [128, 256, 64, "copy"] for r in rounds)
    assert len(set(rounds)) > 1
    # The seeded order is reproducible.
    again = DriftingMachine(slowdown)
    measure_peaks(CPU, torch.float32, DRIFT, time_fn=again)
    assert again.log == machine.log
    # The rounds saw the machine at both speeds, and say so: per-round best at n=128 is 10 or 10/1.5.
    assert max(peaks.matmul_rounds_gflop_s) == pytest.approx(10.0)
    assert min(peaks.matmul_rounds_gflop_s) == pytest.approx(10.0 / SLOW)
    assert peaks.matmul_spread == pytest.approx(1 - 1 / SLOW)
    assert peaks.unstable
    # The same machine timed one block per size hands the ceiling to the size that ran in the fast period.
    assert one_block_per_size(DriftingMachine(slowdown), [64, 128, 256]) == one_block_pick


def test_a_steady_machine_gives_steady_rounds():
    peaks = measure_peaks(CPU, torch.float32, DRIFT, time_fn=DriftingMachine(lambda t: 1.0))
    assert peaks.matmul_n == 128
    assert peaks.matmul_spread == pytest.approx(0.0)
    assert peaks.bandwidth_spread == pytest.approx(0.0)
    assert len(peaks.matmul_rounds_gflop_s) == len(peaks.bandwidth_rounds_gb_s) == DRIFT.repeats
    assert not peaks.unstable
    assert peaks.stability_warning() is None


# ------------------------------------------------------------------------------- stability record
def make_peaks(matmul_rounds: tuple[float, ...], copy_rounds: tuple[float, ...]) -> Peaks:
    return Peaks(matmul_gflop_s=max(matmul_rounds), bandwidth_gb_s=max(copy_rounds), dtype="float32", device="cpu",
                 threads=2, matmul_n=512, matmul_median_gflop_s=90.0,
                 matmul_by_n=[{"n": 512, "best_gflop_s": max(matmul_rounds), "median_gflop_s": 90.0}],
                 copy_bytes=1 << 26, bandwidth_median_gb_s=9.0, elapsed_s=1.5,
                 matmul_rounds_gflop_s=matmul_rounds, bandwidth_rounds_gb_s=copy_rounds)


def test_peaks_are_unstable_when_a_ceiling_moves_more_than_the_limit_between_rounds():
    assert UNSTABLE_SPREAD == 0.10
    steady = make_peaks((100.0, 95.0, 91.0), (10.0, 9.8, 9.9))  # 9% and 2%
    assert steady.matmul_spread == pytest.approx(0.09)
    assert steady.bandwidth_spread == pytest.approx(0.02)
    assert not steady.unstable
    assert steady.stability_warning() is None
    assert not make_peaks((100.0, 90.0), (10.0, 10.0)).unstable  # exactly 10%: not more than the limit
    shaky_matmul = make_peaks((100.0, 80.0, 95.0), (10.0, 9.8, 9.9))  # 20%
    assert shaky_matmul.unstable
    warning = shaky_matmul.stability_warning()
    assert warning.startswith("unstable peaks: over 3 rounds the best matmul call per round ranged "
                              "80-100 GFLOP/s (20%)")
    assert "copy" not in warning.split(", more than")[0]
    shaky_copy = make_peaks((100.0, 99.0), (10.0, 8.0))  # copy 20%
    assert shaky_copy.unstable
    assert "the best copy call per round ranged 8-10 GB/s (20%), more than the 10% allowed" in (
        shaky_copy.stability_warning())


def test_to_dict_round_trips_and_carries_the_derived_figures():
    peaks = make_peaks((100.0, 80.0), (10.0, 9.5))
    data = peaks.to_dict()
    assert data["ridge_flop_per_byte"] == pytest.approx(10.0)
    assert data["matmul_spread"] == pytest.approx(0.2)
    assert data["bandwidth_spread"] == pytest.approx(0.05)
    assert data["unstable"] is True
    assert Peaks.from_dict(data) == peaks
    # The derived figures are recomputed, not read: a stored flag cannot contradict the rounds.
    assert Peaks.from_dict({**data, "unstable": False}).unstable
    # A record from before the interleaved rounds reads, with no rounds and no verdict on stability.
    old = {k: v for k, v in data.items() if k not in ("matmul_rounds_gflop_s", "bandwidth_rounds_gb_s")}
    assert Peaks.from_dict(old).matmul_spread is None
    assert not Peaks.from_dict(old).unstable


def test_from_dict_is_strict():
    data = make_peaks((100.0, 80.0), (10.0, 9.5)).to_dict()
    with pytest.raises(ValueError, match="unknown field"):
        Peaks.from_dict({**data, "repeat_spread": 0.1})
    with pytest.raises(ValueError, match=r"matmul_rounds_gflop_s\[1\] must be float"):
        Peaks.from_dict({**data, "matmul_rounds_gflop_s": [100.0, "fast"]})
    with pytest.raises(ValueError, match="one entry per round each, got 3 and 2"):
        Peaks.from_dict({**data, "matmul_rounds_gflop_s": [100.0, 90.0, 95.0]})
    with pytest.raises(ValueError, match="missing field 'matmul_n'"):
        Peaks.from_dict({k: v for k, v in data.items() if k != "matmul_n"})


def test_config_is_validated():
    with pytest.raises(UserInputError, match="repeats must be >= 1, got 0"):
        PeakConfig(repeats=0)
    with pytest.raises(UserInputError, match="min_n <= max_n"):
        PeakConfig(min_n=512, max_n=256)


def test_real_measurement_runs_and_is_finite():
    """Shape only: the real timer on a tiny configuration returns positive finite ceilings."""
    tiny = PeakConfig(min_call_s=1e-9, min_n=32, max_n=32, copy_bytes=1 << 16, repeats=2,
                      timer=TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=2, max_rounds=2,
                                        target_time_s=1e-6))
    peaks = measure_peaks(CPU, torch.float32, tiny)
    assert peaks.matmul_n == 32
    assert math.isfinite(peaks.matmul_gflop_s)
    assert peaks.matmul_gflop_s > 0
    assert math.isfinite(peaks.bandwidth_gb_s)
    assert peaks.bandwidth_gb_s > 0
    assert len(peaks.matmul_rounds_gflop_s) == len(peaks.bandwidth_rounds_gb_s) == 2
