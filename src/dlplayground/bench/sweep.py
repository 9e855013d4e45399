"""One batch-size sweep: explore each model's range, measure every point in interleaved passes, keep the records.

The run has four phases, all before the first result is reported:

1. **ceilings** -- the device's matmul and bandwidth peaks (``dlplayground.bench.peaks``), for the roofline;
2. **range** -- each model is built once (seeded: identical weights in every run) and doubled from batch 1
   until its knee is confirmed, an OOM, the latency budget or a cap (``dlplayground.bench.explore``); the
   record says why each model stopped;
3. **passes** -- every (model, batch) point of every model is visited once per pass, in a fresh seeded random
   order per pass (``dlplayground.bench.passes``), each visit a short re-warm-up and a fixed number of timed
   calls through the shared timer (``dlplayground.bench.timing.time_visit``); every sample keeps its pass index.
   An out-of-memory error during a pass makes that batch the model's OOM boundary and drops it and every
   larger batch of that model;
4. **costs** -- after timing, never inside it: one more forward pass per point counts its FLOPs and estimates
   its bytes moved (``dlplayground.bench.flops``), and with ``trace_dir`` a profiler trace is recorded.

The pytest suite (``dlplayground.bench.suite``) has one test per candidate point; the first test runs
``measure()``, and each test then reports its point (or is skipped with the reason: past the range, or past
the OOM boundary). The sweep produces the ``dlplayground`` section of the JSON.
"""

from __future__ import annotations

import gc
import time
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlplayground.bench.config import BenchConfig
from dlplayground.bench.explore import OUT_OF_MEMORY, OutOfMemoryAtBatch, RangeResult, explore
from dlplayground.bench.flops import count_forward
from dlplayground.bench.models import InputFactory, ModelSpec, build
from dlplayground.bench.noise import point_noise
from dlplayground.bench.passes import pass_order
from dlplayground.bench.peaks import FULL_PEAKS, QUICK_PEAKS, Peaks, measure_peaks
from dlplayground.bench.profiling import trace_point
from dlplayground.bench.record import SweepRecord
from dlplayground.bench.roofline import Roofs, diagnose_record, place
from dlplayground.bench.saturation import Saturation, analyse
from dlplayground.bench.timing import Visit, inference_call, time_call, time_visit
from dlplayground.devices import (
    dtype_name,
    empty_cache,
    environment_fingerprint,
    is_out_of_memory,
    peak_memory,
    reset_peak_memory,
    synchronize,
)
from dlplayground.progress import progress, track
from dlplayground.results import BATCH_SIZE_STUDY, SCHEMA_VERSION, TimingRecord
from dlplayground.seeding import seed_everything


@dataclass
class ModelSweep:
    """The state of one model's sweep."""

    spec: ModelSpec
    model: nn.Module | None = None
    make_input: InputFactory | None = None
    range: RangeResult | None = None
    visits: dict[int, list[Visit]] = field(default_factory=dict)
    """Per batch, one visit per pass so far."""
    peak_memory: dict[int, tuple[int | None, str]] = field(default_factory=dict)
    records: list[TimingRecord] = field(default_factory=list)
    oom_batch_size: int | None = None
    oom_message: str | None = None
    oom_during_passes: bool = False
    flop_count_error: str | None = None
    """Why FLOPs/bytes could not be counted for this model (its points then carry None), if they could not."""
    traces: list[str] = field(default_factory=list)

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        """The batches the passes measure (the explored range, less any that ran out of memory in a pass)."""
        if self.range is None:
            return ()
        return tuple(b for b in self.range.batch_sizes if self.oom_batch_size is None or b < self.oom_batch_size)

    def record(self) -> SweepRecord:
        """The sweep's outcome as the record the envelope stores and the report reads."""
        stop_reason, stop_detail = (self.range.stop_reason, self.range.stop_detail) if self.range else ("", "")
        if self.oom_during_passes:
            stop_reason, stop_detail = OUT_OF_MEMORY, f"out of memory at batch {self.oom_batch_size} during a pass"
        return SweepRecord(family=self.spec.family, description=self.spec.description,
                           batch_sizes=self.batch_sizes, measured=tuple(r.batch_size for r in self.records),
                           stop_reason=stop_reason, stop_detail=stop_detail,
                           oom_batch_size=self.oom_batch_size, oom_message=self.oom_message,
                           flop_count_error=self.flop_count_error, traces=tuple(self.traces))


