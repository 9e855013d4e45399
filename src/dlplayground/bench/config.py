"""The batch-size study's configuration: one typed dataclass, with the help text beside each field.

The pytest plugin (``dlplayground.bench.plugin``) turns these fields into pytest options (``--device``,
``--models``, ...), so the options, their help and their validation are declared once, here.
``BenchConfig.from_options`` validates everything before a single model is built, so bad input fails in one
line instead of deep inside a sweep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from dlplayground.atomic import ensure_writable_dir
from dlplayground.bench.models import BUILTIN_MODELS, ModelSpec, resolve_model
from dlplayground.bench.saturation import SaturationConfig
from dlplayground.bench.timing import TimerConfig
from dlplayground.devices import dtype_name, parse_device, parse_dtype
from dlplayground.errors import UserInputError

QUICK_BATCH_SIZES = (1, 2, 4, 8)
QUICK_TIMER = TimerConfig(warmup_calls=2, warmup_s=0.05, min_rounds=5, max_rounds=30, target_time_s=0.05)
FULL_TIMER = TimerConfig(warmup_calls=3, warmup_s=0.2, min_rounds=10, max_rounds=300, target_time_s=0.6)
_POW2_RE = re.compile(r"^pow2:(\d+)\.\.(\d+)$")


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """Parse ``1,2,4,16`` or ``pow2:1..256`` into a sorted tuple of distinct positive batch sizes."""
    text = text.strip()
    match = _POW2_RE.match(text)
    if match:
        lo, hi = int(match.group(1)), int(match.group(2))
        if lo < 1 or hi < lo:
            raise UserInputError(f"--batch-sizes {text!r}: expected pow2:LO..HI with 1 <= LO <= HI")
        sizes = []
        b = 1
        while b <= hi:
            if b >= lo:
                sizes.append(b)
            b *= 2
        if not sizes:
            raise UserInputError(f"--batch-sizes {text!r}: no power of two lies in {lo}..{hi}")
        return tuple(sizes)
    sizes = []
    for item in text.split(","):
        item = item.strip()
        try:
            value = int(item)
        except ValueError:
            raise UserInputError(
                f"--batch-sizes: {item!r} is not an integer; expected a list like '1,2,4' or 'pow2:1..256'"
            ) from None
        if value < 1:
            raise UserInputError(f"--batch-sizes: batch size must be a positive integer, got {value}")
        sizes.append(value)
    return tuple(sorted(set(sizes)))


def _option(name: str, help_text: str, **kwargs: Any) -> Any:
    return field(metadata={"option": name, "help": help_text}, **kwargs)


@dataclass(frozen=True)
class BenchOptions:
    """Raw option values as the user gave them (strings); the fields become pytest options."""

    device: str = _option("--device", "device to benchmark: cpu, cuda, cuda:N or mps", default="cpu")
    models: str = _option("--models", "comma-separated model names or package.module:factory paths "
                          f"(default: all built-ins: {','.join(BUILTIN_MODELS)})", default="")
    batch_sizes: str = _option("--batch-sizes", "batch sizes: a list '1,2,4' or 'pow2:1..256' "
                               "(default: powers of two up to each model's cap)", default="")
    dtype: str = _option("--dtype", "float32, bfloat16 or float16 (as the device supports)", default="float32")
    threads: str = _option("--threads", "torch intra-op threads, fixed and recorded (default: torch's current "
                           "setting)", default="")
    quick: bool = _option("--quick", "small CI profile: every model family, batch sizes 1,2,4,8, few rounds",
                          default=False)
    latency_budget_ms: str = _option("--latency-budget-ms", "p99 latency budget (SLO) for the best-batch pick",
                                     default="")
    saturation_eps: str = _option("--saturation-eps", "saturation tolerance eps: smallest batch within "
                                  "(1 - eps) of the best throughput (default 0.05)", default="0.05")
    trace: str = _option("--trace-dir", "write a torch.profiler TensorBoard trace per point into this folder "
                        "(pytest reserves --trace; `dlplayground bench --trace DIR` maps here)",
                         default="")

    @classmethod
    def option_fields(cls) -> list[tuple[str, str, str, Any]]:
        """(option, attribute, help, default) for every field, for the plugin and the CLI to register."""
        return [(f.metadata["option"], f.name, f.metadata["help"], f.default) for f in fields(cls)]


@dataclass(frozen=True)
class BenchConfig:
    """The validated configuration of one batch-size study run."""

    device: torch.device
    dtype: torch.dtype
    models: tuple[ModelSpec, ...]
    batch_sizes: dict[str, tuple[int, ...]]
    threads: int
    quick: bool
    timer: TimerConfig
    saturation: SaturationConfig
    trace_dir: str | None

    @classmethod
    def from_options(cls, opts: BenchOptions) -> BenchConfig:
        device = parse_device(opts.device)
        dtype = parse_dtype(opts.dtype, device)
        names = [n.strip() for n in opts.models.split(",") if n.strip()] or list(BUILTIN_MODELS)
        if len(set(names)) != len(names):
            raise UserInputError(f"--models {opts.models!r} names a model twice")
        models = tuple(resolve_model(n) for n in names)
        explicit = parse_batch_sizes(opts.batch_sizes) if opts.batch_sizes.strip() else None
        batch_sizes = {}
        for spec in models:
            if explicit is not None:
                batch_sizes[spec.name] = explicit
            elif opts.quick:
                batch_sizes[spec.name] = QUICK_BATCH_SIZES
            else:
                batch_sizes[spec.name] = parse_batch_sizes(f"pow2:1..{min(spec.max_batch, 1 << 16)}")
        threads = torch.get_num_threads()
        if opts.threads.strip():
            try:
                threads = int(opts.threads)
            except ValueError:
                raise UserInputError(f"--threads {opts.threads!r} is not an integer") from None
        timer = QUICK_TIMER if opts.quick else FULL_TIMER
        timer = TimerConfig(**{**timer.__dict__, "threads": threads})
        budget = _positive_float(opts.latency_budget_ms, "--latency-budget-ms") if opts.latency_budget_ms else None
        try:
            eps = float(opts.saturation_eps)
        except ValueError:
            raise UserInputError(f"--saturation-eps {opts.saturation_eps!r} is not a number") from None
        saturation = SaturationConfig(eps=eps, latency_budget_ms=budget, resamples=300 if opts.quick else 1000)
        if opts.trace:  # checked now, not at the first point's trace after minutes of timing
            ensure_writable_dir(Path(opts.trace), "--trace-dir")
        return cls(device=device, dtype=dtype, models=models, batch_sizes=batch_sizes, threads=threads,
                   quick=opts.quick, timer=timer, saturation=saturation, trace_dir=opts.trace or None)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON config for the envelope."""
        return {
            "device": str(self.device), "dtype": dtype_name(self.dtype),
            "models": [m.name for m in self.models], "batch_sizes": {k: list(v) for k, v in self.batch_sizes.items()},
            "threads": self.threads, "quick": self.quick, "timer": self.timer.__dict__,
            "saturation": self.saturation.__dict__, "trace_dir": self.trace_dir,
        }


def _positive_float(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserInputError(f"{option} {text!r} is not a number") from None
    if not value > 0:
        raise UserInputError(f"{option} must be > 0, got {text}")
    return value
