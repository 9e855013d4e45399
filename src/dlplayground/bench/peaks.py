"""The device's measured ceilings: matrix-multiply throughput and memory bandwidth, for the roofline.

Both are *measured* on this device in this run, not taken from a data sheet, so the roofline compares the
models with what this machine, this torch build and this thread count actually reach:

* **matmul GFLOP/s** -- square ``n x n @ n x n`` products at the benchmark dtype (``2*n**3`` FLOPs per
  call), for ``n = 256, 512, ...`` until one call takes at least ``min_call_s`` (or ``n`` reaches the cap),
  so the sizes suit a 2-core laptop and a data-centre GPU alike;
* **bandwidth GB/s** -- ``dst.copy_(src)`` of a buffer far larger than the caches, counting the bytes read
  *and* written (``2 * nbytes`` per call).

**Interleaved rounds.** A short probe first fixes the list of sizes (growing ``n`` as above). Then
``repeats`` rounds each visit every size *and* the copy once, in a fresh random order per round (seeded, so
a run is reproducible), each visit a short re-warmed block. The reason: a shared machine drifts over
seconds. Timing the sizes one after another, each in one block, lets that drift land on whichever size
happened to run in the fast period, so the "best size" and the ceiling moved between runs (277 GFLOP/s at
n=512 in one run, 333 at n=2048 in the next, on a 2-core machine). Interleaved, a disturbance that spares
one round still leaves every size and the copy an undisturbed visit, so a size wins only by being faster.

The ceiling is the *best* call over all visits (matmul: over sizes and rounds): a ceiling is what the device
can do, and the best call is the one least disturbed by other work; the median is recorded beside it. The
per-round best at the chosen size (and of the copy) is kept too: its relative spread over the rounds,
``(max - min) / max``, says how far the machine moved while the ceilings were measured, and above
``UNSTABLE_SPREAD`` the peaks are flagged unstable (every "% of peak" then carries that much doubt).

Every visit goes through the shared timer (``dlplayground.bench.timing.time_call``): the same thread count,
warm-up and device synchronisation as the benchmark points. ``time_fn`` can be replaced, which is how the
tests drive the schedule with a fake, drifting clock without timing anything; the timed callables are
``MatmulCall`` and ``CopyCall`` objects, so a fake can tell which kernel it is asked to time.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from dlplayground.bench.timing import TimerConfig, time_call
from dlplayground.devices import dtype_name
from dlplayground.errors import UserInputError
from dlplayground.results import record_from_dict

TimeFn = Callable[[Callable[[], object], torch.device, TimerConfig], tuple[list[float], int, str]]

UNSTABLE_SPREAD = 0.10
"""Peaks whose per-round best varies by more than this fraction of the best round are flagged unstable."""
DERIVED_KEYS = ("ridge_flop_per_byte", "matmul_spread", "bandwidth_spread", "unstable")
"""What ``Peaks.to_dict`` adds for readers of the JSON; recomputed, never read back."""


@dataclass(frozen=True)
class PeakConfig:
    """How hard to measure the ceilings (on a 2-core CPU, quick: 1-2 s; default: 2-3 s, about half of it the
    shared timer's garbage collection before each of the ~20 visits)."""

    min_call_s: float = 0.05
    """Grow the matmul until one call takes at least this long..."""
    min_n: int = 256
    """...starting from this size."""
    max_n: int = 8192
    """...or until n reaches this size (the memory for three n x n matrices per size must fit: every size
    stays allocated across the rounds)."""
    copy_bytes: int = 256 << 20
    """Size of the buffer copied for the bandwidth (far beyond any cache)."""
    repeats: int = 3
    """Interleaved rounds: each visits every matmul size and the copy once, in a fresh random order."""
    seed: int = 0
    """Seed of the visiting order (``numpy.random.default_rng``), so a run's schedule is reproducible."""
    probe: TimerConfig = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=1, max_rounds=1, target_time_s=1e-3)
    """How each size is timed while growing ``n`` (only to decide whether to grow; not part of the ceiling)."""
    timer: TimerConfig = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=1, max_rounds=100,
                                     target_time_s=0.03)
    """How one visit is timed: a short re-warm-up (the previous visit left other data in the caches), then
    calls until ``target_time_s``. ``repeats`` short visits cost about what one long block per size did."""

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise UserInputError(f"PeakConfig.repeats must be >= 1, got {self.repeats}")
        if not (0 < self.min_n <= self.max_n):
            raise UserInputError(f"PeakConfig: expected 0 < min_n <= max_n, got min_n={self.min_n}, max_n={self.max_n}")
        if self.copy_bytes < 1:
            raise UserInputError(f"PeakConfig.copy_bytes must be >= 1, got {self.copy_bytes}")


