"""Memory per batch-size point: the peak of tensor memory during one forward, and the batch that fills a budget.

**Why a per-point peak, not the process's RSS.** The process's max resident set size is monotonic over the
whole run: once a batch-4096 point has run, every later point -- and, in a report sorted by batch, every
earlier one -- shows the same figure (798 MiB for every MLP point from batch 1 to 4096 in the run that
prompted this module). It also counts the interpreter, the libraries and the allocator's cache. A user who
plans a batch size against memory needs what *this* forward at *this* batch needs, so each point measures
its own window: the peak of tensor memory from just before one forward to just after it.

**What is measured, per device** (``MemoryPeak.kind`` names it, so a report never passes one off as
another):

* **CUDA** -- the caching allocator's own high-water mark: ``reset_peak_memory_stats``, then
  ``memory_allocated`` as the baseline, one forward, ``max_memory_allocated`` minus the baseline. Exact to
  the allocator's block rounding (512 B); workspaces that libraries take through the allocator count.
* **CPU** -- the torch profiler with ``profile_memory=True`` records one ``[memory]`` event per tensor
  allocation (``+bytes``) and free (``-bytes``) made through the CPU allocator. Sorted by time, their
  running sum is the tensor memory allocated by the forward and still alive at each instant; its maximum
  (at least 0) is the activation peak. How the events are read, and why that way, is in
  ``cpu_memory_events``. Memory that a library takes behind torch's allocator (oneDNN's scratchpads, BLAS
  buffers, the allocator's own bookkeeping) is invisible here -- the figure is the *tensor* peak.
* **MPS** -- MPS has no peak counter. Its cache is emptied, then ``driver_allocated_memory`` is read
  before and after one forward: the pool only grows while the forward runs (freed buffers stay in the
  cache), so the growth is the forward's high-water mark rounded up to the driver's heaps -- an upper bound.

**Conventions.** One unmeasured forward runs first (``warmup_calls``), so one-time allocations (cuBLAS
workspaces, lazily built caches) are not charged to the first point. The forward runs under
``torch.inference_mode()``; the model's mode (eval/train) is the caller's. The inputs arrive already on the
device and are *not* part of the activation peak (they existed before the window); they are counted in
``input_bytes`` because they grow with the batch and occupy the device during the forward. Nothing is
timed here. ``MemoryPeak.peak_bytes`` = parameters and buffers + inputs + activation peak: the model's own
footprint at that batch, the quantity a memory budget is compared with.

**The fill batch.** Tensor memory in a forward is, to a good approximation, a fixed part (parameters,
workspaces) plus a part linear in the batch (every activation has the batch as a dimension), so
``peak(b) = m0 + m1*b`` is fitted to the measured points and solved for the budget: ``fill_batch``. It is
checked against a measured out-of-memory boundary, where the sweep hit one, by ``check_against_oom``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dlplayground.errors import UserInputError

CUDA_KIND = "cuda allocator peak during one forward"
CPU_KIND = "cpu tensor peak during one forward (torch profiler memory events)"
MPS_KIND = "mps driver allocation growth during one forward (cache emptied first; heap-granular upper bound)"
MEMORY_EVENT_NAME = "[memory]"
"""The name the profiler gives its allocation/free records (``torch.autograd.profiler_util.MEMORY_EVENT_NAME``)."""
_CPU_DEVICE_TYPES = ("CPU", "MKLDNN", "IDEEP")
"""Device types whose records are host memory: the same set torch's own profiler tables count as CPU memory."""


# ------------------------------------------------------------------------------------------ one point
@dataclass(frozen=True)
class MemoryPeak:
    """The memory of one forward at one batch, with what was measured."""

    activation_peak_bytes: int | None
    """Peak of tensor memory allocated during the forward above what existed before it (None: not measurable
    on this device)."""
    parameter_bytes: int
    """Parameters and buffers of the model (each tensor once)."""
    kind: str
    """What ``activation_peak_bytes`` is, in words (``CUDA_KIND``, ``CPU_KIND``, ``MPS_KIND`` or why none)."""
    input_bytes: int = 0
    """The forward's inputs (already on the device before the window, so outside the activation peak)."""

    @property
    def peak_bytes(self) -> int | None:
        """Parameters + inputs + activation peak: the model's footprint at this batch (None when unmeasured)."""
        if self.activation_peak_bytes is None:
            return None
        return self.parameter_bytes + self.input_bytes + self.activation_peak_bytes


