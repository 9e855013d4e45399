"""The device's measured ceilings: matrix-multiply throughput and memory bandwidth, for the roofline.

Both are *measured* on this device in this run, not taken from a data sheet, so the roofline compares the
models with what this machine, this torch build and this thread count actually reach:

* **matmul GFLOP/s** -- square ``n x n @ n x n`` products at the benchmark dtype (``2*n**3`` FLOPs per
  call), for ``n = 256, 512, ...`` until one call takes at least ``min_call_s`` (or ``n`` reaches the cap),
  so the sizes suit a 2-core laptop and a data-centre GPU alike; the ceiling is the best size;
* **bandwidth GB/s** -- ``dst.copy_(src)`` of a buffer far larger than the caches, counting the bytes read
  *and* written (``2 * nbytes`` per call).

Both go through the shared timer (``dlplayground.bench.timing.time_call``): the same thread count, warm-up and
device synchronisation as the benchmark points. The ceiling is the *best* call (the fastest sample): a
ceiling is what the device can do, and the best call is the one least disturbed by other work on the
machine; the median is recorded beside it. ``time_fn`` can be replaced, which is how the tests check the
arithmetic without timing anything.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from dlplayground.bench.timing import TimerConfig, time_call
from dlplayground.devices import dtype_name
from dlplayground.results import record_from_dict

TimeFn = Callable[[Callable[[], object], torch.device, TimerConfig], tuple[list[float], int, str]]


@dataclass(frozen=True)
class PeakConfig:
    """How hard to measure the ceilings (quick: about a second; default: a few seconds on a CPU)."""

    min_call_s: float = 0.05
    """Grow the matmul until one call takes at least this long..."""
    min_n: int = 256
    """...starting from this size."""
    max_n: int = 8192
    """...or until n reaches this size (the memory for three n x n matrices must fit)."""
    copy_bytes: int = 256 << 20
    """Size of the buffer copied for the bandwidth (far beyond any cache)."""
    timer: TimerConfig = TimerConfig(warmup_calls=1, warmup_s=0.02, min_rounds=3, max_rounds=100,
                                     target_time_s=0.3)
    """How each matmul size and the copy are timed (warm-up and rounds of the shared timer)."""


QUICK_PEAKS = PeakConfig(min_call_s=0.02, max_n=4096, copy_bytes=64 << 20,
                         timer=TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=3, max_rounds=50,
                                           target_time_s=0.1))
FULL_PEAKS = PeakConfig()
GPU_MAX_N = 16384
GPU_COPY_BYTES = 1 << 30


@dataclass(frozen=True)
class Peaks:
    """The measured ceilings of one device at one dtype (stored as ``environment["peaks"]``)."""

    matmul_gflop_s: float
    """Best call of the square matmul, in GFLOP/s (1e9 FLOP/s)."""
    bandwidth_gb_s: float
    """Best call of the copy, in GB/s (1e9 bytes/s, read + write)."""
    dtype: str
    device: str
    threads: int
    matmul_n: int
    matmul_median_gflop_s: float
    """Median call at ``matmul_n``, for judging how much the machine's other work disturbed the peak."""
    matmul_by_n: list[dict[str, float]]
    """Every size tried: n, best and median GFLOP/s."""
    copy_bytes: int
    bandwidth_median_gb_s: float
    elapsed_s: float
    method: str = "best call: square matmuls n=256,512,... (2*n^3 FLOP); tensor copy (2*bytes); shared timer"

    def __post_init__(self) -> None:
        for name in ("matmul_gflop_s", "bandwidth_gb_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"peaks: {name} must be a finite number > 0, got {value!r}")

    @property
    def ridge_flop_per_byte(self) -> float:
        """Arithmetic intensity where the two roofs meet: below it a kernel cannot be compute-bound."""
        return self.matmul_gflop_s / self.bandwidth_gb_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ridge_flop_per_byte": self.ridge_flop_per_byte}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Peaks:
        """Rebuild from ``to_dict`` output (the stored ``ridge_flop_per_byte`` is derived, so recomputed)."""
        return record_from_dict(cls, data, ignore=("ridge_flop_per_byte",))


def matmul_gflop_s(n: int, seconds: float) -> float:
    """GFLOP/s of one ``n x n @ n x n`` product taking ``seconds`` (multiply-add = 2 FLOPs)."""
    return 2.0 * n**3 / seconds / 1e9


def copy_gb_s(nbytes: int, seconds: float) -> float:
    """GB/s of one copy of ``nbytes`` taking ``seconds``, counting the read and the write."""
    return 2.0 * nbytes / seconds / 1e9


def measure_peaks(
    device: torch.device,
    dtype: torch.dtype,
    config: PeakConfig = FULL_PEAKS,
    *,
    threads: int | None = None,
    time_fn: TimeFn = time_call,
) -> Peaks:
    """Measure the matmul and bandwidth ceilings of ``device`` at ``dtype`` (see the module docstring)."""
    started = time.perf_counter()
    timer = TimerConfig(**{**config.timer.__dict__, "threads": threads})
    max_n, copy_bytes = config.max_n, config.copy_bytes
    if device.type in ("cuda", "mps"):
        max_n, copy_bytes = max(max_n, GPU_MAX_N), max(copy_bytes, GPU_COPY_BYTES)

    # Matmul: time n = min_n, 2*min_n, ... until one call is long enough (or n hits the cap); the ceiling is
    # the best size's best call. On a shared machine short calls are the ones that escape interference, so
    # trying several sizes finds the ceiling that one long product would hide.
    by_n: list[dict[str, float]] = []
    n = min(config.min_n, max_n)
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        out = torch.empty(n, n, device=device, dtype=dtype)

        def matmul(a=a, b=b, out=out) -> object:
            return torch.mm(a, b, out=out)

        samples, used_threads, _ = time_fn(matmul, device, timer)
        by_n.append({"n": n, "best_gflop_s": matmul_gflop_s(n, min(samples)),
                     "median_gflop_s": matmul_gflop_s(n, statistics.median(samples))})
        del a, b, out, matmul
        if min(samples) >= config.min_call_s or n * 2 > max_n:
            break
        n *= 2
    top = max(by_n, key=lambda row: row["best_gflop_s"])

    # Bandwidth: one large copy, read + write.
    numel = max(1, copy_bytes // torch.empty((), dtype=dtype).element_size())
    src = torch.ones(numel, device=device, dtype=dtype)
    dst = torch.empty_like(src)
    nbytes = src.numel() * src.element_size()

    def copy(src=src, dst=dst) -> object:
        return dst.copy_(src)

    samples, _, _ = time_fn(copy, device, timer)
    return Peaks(
        matmul_gflop_s=top["best_gflop_s"], bandwidth_gb_s=copy_gb_s(nbytes, min(samples)),
        dtype=dtype_name(dtype), device=str(device), threads=used_threads, matmul_n=int(top["n"]),
        matmul_median_gflop_s=top["median_gflop_s"], matmul_by_n=by_n,
        copy_bytes=nbytes, bandwidth_median_gb_s=copy_gb_s(nbytes, statistics.median(samples)),
        elapsed_s=time.perf_counter() - started,
    )