QUICK_PEAKS = PeakConfig(min_call_s=0.02, max_n=4096, copy_bytes=64 << 20, repeats=2,
                         timer=TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=1, max_rounds=50,
                                           target_time_s=0.03))
FULL_PEAKS = PeakConfig()
GPU_MAX_N = 16384
GPU_COPY_BYTES = 1 << 30


def relative_spread(values: tuple[float, ...] | list[float]) -> float | None:
    """``(max - min) / max`` of per-round figures; None with fewer than two rounds (nothing to compare)."""
    if len(values) < 2:
        return None
    top = max(values)
    return (top - min(values)) / top if top > 0 else None


@dataclass(frozen=True)
class Peaks:
    """The measured ceilings of one device at one dtype (stored as ``environment["peaks"]``)."""

    matmul_gflop_s: float
    """Best call of the square matmul over all sizes and rounds, in GFLOP/s (1e9 FLOP/s)."""
    bandwidth_gb_s: float
    """Best call of the copy over all rounds, in GB/s (1e9 bytes/s, read + write)."""
    dtype: str
    device: str
    threads: int
    matmul_n: int
    matmul_median_gflop_s: float
    """Median call at ``matmul_n`` over all its visits, for judging how much other work disturbed the peak."""
    matmul_by_n: list[dict[str, float]]
    """Every size tried: n, best and median GFLOP/s over all its visits."""
    copy_bytes: int
    bandwidth_median_gb_s: float
    elapsed_s: float
    matmul_rounds_gflop_s: tuple[float, ...] = ()
    """Per round, the best call at ``matmul_n`` (empty in records written before the interleaved rounds)."""
    bandwidth_rounds_gb_s: tuple[float, ...] = ()
    """Per round, the best call of the copy."""
    method: str = ("best call over interleaved rounds (each visits every size and the copy in a seeded random "
                   "order): square matmuls n=256,512,... (2*n^3 FLOP); tensor copy (2*bytes); shared timer")

    def __post_init__(self) -> None:
        for name in ("matmul_gflop_s", "bandwidth_gb_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"peaks: {name} must be a finite number > 0, got {value!r}")
        if len(self.matmul_rounds_gflop_s) != len(self.bandwidth_rounds_gb_s):
            raise ValueError(f"peaks: matmul_rounds_gflop_s and bandwidth_rounds_gb_s must have one entry per "
                             f"round each, got {len(self.matmul_rounds_gflop_s)} and {len(self.bandwidth_rounds_gb_s)}")

    @property
    def ridge_flop_per_byte(self) -> float:
        """Arithmetic intensity where the two roofs meet: below it a kernel cannot be compute-bound."""
        return self.matmul_gflop_s / self.bandwidth_gb_s

    @property
    def rounds(self) -> int:
        return len(self.matmul_rounds_gflop_s)

    @property
    def matmul_spread(self) -> float | None:
        """Relative spread of the per-round best GFLOP/s at ``matmul_n``; None with fewer than two rounds."""
        return relative_spread(self.matmul_rounds_gflop_s)

    @property
    def bandwidth_spread(self) -> float | None:
        """Relative spread of the per-round best copy GB/s; None with fewer than two rounds."""
        return relative_spread(self.bandwidth_rounds_gb_s)

    @property
    def unstable(self) -> bool:
        """Whether either ceiling moved by more than ``UNSTABLE_SPREAD`` between rounds."""
        return any(s is not None and s > UNSTABLE_SPREAD for s in (self.matmul_spread, self.bandwidth_spread))

    def stability_warning(self) -> str | None:
        """One line for the terminal summary and the report when the peaks are unstable, else None."""
        if not self.unstable:
            return None
        parts = []
        for name, spread, values, unit in (("matmul", self.matmul_spread, self.matmul_rounds_gflop_s, "GFLOP/s"),
                                           ("copy", self.bandwidth_spread, self.bandwidth_rounds_gb_s, "GB/s")):
            if spread is not None and spread > UNSTABLE_SPREAD:
                parts.append(f"the best {name} call per round ranged {min(values):,.3g}-{max(values):,.3g} "
                             f"{unit} ({spread:.0%})")
        return (f"unstable peaks: over {self.rounds} rounds {' and '.join(parts)}, more than the "
                f"{UNSTABLE_SPREAD:.0%} allowed; other work disturbed the measurement, so percentages of these "
                "ceilings are uncertain by as much")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ridge_flop_per_byte": self.ridge_flop_per_byte,
                "matmul_spread": self.matmul_spread, "bandwidth_spread": self.bandwidth_spread,
                "unstable": self.unstable}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Peaks:
        """Rebuild from ``to_dict`` output (the stored ridge, spreads and flag are derived, so recomputed)."""
        return record_from_dict(cls, data, ignore=DERIVED_KEYS)


