"""Variants of a model -- eager, ``torch.compile``, CUDA graphs, channels-last -- swept like models of their own.

A diagnosis ("overhead-bound: the fixed per-call time is 90 % of the latency") begs the question whether the
usual remedy would help, and by how much. ``--variants eager,compile,...`` answers it by measurement: each
variant of a model is a model of its own in the sweep (``mlp``, ``mlp[compile]``, ...), explored and measured in
the same interleaved passes, so its curve, knee and intervals come from the same protocol and the same
machine state as the eager one, and the speed-up per batch is a ratio of two points measured side by side.

* ``eager`` -- the model as built (the reference).
* ``compile`` -- ``torch.compile(model, mode=..., dynamic=False)``: one specialised graph per batch size (the
  sweep's sizes are few and fixed; dynamic shapes would trade speed for compile time). The mode is chosen per
  device (``COMPILE_MODES``: inductor's default on the CPU and MPS; ``max-autotune-no-cudagraphs`` on CUDA, so
  graph capture stays the separate ``cudagraphs`` variant). Dynamo's recompile limit is raised to cover every
  batch of a sweep, because past it torch silently falls back to eager and the "compiled" curve would be a lie.
* ``cudagraphs`` -- the forward captured once per batch size in a CUDA graph and replayed (``CudaGraphed``),
  which removes the per-kernel launch cost; CUDA only.
* ``channels_last`` -- weights and 4-D inputs in NHWC memory format (convolutions' preferred layout on many
  CPUs and GPUs); only for models whose input is 4-D.

Compilation and capture are never timed as inference: the build's first call (batch 1) is timed on its own and
recorded as ``compile_s``, and the first call at each further batch size (a recompile or a capture) as
``first_call_s`` in the model's sweep record; the timed calls start after them. A variant that cannot be built
here (no C++ compiler for inductor, an operator it does not support, no CUDA for graphs, 2-D inputs for
channels-last) is skipped with the reason and the other variants still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dlplayground.errors import UserInputError, choices_text, error_text
from dlplayground.results import TimingRecord

EAGER = "eager"
COMPILE = "compile"
CUDAGRAPHS = "cudagraphs"
CHANNELS_LAST = "channels_last"
VARIANTS = (EAGER, COMPILE, CUDAGRAPHS, CHANNELS_LAST)
COMPILE_MODES = {"cpu": "default", "mps": "default", "cuda": "max-autotune-no-cudagraphs"}
RECOMPILE_LIMIT = 64
"""Per compiled model: more than the 17 doublings a sweep can reach (1..65536), so dynamo never gives up."""
REMEDIES = {COMPILE: "torch.compile (fuses operators: fewer, larger kernels)",
            CUDAGRAPHS: "CUDA graphs (replays the whole forward with one launch)"}

Inputs = Any  # a tensor or a tuple of tensors


def parse_variants(text: str) -> tuple[str, ...]:
    """``--variants`` as a tuple, eager first (the reference every speed-up is relative to)."""
    names = [n.strip() for n in text.split(",") if n.strip()] or [EAGER]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise UserInputError(f"--variants: unknown variant {unknown[0]!r}; choose {choices_text(VARIANTS)}")
    if len(set(names)) != len(names):
        raise UserInputError(f"--variants {text!r} names a variant twice")
    return tuple(sorted(names, key=lambda n: n != EAGER))


def swept_name(model: str, variant: str) -> str:
    """The name a variant is swept, recorded and reported under: ``mlp`` for eager, ``mlp[compile]`` otherwise."""
    return model if variant == EAGER else f"{model}[{variant}]"


class VariantSkipped(Exception):
    """The variant cannot be built here; the message says why (it is skipped, not failed)."""


@dataclass
class VariantBuild:
    """A built variant: the callable to time, how inputs are prepared for it, and what building it cost."""

    model: nn.Module
    prepare: Callable[[Inputs], Inputs]
    detail: str
    """What was built, e.g. ``torch.compile(mode='default', dynamic=False)``."""
    compile_s: float | None = None
    """Seconds of the build's first call at batch 1 (compilation or capture plus one forward), untimed as inference."""
    compiles_per_shape: bool = False
    """Whether each new batch size compiles or captures again (its first call is kept out of the timings)."""


def _identity(inputs: Inputs) -> Inputs:
    return inputs


def _channels_last(inputs: Inputs) -> Inputs:
    items = inputs if isinstance(inputs, tuple) else (inputs,)
    moved = tuple(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in items)
    return moved if isinstance(inputs, tuple) else moved[0]


def first_call_s(model: nn.Module, inputs: Inputs, device: torch.device,
                 sync: Callable[[torch.device], None]) -> float:
    """Wall seconds of one synchronized forward: the first call at a new shape compiles or captures."""
    items = inputs if isinstance(inputs, tuple) else (inputs,)
    sync(device)
    started = time.perf_counter()
    with torch.inference_mode():
        model(*items)
    sync(device)
    return time.perf_counter() - started


