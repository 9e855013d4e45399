"""The batch-size study's configuration: one typed dataclass, with the help text beside each field.

The pytest plugin (``dlplayground.bench.plugin``) turns these fields into pytest options (``--device``,
``--models``, ...), so the options, their help and their validation are declared once, here.
``BenchConfig.from_options`` validates everything before a single model is built, so bad input fails in one
line instead of deep inside a sweep.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from dlplayground.atomic import ensure_writable_dir
from dlplayground.bench.explore import RangeConfig
from dlplayground.bench.models import BUILTIN_MODELS, ModelSpec, resolve_model
from dlplayground.bench.passes import PassConfig
from dlplayground.bench.saturation import SaturationConfig
from dlplayground.bench.timing import TimerConfig
from dlplayground.bench.variants import EAGER, parse_variants, swept_name
from dlplayground.devices import dtype_name, parse_device, parse_dtype
from dlplayground.errors import UserInputError
from dlplayground.seeding import MAX_SEED

# Each pass runs in a fresh worker process, whose start-up (importing torch and transformers, building the
# models: about 4.5 s for the six built-in models on a 2-core CPU, two workers starting side by side) is paid per
# pass; the passes pay for it with fewer and shorter visits, not by running longer: 3 passes of 0.01 s per point
# (6 of 0.035 s when the passes ran in one process), within 3x a bare torch.utils.benchmark sweep of the points.
FULL_PASSES = PassConfig(passes=3, pass_time_s=0.01, min_calls=1, max_calls=40, rewarm_calls=1, rewarm_s=0.005)
QUICK_PASSES = PassConfig(passes=2, pass_time_s=0.01, min_calls=2, max_calls=10, rewarm_calls=1, rewarm_s=0.0)
# One warm-up call absorbs a shape's first-call costs (4-12 % on the slow points); then the fastest of at least two
# timed calls (three calls in all at a slow point, whose calls dominate the exploration's time).
FULL_EXPLORE = TimerConfig(warmup_calls=1, warmup_s=0.02, min_rounds=2, max_rounds=20, target_time_s=0.03)
QUICK_EXPLORE = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=3, max_rounds=10, target_time_s=0.01)
FULL_TIMER = FULL_EXPLORE
"""A one-block timer setting for scripts that time a single point (``benchmarks/compare_timers.py``)."""
FULL_RANGE = RangeConfig(max_batch=1 << 16, max_call_s=1.0)
QUICK_RANGE = RangeConfig(max_batch=64, max_call_s=0.05)
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
    batch_sizes: str = _option("--batch-sizes", "batch sizes: a list '1,2,4' or 'pow2:1..256' (default: double "
                               "from 1 until the knee is confirmed, an OOM, the latency budget or a cap)",
                               default="")
    max_batch: str = _option("--max-batch", "largest batch the doubling may reach (default 65536; --quick 64)",
                             default="")
    max_call_s: str = _option("--max-call-s", "per-model time cap: the doubling stops before a batch whose call "
                              "takes longer than this many seconds (default 1; --quick 0.05)", default="")
    passes: str = _option("--passes", "interleaved passes over all points, each in a fresh worker process; "
                          "intervals come from the differences between passes (default "
                          f"{FULL_PASSES.passes}; --quick {QUICK_PASSES.passes}; at least 2)", default="")
    seed: str = _option("--seed", "seed of the passes' random visiting order", default="0")
    dtype: str = _option("--dtype", "float32, bfloat16 or float16 (as the device supports)", default="float32")
    threads: str = _option("--threads", "torch intra-op threads, fixed and recorded (default: torch's current "
                           "setting)", default="")
    quick: bool = _option("--quick", "small CI profile: every model family, batches up to 64, 3 short passes",
                          default=False)
    latency_budget_ms: str = _option("--latency-budget-ms", "p99 latency budget (SLO) for the best-batch pick",
                                     default="")
    saturation_eps: str = _option("--saturation-eps", "saturation tolerance eps: smallest batch within "
                                  "(1 - eps) of the best throughput (default 0.05)", default="0.05")
    memory_budget_gb: str = _option("--memory-budget-gb", "memory budget in GB (1e9 bytes) for the model on the "
                                    "device: each model's report extrapolates the batch that would fill it from its "
                                    "per-point memory", default="")
    variants: str = _option("--variants", "comma-separated variants of every model, each swept like a model of "
                            "its own in the same passes: eager, compile, cudagraphs (CUDA), channels_last (4-D "
                            "inputs) (default: eager)", default="eager")
    in_process_passes: bool = _option("--in-process-passes", "run every pass in this process instead of a fresh "
                                      "worker process per pass (for debugging: the intervals then miss what "
                                      "differs between processes)", default=False)
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
    """Every model swept: each requested model once per variant (``mlp``, ``mlp[compile]``, ...)."""
    explicit_batch_sizes: tuple[int, ...] | None
    """``--batch-sizes`` as given, or None: each model's range is found by doubling (``range_``)."""
    threads: int
    quick: bool
    explore_timer: TimerConfig
    """How the exploratory call at each batch is timed (one block, before the passes; never reported)."""
    range_: RangeConfig
    passes: PassConfig
    saturation: SaturationConfig
    trace_dir: str | None
    variants: tuple[str, ...] = (EAGER,)
    memory_budget_gb: float | None = None
    in_process_passes: bool = False
    """Run the passes in this process (``--in-process-passes``) instead of one fresh worker process per pass."""

    @property
    def back_to_back(self) -> bool:
        """Whether visits also time a back-to-back block: where launches are asynchronous (CUDA, MPS)."""
        return self.device.type in ("cuda", "mps")

    def candidate_batch_sizes(self) -> tuple[int, ...]:
        """Every batch a model's sweep could reach: the explicit list, or the doublings up to the cap."""
        if self.explicit_batch_sizes is not None:
            return self.explicit_batch_sizes
        return parse_batch_sizes(f"pow2:1..{self.range_.max_batch}")

    @classmethod
    def from_options(cls, opts: BenchOptions) -> BenchConfig:
        device = parse_device(opts.device)
        dtype = parse_dtype(opts.dtype, device)
        names = [n.strip() for n in opts.models.split(",") if n.strip()] or list(BUILTIN_MODELS)
        if len(set(names)) != len(names):
            raise UserInputError(f"--models {opts.models!r} names a model twice")
        variants = parse_variants(opts.variants)
        models = tuple(replace(spec, name=swept_name(spec.name, v), variant=v, base=spec.name)
                       for spec in (resolve_model(n) for n in names) for v in variants)
        explicit = parse_batch_sizes(opts.batch_sizes) if opts.batch_sizes.strip() else None
        threads = torch.get_num_threads()
        if opts.threads.strip():
            threads = _int(opts.threads, "--threads", minimum=1)
        budget = _positive_float(opts.latency_budget_ms, "--latency-budget-ms") if opts.latency_budget_ms else None
        try:
            eps = float(opts.saturation_eps)
        except ValueError:
            raise UserInputError(f"--saturation-eps {opts.saturation_eps!r} is not a number") from None
        saturation = SaturationConfig(eps=eps, latency_budget_ms=budget, resamples=300 if opts.quick else 1000)
        range_ = QUICK_RANGE if opts.quick else FULL_RANGE
        range_ = RangeConfig(
            max_batch=_int(opts.max_batch, "--max-batch", minimum=1) if opts.max_batch.strip() else range_.max_batch,
            max_call_s=(_positive_float(opts.max_call_s, "--max-call-s") if opts.max_call_s.strip()
                        else range_.max_call_s),
            eps=eps, knee_doublings=range_.knee_doublings, latency_budget_ms=budget)
        passes = QUICK_PASSES if opts.quick else FULL_PASSES
        passes = PassConfig(**{**passes.__dict__,
                               "passes": _int(opts.passes, "--passes", minimum=2) if opts.passes.strip()
                               else passes.passes,
                               "seed": _int(opts.seed, "--seed", minimum=0, maximum=MAX_SEED)})
        explore_timer = QUICK_EXPLORE if opts.quick else FULL_EXPLORE
        explore_timer = TimerConfig(**{**explore_timer.__dict__, "threads": threads})
        if opts.trace:  # checked now, not at the first point's trace after minutes of timing
            ensure_writable_dir(Path(opts.trace), "--trace-dir")
        return cls(device=device, dtype=dtype, models=models, explicit_batch_sizes=explicit, threads=threads,
                   quick=opts.quick, explore_timer=explore_timer, range_=range_, passes=passes,
                   saturation=saturation, trace_dir=opts.trace or None, variants=variants,
                   in_process_passes=opts.in_process_passes,
                   memory_budget_gb=(_positive_float(opts.memory_budget_gb, "--memory-budget-gb")
                                     if opts.memory_budget_gb.strip() else None))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON config for the envelope."""
        return {
            "device": str(self.device), "dtype": dtype_name(self.dtype),
            "models": [m.name for m in self.models],
            "batch_sizes": None if self.explicit_batch_sizes is None else list(self.explicit_batch_sizes),
            "threads": self.threads, "quick": self.quick, "explore_timer": self.explore_timer.__dict__,
            "range": self.range_.__dict__, "passes": self.passes.__dict__, "back_to_back": self.back_to_back,
            "saturation": self.saturation.__dict__, "trace_dir": self.trace_dir, "variants": list(self.variants),
            "memory_budget_gb": self.memory_budget_gb, "in_process_passes": self.in_process_passes,
        }


def _int(text: str, option: str, *, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserInputError(f"{option} {text!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise UserInputError(f"{option} must be {bound}, got {value}")
    return value


def _positive_float(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserInputError(f"{option} {text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise UserInputError(f"{option} must be a finite number > 0, got {text}")
    return value
