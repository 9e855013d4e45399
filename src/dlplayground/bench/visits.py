"""A model built for timing, a point's inputs, and one visit of a point: the steps a pass is made of.

The sweep builds each model once to explore its range and count its costs (``dlplayground.bench.sweep``), and
every pass builds it again in a fresh worker process (``dlplayground.bench.worker``) -- or, with in-process
passes, reuses the sweep's. Either way the same code times the same thing: the same weights (the factory runs
under seed 0), the same device and dtype, the same variant, at each batch the same data (seeded per model and
batch, so every variant and every pass sees the same batch), through the shared timer
(``dlplayground.bench.timing.time_visit``). A visit that raises is an outcome, not an exception: out of memory
(on any device's wording) or the model's error, in one line, for the sweep to drop that batch and larger ones.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dlplayground.bench.models import InputFactory, ModelSpec, build
from dlplayground.bench.timing import TimerConfig, Visit, inference_call, time_visit
from dlplayground.bench.variants import EAGER, VariantBuild, build_variant
from dlplayground.devices import empty_cache, is_out_of_memory, synchronize
from dlplayground.errors import error_text, first_line
from dlplayground.seeding import seed_everything


@dataclass
class BuiltModel:
    """A model ready to time: what is timed, the eager model under it, its input factory and its variant."""

    model: nn.Module
    """What is timed: the built variant (the eager model itself for ``eager``)."""
    eager: nn.Module
    """The eager model under the variant, for counting FLOPs (the same arithmetic, followable by the counter)."""
    make_input: InputFactory
    variant: VariantBuild | None = None


def prepare_inputs(batch: torch.Tensor | tuple[torch.Tensor, ...], device: torch.device, dtype: torch.dtype):
    """Move a batch to the device; floating tensors take the benchmark dtype, integer ids stay integers."""
    items = batch if isinstance(batch, tuple) else (batch,)
    moved = tuple(t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype) for t in items)
    return moved if isinstance(batch, tuple) else moved[0]


def build_for_timing(spec: ModelSpec, device: torch.device, dtype: torch.dtype,
                     sync: Callable[[torch.device], None]) -> BuiltModel:
    """Build ``spec`` on ``device`` in ``dtype``, eval mode, with its variant; ``VariantSkipped`` when the variant
    cannot be built here (and whatever a user factory raises)."""
    seed_everything(0)  # identical weights in every run and every process, so they compare like with like
    model, make_input = build(spec)
    eager = model.to(device=device, dtype=dtype).eval()
    if spec.variant == EAGER:
        return BuiltModel(eager, eager, make_input)
    sample = prepare_inputs(make_input(1), device, dtype)
    variant = build_variant(spec.variant, eager, sample, device, sync)
    return BuiltModel(variant.model, eager, make_input, variant)


def point_inputs(built: BuiltModel, spec: ModelSpec, batch_size: int, device: torch.device, dtype: torch.dtype):
    """The point's batch: the same data at every visit, in every process (seeded per model and batch)."""
    torch.manual_seed(zlib.crc32(f"{spec.base_name}@{batch_size}".encode()))  # same data every variant
    inputs = prepare_inputs(built.make_input(batch_size), device, dtype)
    return built.variant.prepare(inputs) if built.variant is not None else inputs


@dataclass(frozen=True)
class VisitError:
    """A visit whose call raised: out of memory (the message's first line) or the model's error (type and line)."""

    out_of_memory: bool
    message: str


def visit_point(built: BuiltModel, spec: ModelSpec, batch_size: int, device: torch.device, dtype: torch.dtype,
                timer: TimerConfig, *, clock: Callable[[], float] = time.perf_counter,
                sync: Callable[[torch.device], None] = synchronize) -> Visit | VisitError:
    """One visit of the point (``spec``, ``batch_size``): its inputs, then the shared timer; an error it raises
    becomes a ``VisitError`` (any exception: user models raise anything)."""
    try:
        inputs = point_inputs(built, spec, batch_size, device, dtype)
        return time_visit(inference_call(built.model, inputs), device, timer, clock=clock, sync=sync)
    except Exception as exc:
        if is_out_of_memory(exc):
            empty_cache(device)
            return VisitError(True, first_line(exc))
        return VisitError(False, error_text(exc))