def parameter_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers; a tensor shared between modules counts once."""
    seen: set[int] = set()
    total = 0
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        if id(tensor) not in seen:
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total


def forward_peak_bytes(model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...],
                       device: torch.device | str, *, warmup_calls: int = 1,
                       around: contextlib.AbstractContextManager[Any] | None = None) -> MemoryPeak:
    """Measure the peak of tensor memory during ONE forward of ``model(*inputs)`` on ``device``.

    ``inputs`` must already be on ``device``. ``warmup_calls`` unmeasured forwards run first (see the module
    docstring). The output is kept alive until the window closes, so its own free is never recorded and it
    counts in the peak, as it occupies memory when the forward returns. ``around`` is entered around the
    measured forward only: a counter that watches the same forward (``flops.ForwardCounter``; it allocates no
    tensors, so the peak is unchanged), saving a forward per point.
    """
    if warmup_calls < 0:
        raise UserInputError(f"warmup_calls must be >= 0, got {warmup_calls}")
    device = torch.device(device)
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    in_bytes = sum(t.numel() * t.element_size() for t in args if isinstance(t, torch.Tensor))
    params = parameter_bytes(model)

    def call() -> object:
        with around if around is not None else contextlib.nullcontext():
            return model(*args)

    with torch.inference_mode():
        for _ in range(warmup_calls):
            model(*args)
        if device.type == "cuda":
            peak, kind = _cuda_peak(call, device)
        elif device.type == "cpu":
            peak, kind = _cpu_peak(call)
        elif device.type == "mps":
            peak, kind = _mps_peak(call)
        else:
            peak, kind = None, f"unavailable: no per-forward memory counter for device type {device.type!r}"
    return MemoryPeak(activation_peak_bytes=peak, parameter_bytes=params, kind=kind, input_bytes=in_bytes)


def _cuda_peak(call: Callable[[], object], device: torch.device) -> tuple[int, str]:
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    out = call()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - baseline
    del out
    return max(int(peak), 0), CUDA_KIND


def _mps_peak(call: Callable[[], object]) -> tuple[int, str]:  # pragma: no cover - needs Apple silicon
    torch.mps.synchronize()
    torch.mps.empty_cache()
    baseline = torch.mps.driver_allocated_memory()
    out = call()
    torch.mps.synchronize()
    peak = torch.mps.driver_allocated_memory() - baseline
    del out
    return max(int(peak), 0), MPS_KIND


def _cpu_peak(call: Callable[[], object]) -> tuple[int, str]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = call()
    del out  # after the window: its free is not an event of this forward
    return running_peak(cpu_memory_events(prof)), CPU_KIND


# ------------------------------------------------------------------------------------------ profiler events
def cpu_memory_events(prof: Any) -> list[tuple[float, int]]:
    """The host-memory ``(time, signed bytes)`` records of a finished ``torch.profiler.profile``, in time order.

    How torch 2.13 exposes them, and why they are read this way:

    * ``prof.events()`` / ``key_averages()`` (the public tables) do **not** list every record: while building
      them, torch folds each ``[memory]`` record into the op whose time interval encloses it (the op's
      ``cpu_memory_usage`` is then the *net* bytes, allocations minus frees) and keeps as ``[memory]`` events
      only the records that fall outside every op. For ``Linear -> ReLU -> Linear`` that left 2 of the 5
      records (two frees) -- no peak can be recovered from it.
    * The complete stream is the raw Kineto result that those tables are built from,
      ``prof.profiler.kineto_results.events()``: one event per record, named ``[memory]``, with
      ``nbytes()`` (negative for a free), ``start_ns()`` and ``device_type()``. This is what torch's own
      ``_parse_kineto_results`` and memory profiler read; it is tried first (no file, integer nanoseconds).
    * If that attribute path ever changes, the same records are in the documented Chrome trace export
      (``prof.export_chrome_trace``): instant events named ``[memory]`` with ``args["Bytes"]`` and
      ``args["Device Type"]`` (0 = CPU), and ``ts`` in microseconds. It is written to a temporary file
      and read back.

    Only CPU-like device types count (CPU, MKLDNN, IDEEP), as in torch's tables. The sort is stable, so
    records with equal times keep the order the profiler recorded them in.
    """
    try:
        events = _kineto_memory_events(prof)
    except (AttributeError, TypeError):
        events = _chrome_trace_memory_events(prof)
    return sorted(events, key=lambda e: e[0])


def _kineto_memory_events(prof: Any) -> list[tuple[float, int]]:
    cpu_types = {getattr(torch._C._autograd.DeviceType, name) for name in _CPU_DEVICE_TYPES}
    return [(float(e.start_ns()), int(e.nbytes())) for e in prof.profiler.kineto_results.events()
            if e.name() == MEMORY_EVENT_NAME and e.device_type() in cpu_types]


def _chrome_trace_memory_events(prof: Any) -> list[tuple[float, int]]:
    cpu_codes = {int(getattr(torch._C._autograd.DeviceType, name).value) for name in _CPU_DEVICE_TYPES}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.json"
        prof.export_chrome_trace(str(path))
        trace = json.loads(path.read_text())
    return [(float(e["ts"]) * 1e3, int(e["args"]["Bytes"])) for e in trace.get("traceEvents", [])
            if e.get("name") == MEMORY_EVENT_NAME and int(e.get("args", {}).get("Device Type", -1)) in cpu_codes]


def running_peak(events: Sequence[tuple[float, int]]) -> int:
    """Maximum of the running sum of signed bytes (events already in time order), at least 0.

    The running sum starts at 0 when the window opens, so it is the memory allocated during the window and
    still alive. A free of a tensor that existed before the window lowers it, as it really lowers the level;
    the peak is never below 0 (the level before the forward). The profiler's own ``Total Allocated`` field is
    not used: it is a process-wide counter that drifts across profiling sessions (frees made while no
    profiler runs are not subtracted), so only differences within one window are trustworthy.
    """
    return max(0, max(itertools.accumulate(nbytes for _, nbytes in events), default=0))


# ------------------------------------------------------------------------------------------ fill batch
@dataclass(frozen=True)
class FillEstimate:
    """``peak(b) = m0 + m1*b`` fitted to measured points, and the largest batch whose peak fits the budget."""

    m0_bytes: float
    """Fixed part: what the fitted line gives at batch 0 (parameters, workspaces)."""
    m1_bytes_per_item: float
    """Memory per item of the batch."""
    r_squared: float | None
    """Coefficient of determination of the fit (None when the peaks do not vary: nothing to explain)."""
    budget_bytes: int
    fill_batch_size: int | None
    """``floor((budget - m0) / m1)``; None when it cannot be extrapolated (``reason`` says why)."""
    reason: str
    """Empty when ``fill_batch_size`` is set; otherwise why it is None."""
    batch_sizes: tuple[int, ...]
    peak_bytes: tuple[int, ...]
    """The points fitted, as given (raw values kept)."""


def fill_batch(batch_sizes: Sequence[int], peak_bytes: Sequence[int], budget_bytes: int) -> FillEstimate | None:
    """Fit ``peak(b) = m0 + m1*b`` by ordinary least squares on all measured points and solve for the budget.

    None when fewer than two distinct batch sizes were measured (a line needs two). Otherwise an estimate,
    whose ``fill_batch_size`` is None when ``m1 <= 0`` (a flat or falling profile: no batch size fills the
    budget) or when not even batch 1 fits (``budget < m0 + m1``, which includes ``budget <= m0``).

    Why all points, unweighted: the sweep doubles the batch, so the largest batches dominate the spread of
    ``b`` and with it the slope -- the fit is set by the regime it extrapolates from, and the small batches,
    where fixed costs and allocator rounding weigh most, pull little. Fitting only the large batches would
    discard points for a gain this geometry already gives, and weighting by ``1/peak`` (as the latency model
    does to pin the fixed cost) would hand the slope to the small batches instead. ``r_squared`` reports how
    well a line describes the points; a low one is a reason to distrust the extrapolation.

    ``peak_bytes`` and ``budget_bytes`` must be in the same terms: with ``MemoryPeak.peak_bytes`` (parameters +
    inputs + activations) the budget is the memory the model may use on the device in total.
    """
    if len(batch_sizes) != len(peak_bytes):
        raise UserInputError(f"fill_batch: batch_sizes ({len(batch_sizes)}) and peak_bytes ({len(peak_bytes)}) "
                             "must have the same length")
    if any(b < 1 for b in batch_sizes):
        raise UserInputError(f"fill_batch: batch sizes must be >= 1, got {list(batch_sizes)}")
    if any(p is None or p < 0 for p in peak_bytes):
        raise UserInputError(f"fill_batch: peak bytes must be measured and >= 0, got {list(peak_bytes)}")
    if budget_bytes <= 0:
        raise UserInputError(f"fill_batch: budget_bytes must be > 0, got {budget_bytes}")
    if len(set(batch_sizes)) < 2:
        return None
    b = np.asarray(batch_sizes, dtype=float)
    y = np.asarray(peak_bytes, dtype=float)
    (m0, m1), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(b), b]), y, rcond=None)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r_squared = 1.0 - float(np.sum((y - (m0 + m1 * b)) ** 2)) / ss_tot if ss_tot > 0 else None
    fill: int | None = None
    if m1 <= 0:
        reason = "memory does not grow with the batch (slope <= 0): no batch size fills the budget"
    elif budget_bytes < m0 + m1:
        reason = "not even batch 1 fits: the budget is below the fitted peak at batch 1"
    else:
        fill, reason = math.floor((budget_bytes - m0) / m1), ""
    return FillEstimate(m0_bytes=float(m0), m1_bytes_per_item=float(m1), r_squared=r_squared,
                        budget_bytes=int(budget_bytes), fill_batch_size=fill, reason=reason,
                        batch_sizes=tuple(int(v) for v in batch_sizes), peak_bytes=tuple(int(v) for v in peak_bytes))


def oom_agreement(estimate: FillEstimate | None, oom_batch_size: int | None) -> bool | None:
    """Whether the fill batch lies within one power-of-two step of the measured OOM batch; None: unresolved.

    The rule: agree when ``oom / 2 <= fill <= 2 * oom``, i.e. ``|log2(fill / oom)| <= 1``. A doubling sweep
    knows the boundary only to a factor of two -- the largest batch that fits lies in ``[oom / 2, oom)`` --
    so an estimate can be asked for no more than the step the measurement itself resolves. Unresolved when no
    OOM was hit or no fill batch was extrapolated.
    """
    if estimate is None or estimate.fill_batch_size is None or oom_batch_size is None:
        return None
    if oom_batch_size < 1:
        raise UserInputError(f"oom_batch_size must be >= 1, got {oom_batch_size}")
    return oom_batch_size / 2 <= estimate.fill_batch_size <= 2 * oom_batch_size


def check_against_oom(estimate: FillEstimate | None, oom_batch_size: int | None) -> str:
    """One sentence, computed by ``oom_agreement``'s rule, on the fill batch against the measured OOM batch."""
    agree = oom_agreement(estimate, oom_batch_size)
    if agree is None:
        if estimate is None:
            return "Unresolved: fewer than two batch sizes were measured, so no fill batch was extrapolated."
        if estimate.fill_batch_size is None:
            return f"Unresolved: no fill batch was extrapolated ({estimate.reason})."
        return (f"Unresolved: the extrapolated fill batch is {estimate.fill_batch_size}, but no out-of-memory "
                "boundary was measured to check it against.")
    fill = estimate.fill_batch_size
    ratio = f"{fill / oom_batch_size:.2g}x"
    if agree:
        return (f"Consistent: the extrapolated fill batch {fill} lies within one power-of-two step of the measured "
                f"out-of-memory batch {oom_batch_size} ({ratio}).")
    return (f"Inconsistent: the extrapolated fill batch {fill} is more than one power-of-two step from the "
            f"measured out-of-memory batch {oom_batch_size} ({ratio}); the linear memory model does not hold here.")