def build_variant(variant: str, model: nn.Module, sample: Inputs, device: torch.device,
                  sync: Callable[[torch.device], None]) -> VariantBuild:
    """Turn the eager ``model`` (on ``device``, eval mode) into ``variant``; ``sample`` is its batch-1 input.

    Raises ``VariantSkipped`` with the reason when the variant cannot be built here.
    """
    if variant == EAGER:
        return VariantBuild(model, _identity, "the model as built")
    if variant == CHANNELS_LAST:
        items = sample if isinstance(sample, tuple) else (sample,)
        if not any(t.dim() == 4 for t in items):
            shapes = ", ".join(str(tuple(t.shape)) for t in items)
            raise VariantSkipped(f"channels_last applies to 4-D (image) inputs; this model's input is {shapes}")
        return VariantBuild(model.to(memory_format=torch.channels_last), _channels_last,
                            "weights and 4-D inputs in channels-last (NHWC) memory format")
    if variant == COMPILE:
        mode = COMPILE_MODES.get(device.type, "default")
        _raise_recompile_limit()
        compiled = torch.compile(model, mode=mode, dynamic=False)
        built = VariantBuild(compiled, _identity, f"torch.compile(mode={mode!r}, dynamic=False)",
                             compiles_per_shape=True)
    elif variant == CUDAGRAPHS:
        if device.type != "cuda":
            raise VariantSkipped(f"CUDA graphs need a CUDA device; this run is on {device.type}")
        built = VariantBuild(CudaGraphed(model, device), _identity, "forward captured in a CUDA graph per batch size",
                             compiles_per_shape=True)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    try:  # compile (or capture) now, at batch 1, so a variant that cannot be built is skipped before any timing
        built.compile_s = first_call_s(built.model, sample, device, sync)
    except Exception as exc:  # inductor without a compiler, an unsupported op, a capture error
        raise VariantSkipped(f"{variant} could not be built here: {error_text(exc)}") from None
    return built


def _raise_recompile_limit() -> None:
    import torch._dynamo.config as dynamo_config  # noqa: PLC0415 -- private, but the only place the limit lives

    for name in ("recompile_limit", "cache_size_limit"):  # renamed in torch 2.6; keep both spellings working
        if hasattr(dynamo_config, name):
            setattr(dynamo_config, name, max(getattr(dynamo_config, name), RECOMPILE_LIMIT))


class CudaGraphed(nn.Module):
    """Replay ``model``'s forward from a CUDA graph captured once per input shape.

    The recipe of the PyTorch CUDA-graphs notes: warm up on a side stream (so lazy initialisation is not
    captured), capture into static input and output buffers, then for each call copy the new input into the
    static buffer and replay. The output is the static buffer itself, valid until the next call, which is how
    a serving loop uses it (the benchmark never keeps outputs).
    """

    def __init__(self, model: nn.Module, device: torch.device):
        super().__init__()
        self.model, self.device = model, device
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, tuple[torch.Tensor, ...], Any]] = {}

    def forward(self, *inputs: torch.Tensor) -> Any:
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        if key not in self._graphs:
            static = tuple(t.clone() for t in inputs)
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                for _ in range(3):
                    self.model(*static)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                output = self.model(*static)
            self._graphs[key] = (graph, static, output)
        graph, static, output = self._graphs[key]
        for buffer, value in zip(static, inputs, strict=True):
            buffer.copy_(value)
        graph.replay()
        return output


# ------------------------------------------------------------------------------------------ speed-ups
@dataclass(frozen=True)
class Speedup:
    """One batch's speed-up of a variant over eager: eager median latency / variant median latency."""

    batch_size: int
    speedup: float
    ci_low: float
    ci_high: float
    level: float

    @property
    def resolved(self) -> bool:
        """True when the interval excludes 1 (the variant is measurably faster or slower)."""
        return self.ci_low > 1.0 or self.ci_high < 1.0


def speedups(eager: Sequence[TimingRecord], variant: Sequence[TimingRecord], *, level: float = 0.95,
             resamples: int = 1000, seed: int = 0) -> list[Speedup]:
    """The speed-up at every batch both measured, with a between-pass interval.

    Both points were visited in the same interleaved passes, so pass p of one and pass p of the other saw the
    same machine state: the two-level bootstrap draws the same pass indices for both (``paired``), and the
    ratio's interval carries the drift they did not share, not the drift they did.
    """
    # Imported here, not at the top: the pass workers (``dlplayground.bench.worker``) build variants but never
    # compare them, and scipy (under ``stats``) would add a second to every worker's start-up.
    from dlplayground.stats import hierarchical_resample, median_over_passes, percentile_interval

    by_batch = {r.batch_size: r for r in eager}
    out = []
    for record in sorted(variant, key=lambda r: r.batch_size):
        base = by_batch.get(record.batch_size)
        if base is None:
            continue
        medians = hierarchical_resample([base.pass_matrix, record.pass_matrix], median_over_passes,
                                        resamples=resamples, seed=(seed, record.batch_size))
        ratios = medians[:, 0] / medians[:, 1]
        low, high = percentile_interval(ratios, level)
        estimate = float(np.median(base.times_s) / np.median(record.times_s))
        out.append(Speedup(record.batch_size, estimate, low, high, level))
    return out


def speedup_text(s: Speedup) -> str:
    return f"x{s.speedup:.2f} [{s.ci_low:.2f}-{s.ci_high:.2f}] at batch {s.batch_size}"


def remedy_text(bound: str, device_type: str, measured: dict[str, Speedup | None]) -> str:
    """For an overhead-bound model: the remedy, and its measured effect where that variant was swept.

    ``measured`` maps a variant to its speed-up at the eager model's saturation batch (None when the variant
    was swept but has no point there). Empty for other bounds: their remedies are not variants.
    """
    if bound != "overhead-bound":
        return ""
    options = [COMPILE] + ([CUDAGRAPHS] if device_type == "cuda" else [])
    parts = []
    for variant in options:
        effect = measured.get(variant, "absent")
        if effect == "absent":
            parts.append(f"{REMEDIES[variant]}: not measured (add --variants eager,{variant})")
        elif effect is None:
            parts.append(f"{REMEDIES[variant]}: measured, but not at this batch")
        else:
            word = "faster" if effect.ci_low > 1 else "slower" if effect.ci_high < 1 else "no resolved change"
            parts.append(f"{REMEDIES[variant]}: measured {speedup_text(effect)} ({word})")
    return "remedy for the fixed per-call cost -- " + "; ".join(parts)