def matmul_gflop_s(n: int, seconds: float) -> float:
    """GFLOP/s of one ``n x n @ n x n`` product taking ``seconds`` (multiply-add = 2 FLOPs)."""
    return 2.0 * n**3 / seconds / 1e9


def copy_gb_s(nbytes: int, seconds: float) -> float:
    """GB/s of one copy of ``nbytes`` taking ``seconds``, counting the read and the write."""
    return 2.0 * nbytes / seconds / 1e9


class MatmulCall:
    """One ``n x n @ n x n`` product into a pre-allocated output (the timed unit of the matmul ceiling)."""

    def __init__(self, n: int, device: torch.device, dtype: torch.dtype) -> None:
        self.n = n
        self.a = torch.randn(n, n, device=device).to(dtype)
        self.b = torch.randn(n, n, device=device).to(dtype)
        self.out = torch.empty(n, n, device=device, dtype=dtype)

    def __call__(self) -> object:
        return torch.mm(self.a, self.b, out=self.out)


class CopyCall:
    """One ``dst.copy_(src)`` of about ``nbytes`` (the timed unit of the bandwidth ceiling)."""

    def __init__(self, nbytes: int, device: torch.device, dtype: torch.dtype) -> None:
        numel = max(1, nbytes // torch.empty((), dtype=dtype).element_size())
        self.src = torch.ones(numel, device=device, dtype=dtype)
        self.dst = torch.empty_like(self.src)
        self.nbytes = self.src.numel() * self.src.element_size()

    def __call__(self) -> object:
        return self.dst.copy_(self.src)


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
    timer = replace(config.timer, threads=threads)
    probe = replace(config.probe, threads=threads)
    max_n, copy_bytes = config.max_n, config.copy_bytes
    if device.type in ("cuda", "mps"):
        max_n, copy_bytes = max(max_n, GPU_MAX_N), max(copy_bytes, GPU_COPY_BYTES)

    # The sizes: n = min_n, 2*min_n, ... until one call is long enough (or n hits the cap). Short products
    # are the ones that escape interference on a shared machine, so several sizes find the ceiling that one
    # long product would hide. The probe only decides the list; its samples are not part of the ceiling.
    kernels: list[MatmulCall | CopyCall] = []
    n = min(config.min_n, max_n)
    while True:
        call = MatmulCall(n, device, dtype)
        kernels.append(call)
        samples, _, _ = time_fn(call, device, probe)
        if min(samples) >= config.min_call_s or n * 2 > max_n:
            break
        n *= 2
    kernels.append(CopyCall(copy_bytes, device, dtype))

    # The rounds: each visits every kernel once, in a fresh seeded random order, so drift spreads over all.
    rng = np.random.default_rng(config.seed)
    visits: list[list[list[float]]] = [[] for _ in kernels]  # kernel -> round -> samples
    used_threads = 0
    for _ in range(config.repeats):
        for k in rng.permutation(len(kernels)):
            samples, used_threads, _ = time_fn(kernels[k], device, timer)
            visits[k].append(list(samples))

    by_n = []
    for call, rounds in zip(kernels[:-1], visits[:-1], strict=True):
        every = [s for r in rounds for s in r]
        by_n.append({"n": call.n, "best_gflop_s": matmul_gflop_s(call.n, min(every)),
                     "median_gflop_s": matmul_gflop_s(call.n, statistics.median(every))})
    top = max(range(len(by_n)), key=lambda i: by_n[i]["best_gflop_s"])
    top_n, copy = kernels[top].n, kernels[-1]
    copy_every = [s for r in visits[-1] for s in r]
    return Peaks(
        matmul_gflop_s=by_n[top]["best_gflop_s"], bandwidth_gb_s=copy_gb_s(copy.nbytes, min(copy_every)),
        dtype=dtype_name(dtype), device=str(device), threads=used_threads, matmul_n=top_n,
        matmul_median_gflop_s=by_n[top]["median_gflop_s"], matmul_by_n=by_n,
        copy_bytes=copy.nbytes, bandwidth_median_gb_s=copy_gb_s(copy.nbytes, statistics.median(copy_every)),
        elapsed_s=time.perf_counter() - started,
        matmul_rounds_gflop_s=tuple(matmul_gflop_s(top_n, min(r)) for r in visits[top]),
        bandwidth_rounds_gb_s=tuple(copy_gb_s(copy.nbytes, min(r)) for r in visits[-1]),
    )
