"""The one synchronized timer. Every latency figure in DL-Playground is measured here.

The gotchas live inside, where callers cannot forget them (STYLE.md, point 3):

* the thread count is fixed before timing and recorded with the samples;
* warm-up calls run first (lazy init, allocator growth, oneDNN/cuDNN algorithm selection);
* the device is synchronized before and after every timed call, so asynchronous CUDA/MPS launches are not
  mistaken for finished work; on CUDA the interval comes from CUDA events, which time the device stream
  rather than the host;
* the garbage collector is collected before and disabled during measurement;
* every per-call sample is kept; statistics are derived from them later (``results.TimingRecord``);
* with ``back_to_back`` the same number of calls is also run as one block with a single synchronization at
  the end (what ``torch.utils.benchmark`` measures): on CUDA and MPS, where launches are asynchronous, the
  per-call figure is what one request sees and the back-to-back figure what a saturated server gets; their
  gap is the launch and synchronization overhead.

The sweep calls ``time_visit`` once per point per pass (``dlplayground.bench.sweep``): a short re-warm-up,
then a fixed number of calls (``min_rounds == max_rounds``, chosen per point from an exploratory call).

The number of timed rounds adapts: at least ``min_rounds``, then more until ``target_time_s`` of samples has
been gathered or ``max_rounds`` is reached, so a 50 us MLP call and a 1 s CNN call both get enough samples
without the sweep taking all day. ``clock`` and ``sync`` can be replaced, which is how the tests drive the
timer with a fake clock.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from dlplayground.devices import cpu_threads, dtype_name, peak_memory, reset_peak_memory, synchronize
from dlplayground.errors import UserInputError
from dlplayground.results import TimingRecord


@dataclass(frozen=True)
class TimerConfig:
    """How much to warm up and how long to measure one benchmark point."""

    warmup_calls: int = 3
    """Untimed calls before measuring (the first call pays one-off costs; 0 only for a point that already ran,
    as in the sweep's passes)."""
    warmup_s: float = 0.1
    """...and keep warming up until this much time has passed (thread pools, caches, CPU clocks settle)."""
    min_rounds: int = 5
    """Timed calls always made, however slow the call."""
    max_rounds: int = 200
    """Upper bound on timed calls, however fast the call."""
    target_time_s: float = 0.5
    """Stop after this much measured time once ``min_rounds`` are in."""
    threads: int | None = None
    """Intra-op threads for torch on the CPU; None keeps the current setting (it is recorded either way)."""
    back_to_back: bool = False
    """Also time the calls as one back-to-back block (one sync at the end); meaningful on CUDA/MPS."""

    def __post_init__(self) -> None:
        if self.warmup_calls < 0:
            raise UserInputError(f"warmup_calls must be >= 0, got {self.warmup_calls}")
        if self.warmup_s < 0:
            raise UserInputError(f"warmup_s must be >= 0, got {self.warmup_s}")
        if self.min_rounds < 1:
            raise UserInputError(f"min_rounds must be >= 1, got {self.min_rounds}")
        if self.max_rounds < self.min_rounds:
            raise UserInputError(f"max_rounds ({self.max_rounds}) must be >= min_rounds ({self.min_rounds})")
        if not self.target_time_s > 0:
            raise UserInputError(f"target_time_s must be > 0, got {self.target_time_s}")
        if self.threads is not None and self.threads < 1:
            raise UserInputError(f"--threads must be >= 1, got {self.threads}")


@dataclass(frozen=True)
class PointSpec:
    """What is being timed: identifies the record in reports and comparisons."""

    model: str
    family: str
    batch_size: int
    device: torch.device
    dtype: torch.dtype


def _interval_timer(device: torch.device, clock: Callable[[], float], sync: Callable[[torch.device], None]):
    """Return ``time_once(fn) -> seconds`` for the device: CUDA events on CUDA, a host clock elsewhere."""
    if device.type == "cuda" and clock is time.perf_counter:
        def time_once(fn: Callable[[], object]) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            sync(device)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3  # CUDA events report milliseconds
        return time_once, "cuda_event"

    def time_once(fn: Callable[[], object]) -> float:
        sync(device)
        start = clock()
        fn()
        sync(device)
        return clock() - start
    return time_once, "perf_counter"


@contextmanager
def collector_off() -> Iterator[None]:
    """Disable the garbage collector for the timed region (a collection mid-call is not the model's time) and
    restore its previous state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_call(
    fn: Callable[[], object],
    device: torch.device,
    config: TimerConfig,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sync: Callable[[torch.device], None] = synchronize,
) -> tuple[list[float], int, str]:
    """Time ``fn`` on ``device``: returns (per-call seconds, thread count used, timer kind).

    Warm-up runs ``warmup_calls`` calls and continues until ``warmup_s`` has elapsed; then timed rounds run
    until ``min_rounds`` are in and ``target_time_s`` of samples is gathered, or ``max_rounds`` is hit.
    """
    with cpu_threads(config.threads) as threads:
        time_once, kind = _interval_timer(device, clock, sync)
        warm_start = clock()
        warm_calls = 0
        while warm_calls < config.warmup_calls or clock() - warm_start < config.warmup_s:
            fn()
            sync(device)
            warm_calls += 1
        samples: list[float] = []
        gc.collect()
        with collector_off():
            while len(samples) < config.max_rounds:
                samples.append(time_once(fn))
                if len(samples) >= config.min_rounds and sum(samples) >= config.target_time_s:
                    break
        return samples, threads, kind


@dataclass(frozen=True)
class Visit:
    """One visit of a point: its per-call samples and, if asked for, its back-to-back seconds per call."""

    times_s: tuple[float, ...]
    block_s: float | None
    threads: int
    timer: str
    warmup_calls: int
    """The untimed calls this visit began with (at least; warm-up also runs for ``warmup_s``)."""


def time_visit(
    fn: Callable[[], object],
    device: torch.device,
    config: TimerConfig,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sync: Callable[[torch.device], None] = synchronize,
) -> Visit:
    """Time ``fn`` as ``time_call`` does, then (with ``config.back_to_back``) as one back-to-back block of as
    many calls, synchronizing once at the end; both under the same thread count, with the collector off."""
    with cpu_threads(config.threads):
        samples, threads, kind = time_call(fn, device, config, clock=clock, sync=sync)
        block_s = None
        if config.back_to_back:
            with collector_off():
                sync(device)
                start = clock()
                for _ in samples:
                    fn()
                sync(device)
                block_s = (clock() - start) / len(samples)
    return Visit(tuple(samples), block_s, threads, kind, config.warmup_calls)


def inference_call(model: torch.nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> Callable[[], object]:
    """The timed unit: one forward pass in eval and inference mode on pre-allocated inputs."""
    model.eval()
    args = inputs if isinstance(inputs, tuple) else (inputs,)

    def forward() -> object:
        with torch.inference_mode():
            return model(*args)

    return forward


def measure_inference(
    model: torch.nn.Module,
    inputs: torch.Tensor | tuple[torch.Tensor, ...],
    spec: PointSpec,
    config: TimerConfig,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sync: Callable[[torch.device], None] = synchronize,
) -> TimingRecord:
    """Time one forward pass of ``model`` on pre-allocated ``inputs`` in one visit (a single pass).

    The model and inputs must already be on ``spec.device`` in ``spec.dtype``: moving data is not part of
    inference latency, so it is not timed.
    """
    reset_peak_memory(spec.device)
    visit = time_visit(inference_call(model, inputs), spec.device, config, clock=clock, sync=sync)
    peak, memory_kind = peak_memory(spec.device)
    return TimingRecord(
        model=spec.model, family=spec.family, device=str(spec.device), dtype=dtype_name(spec.dtype),
        batch_size=spec.batch_size, threads=visit.threads, warmup_calls=config.warmup_calls,
        times_s=visit.times_s, block_times_s=() if visit.block_s is None else (visit.block_s,), timer=visit.timer,
        peak_memory_bytes=peak, memory_kind=memory_kind,
    )