class PointSkipped(Exception):
    """A point that was not measured, with the reason (past the model's range or its OOM boundary)."""


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message, at most 300 characters, for a record ("" for a bare
    ``MemoryError()``, whose message is empty)."""
    return (str(exc).splitlines() or [""])[0][:300]


def prepare_inputs(batch: torch.Tensor | tuple[torch.Tensor, ...], device: torch.device, dtype: torch.dtype):
    """Move a batch to the device; floating tensors take the benchmark dtype, integer ids stay integers."""
    items = batch if isinstance(batch, tuple) else (batch,)
    moved = tuple(t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype) for t in items)
    return moved if isinstance(batch, tuple) else moved[0]


class Sweep:
    """Runs the phases of a batch-size study (module docstring) and keeps their records.

    ``clock`` and ``sync`` reach the shared timer (the tests drive a whole sweep with a fake clock), and
    ``peaks`` replaces the measured ceilings (so such a sweep measures nothing real).
    """

    def __init__(self, config: BenchConfig, *, models: Collection[str] | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 sync: Callable[[torch.device], None] = synchronize, peaks: Peaks | None = None):
        self.config = config
        chosen = [s for s in config.models if models is None or s.name in models]
        self.models = {spec.name: ModelSweep(spec) for spec in chosen}
        self._clock, self._sync = clock, sync
        self._peaks = peaks
        self._measured = False
        self._failure: BaseException | None = None
        self._saturation: dict[str, Saturation] | None = None

    # ---------------------------------------------------------------------------------------- phases
    def measure(self) -> None:
        """Run every phase once (later calls return at once)."""
        if self._failure is not None:
            raise self._failure
        if self._measured:
            return
        self._measured = True
        started = time.perf_counter()
        try:
            gc.collect()
            gc.freeze()  # see _build: the timer's collection before each visit then costs microseconds
            self.peaks()
            for sweep in self.models.values():
                self._explore(sweep)
            self._passes()
            for sweep in self.models.values():
                self._finish(sweep)
        except BaseException as exc:
            self._failure = exc  # every later point reports the same failure, not a made-up skip reason
            raise
        finally:
            gc.unfreeze()
        progress(f"sweep measured {sum(len(s.records) for s in self.models.values())} points in "
                 f"{time.perf_counter() - started:.1f} s")

    def _build(self, sweep: ModelSweep) -> None:
        seed_everything(0)  # identical weights in every run, so runs compare like with like
        model, make_input = build(sweep.spec)
        sweep.model = model.to(device=self.config.device, dtype=self.config.dtype).eval()
        sweep.make_input = make_input
        # The timer collects garbage before every visit; with torch and the models loaded a full collection
        # takes 0.1-0.4 s. Freezing what exists now (models, modules) leaves the timer only the new objects.
        gc.collect()
        gc.freeze()

    def _inputs(self, sweep: ModelSweep, batch_size: int):
        """The point's batch: the same data at every visit (seeded per point), on the device."""
        torch.manual_seed(zlib.crc32(f"{sweep.spec.name}@{batch_size}".encode()))
        return prepare_inputs(sweep.make_input(batch_size), self.config.device, self.config.dtype)

    def _explore(self, sweep: ModelSweep) -> None:
        name = sweep.spec.name
        self._build(sweep)

        def measure(batch_size: int) -> float:
            try:
                inputs = self._inputs(sweep, batch_size)
                samples, _, _ = time_call(inference_call(sweep.model, inputs), self.config.device,
                                          self.config.explore_timer, clock=self._clock, sync=self._sync)
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                empty_cache(self.config.device)
                raise OutOfMemoryAtBatch(_first_line(exc)) from None
            # The fastest call: on a shared machine noise only ever slows a call down, and one stalled call
            # must not end the doubling early (the range is a selection; the passes measure what it chose).
            return min(samples)

        sweep.range = explore(measure, self.config.range_, self.config.explicit_batch_sizes)
        sweep.oom_batch_size, sweep.oom_message = sweep.range.oom_batch_size, sweep.range.oom_message
        sizes = sweep.range.batch_sizes
        span = f"batches {sizes[0]}..{sizes[-1]}" if sizes else "no batch"
        progress(f"{name}: range {span} ({sweep.range.stop_reason}: {sweep.range.stop_detail})")

    def _passes(self) -> None:
        plan = self.config.passes
        points = [(name, b) for name, s in self.models.items() for b in s.batch_sizes]
        calls = {(name, b): s.range.call_s[s.range.batch_sizes.index(b)]
                 for name, s in self.models.items() for b in s.batch_sizes}
        progress(f"measuring {len(points)} points in {plan.passes} interleaved passes")
        visits = ((p, point) for p in range(plan.passes) for point in pass_order(points, p, plan.seed))
        for _, (name, batch_size) in track(visits, "passes", total=plan.passes * len(points), unit="visit"):
            sweep = self.models[name]
            if batch_size not in sweep.batch_sizes:
                continue  # dropped by an out-of-memory error earlier in the passes
            timer = plan.visit_timer(calls[name, batch_size], threads=self.config.threads,
                                     back_to_back=self.config.back_to_back)
            try:
                inputs = self._inputs(sweep, batch_size)
                reset_peak_memory(self.config.device)
                visit = time_visit(inference_call(sweep.model, inputs), self.config.device, timer,
                                   clock=self._clock, sync=self._sync)
                memory = peak_memory(self.config.device)
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                empty_cache(self.config.device)
                sweep.oom_batch_size, sweep.oom_message = batch_size, _first_line(exc)
                sweep.oom_during_passes = True
                progress(f"{name}: out of memory at batch {batch_size} during a pass; it and larger batches dropped")
                continue
            del inputs
            sweep.visits.setdefault(batch_size, []).append(visit)
            previous = sweep.peak_memory.get(batch_size, (None, memory[1]))[0]
            sweep.peak_memory[batch_size] = (max(filter(None, (previous, memory[0])), default=None), memory[1])

    def _finish(self, sweep: ModelSweep) -> None:
        """Assemble each point's record from its visits, then count costs and trace (untimed)."""
        name = sweep.spec.name
        for batch_size in sweep.batch_sizes:
            visits = sweep.visits.get(batch_size, [])
            if not visits:
                continue
            times = tuple(t for v in visits for t in v.times_s)
            index = tuple(p for p, v in enumerate(visits) for _ in v.times_s)
            blocks = tuple(v.block_s for v in visits if v.block_s is not None)
            peak, memory_kind = sweep.peak_memory[batch_size]
            record = TimingRecord(
                model=name, family=sweep.spec.family, device=str(self.config.device),
                dtype=dtype_name(self.config.dtype), batch_size=batch_size, threads=visits[0].threads,
                warmup_calls=visits[0].warmup_calls, times_s=times, pass_index=index,
                block_times_s=blocks if len(blocks) == len(visits) else (), timer=visits[0].timer,
                peak_memory_bytes=peak, memory_kind=memory_kind)
            inputs = self._inputs(sweep, batch_size)
            record = self._with_cost(sweep, inputs, record)
            if self.config.trace_dir:
                path = trace_point(sweep.model, inputs, Path(self.config.trace_dir), model_name=name,
                                   batch_size=batch_size, device=self.config.device)
                sweep.traces.append(str(path))
            sweep.records.append(record)
        sweep.model = sweep.make_input = None  # free the weights once the model's points are done
        empty_cache(self.config.device)

    @staticmethod
    def _with_cost(sweep: ModelSweep, inputs, record: TimingRecord) -> TimingRecord:
        """The record with the FLOPs and estimated bytes of one (untimed) forward pass filled in.

        Counting failures (a user model with an operator the counter cannot follow) leave the figures None
        and are noted in the sweep, rather than losing the timed point.
        """
        if sweep.flop_count_error is not None:
            return record
        try:
            cost = count_forward(sweep.model, inputs)
        except Exception as exc:  # the counter runs arbitrary user code; keep the timing, say why
            sweep.flop_count_error = f"{type(exc).__name__}: {_first_line(exc)}"
            return record
        return replace(record, flops=cost.flops, bytes_moved=cost.bytes_moved)

    # -------------------------------------------------------------------------------------- results
    def outcome(self, name: str, batch_size: int) -> TimingRecord:
        """The record of one point, measuring first if needed; ``PointSkipped`` says why there is none."""
        self.measure()
        sweep = self.models.get(name)
        if sweep is None:
            raise PointSkipped(f"{name}: not selected in this run")
        for record in sweep.records:
            if record.batch_size == batch_size:
                return record
        if sweep.oom_batch_size is not None and batch_size >= sweep.oom_batch_size:
            raise PointSkipped(f"{name}: at or beyond the OOM boundary (batch {sweep.oom_batch_size} ran out of "
                               "memory)")
        last = sweep.batch_sizes[-1] if sweep.batch_sizes else None
        detail = sweep.record().stop_detail
        raise PointSkipped(f"{name}: batch {batch_size} is outside the measured range (the sweep stopped at batch "
                           f"{last}: {detail})")

    def peaks(self) -> Peaks:
        """The device's measured ceilings at the benchmark dtype, measured on first use (once per run)."""
        if self._peaks is None:
            progress(f"measuring {self.config.device} peaks (matmul GFLOP/s, copy GB/s) at "
                     f"{dtype_name(self.config.dtype)}")
            self._peaks = measure_peaks(self.config.device, self.config.dtype,
                                        QUICK_PEAKS if self.config.quick else FULL_PEAKS,
                                        threads=self.config.threads)
        return self._peaks

    def roofs(self) -> Roofs:
        return Roofs.from_peaks(self.peaks())

    def point_extras(self, record: TimingRecord) -> dict[str, Any]:
        """Derived figures of one point for ``extra_info`` (readers recompute them; for humans): the median's
        between-pass interval and spread, and the roofline placement."""
        noise = point_noise(record, resamples=self.config.saturation.resamples)
        extras: dict[str, Any] = {"p50_ci_ms": [noise.ci_low_ms, noise.ci_high_ms],
                                  "between_pass_cv": noise.between_pass_cv, "unstable": noise.unstable}
        point = place(record, self.roofs())
        if point is None:
            return {**extras, "achieved_gflop_s": record.achieved_gflop_s}
        return {**extras, "achieved_gflop_s": point.achieved_gflop_s, "achieved_gb_s": point.achieved_gb_s,
                "arithmetic_intensity": point.intensity_flop_per_byte, "pct_of_matmul_peak": point.pct_of_matmul_peak,
                "pct_of_bandwidth": point.pct_of_bandwidth, "pct_of_roof": point.pct_of_roof,
                "above_bandwidth_roof": point.above_bandwidth_roof, "above_matmul_roof": point.above_matmul_roof}

    def saturation(self) -> dict[str, Saturation]:
        """Saturation analysis per model that has at least one measured point, with its roofline diagnosis.

        Computed once, after ``measure()``: the JSON hook and the terminal summary both ask for it at the end
        of a run, and its bootstrap is the costliest step there.
        """
        if self._saturation is not None:
            return self._saturation
        out = {}
        for name, s in self.models.items():
            if not s.records:
                continue
            sat = analyse(s.records, self.config.saturation)
            at_sat = next((r for r in s.records if r.batch_size == sat.saturation_batch), None)
            fit = sat.latency_model
            diagnosis = diagnose_record(at_sat, batch_size=sat.saturation_batch, roofs=self.roofs(),
                                        fixed_ms=fit.a_ms if fit else None,
                                        per_item_ms=fit.c_ms_per_item if fit else None)
            out[name] = replace(sat, diagnosis=diagnosis)
        if self._measured:
            self._saturation = out
        return out

    def envelope_section(self) -> dict[str, Any]:
        """The ``dlplayground`` key of the benchmark JSON."""
        return {
            "schema": SCHEMA_VERSION, "study": BATCH_SIZE_STUDY,
            "environment": {**environment_fingerprint(self.config.device).to_dict(),
                            "peaks": self.peaks().to_dict()},
            "config": self.config.to_dict(),
            "sweeps": {name: s.record().to_dict() for name, s in self.models.items()},
            "saturation": {name: sat.to_dict() for name, sat in self.saturation().items()},
        }
