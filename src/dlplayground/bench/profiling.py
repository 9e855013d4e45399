"""A torch.profiler trace of one benchmark point, in the layout TensorBoard's profiler plugin reads.

``--trace-dir DIR`` (pytest) / ``dlplayground bench --trace DIR`` writes, for every measured point,
``DIR/<model>/<model>-b<batch>.<timestamp>.pt.trace.json``: one TensorBoard *run* per model and one *worker*
per batch size, so ``tensorboard --logdir DIR`` (with the ``torch-tb-profiler`` plugin) lists them side by
side; the same files open in chrome://tracing or https://ui.perfetto.dev.

The trace is recorded *after* the point is timed, on the same model and inputs, never inside the timed
region: the profiler's own overhead must not reach the latency figures. A short schedule (``wait`` skipped
steps, ``warmup`` steps with the profiler running but discarded, ``active`` recorded steps) keeps traces
small; each step is one forward pass under ``torch.inference_mode``, followed by a device synchronisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function, schedule, tensorboard_trace_handler

from dlplayground.devices import synchronize

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class TraceSchedule:
    """The profiler schedule of one point: one cycle of wait, warm-up and recorded steps."""

    wait: int = 0
    warmup: int = 1
    active: int = 3
    record_shapes: bool = True
    """Record input shapes per op (TensorBoard's operator view groups by them)."""

    @property
    def steps(self) -> int:
        return self.wait + self.warmup + self.active


def safe_name(text: str) -> str:
    """A file-name-safe form of a model name (user models are named by import path, ``pkg.mod:factory``)."""
    return _UNSAFE.sub("_", text).strip("._") or "model"


def worker_name(model: str, batch_size: int) -> str:
    """The TensorBoard worker name of a point: ``<model>-b<batch>``."""
    return f"{safe_name(model)}-b{batch_size}"


def activities_for(device: torch.device) -> list[ProfilerActivity]:
    """CPU always; CUDA kernels too when the point runs on a CUDA device."""
    acts = [ProfilerActivity.CPU]
    if device.type == "cuda":
        acts.append(ProfilerActivity.CUDA)
    return acts


def trace_point(
    model: nn.Module,
    inputs: torch.Tensor | tuple[torch.Tensor, ...],
    trace_dir: Path | str,
    *,
    model_name: str,
    batch_size: int,
    device: torch.device,
    sched: TraceSchedule = TraceSchedule(),
) -> Path:
    """Record a profiler trace of ``sched.active`` forward passes; return the trace file written.

    The file goes to ``trace_dir/<model>/<model>-b<batch>.<timestamp>.pt.trace.json`` (TensorBoard layout).
    """
    run_dir = Path(trace_dir) / safe_name(model_name)
    run_dir.mkdir(parents=True, exist_ok=True)
    worker = worker_name(model_name, batch_size)
    before = set(run_dir.glob(f"{worker}.*.pt.trace.json*"))
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    model.eval()
    with profile(
        activities=activities_for(device),
        schedule=schedule(wait=sched.wait, warmup=sched.warmup, active=sched.active, repeat=1),
        on_trace_ready=tensorboard_trace_handler(str(run_dir), worker_name=worker),
        record_shapes=sched.record_shapes,
    ) as prof:
        for _ in range(sched.steps):
            with torch.inference_mode(), record_function(f"{worker} forward"):
                model(*args)
            synchronize(device)
            prof.step()
    written = sorted(set(run_dir.glob(f"{worker}.*.pt.trace.json*")) - before)
    if not written:
        raise RuntimeError(f"torch.profiler wrote no trace for {worker} into {run_dir}")
    return written[-1]
