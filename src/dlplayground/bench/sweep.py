"""One batch-size sweep: explore each model's range, measure every point in interleaved passes, keep the records.

The run has four phases, all before the first result is reported:

1. **ceilings** -- the device's matmul and bandwidth peaks (``dlplayground.bench.peaks``), for the roofline;
2. **range** -- each model is built once (seeded: identical weights in every run) and doubled from batch 1
   until its knee is confirmed, an OOM, the latency budget or a cap (``dlplayground.bench.explore``); the
   record says why each model stopped;
3. **passes** -- every (model, batch) point of every model is visited once per pass, in a fresh seeded random
   order per pass (``dlplayground.bench.passes``), each visit a short re-warm-up and a fixed number of timed
   calls through the shared timer (``dlplayground.bench.visits.visit_point``); every sample keeps its pass index.
   Each pass runs in a fresh worker process (``dlplayground.bench.worker``: a point's speed is fixed per process,
   and only passes in different processes see that), except when a clock or sync is injected (the fake-clock
   tests), when a variant compiles or captures per shape (a worker would recompile every shape every pass),
   when a model cannot be rebuilt by name, or with ``--in-process-passes``; the envelope's config records the
   unit (``passes.unit``: ``process`` or ``in-process``, and why). An out-of-memory error during a pass makes
   that batch the model's OOM boundary and drops it and every larger batch of that model; any other error (a
   user model that raises) does the same, recorded as that model's failure, so the other points and models are
   kept. A worker that crashes stops the run with ``WorkerFailed`` (one line: the pass and the worker's last
   words), keeping the completed passes as an interrupt does;
4. **costs** -- never inside timing: each point's FLOPs, estimated bytes moved (``dlplayground.bench.flops``)
   and memory come from one untimed forward in its exploration, the FLOP counter watching the forward whose
   memory peak is measured (``_costs_together``); that forward is the exploration's warm-up call at the
   point, except at a model's first point, where it runs after the exploratory timing so the very first
   forward's one-time allocations are not charged to it. Points it cannot count (a variant: its memory is
   the variant's, its FLOPs the eager model's; a forward that raised) are counted on forwards of their own
   after the exploration -- after the passes with in-process passes, before them with workers -- and with
   ``trace_dir`` a profiler trace of each point is recorded there; then the model is freed, so the workers
   never share the memory or the device with the parent's models. (Counting the costs while the first
   workers start was tried: on two cores the forward passes and the workers' imports slowed each other down
   more than they overlapped.)

The pytest suite (``dlplayground.bench.suite``) has one test per candidate point; the first test runs
``measure()``, and each test then reports its point (or is skipped with the reason: past the range, or past
the OOM boundary; or fails with the model's error, at the batch that raised it). The sweep produces the
``dlplayground`` section of the JSON.

An interrupt (Ctrl-C, SIGTERM; also a worker stopped by either) during the passes keeps what was measured: the
points of every pass completed so far (or of the first, partial pass when none was) become records, the sweep
is marked ``incomplete`` with the reason, and the interrupt goes on to stop the run; ``dlplayground bench`` then
writes those points to a file marked incomplete.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from dlplayground.bench.config import BenchConfig
from dlplayground.bench.explore import (
    FAILED,
    OUT_OF_MEMORY,
    VARIANT_SKIPPED,
    FailedAtBatch,
    OutOfMemoryAtBatch,
    RangeResult,
    explore,
)
from dlplayground.bench.flops import ForwardCost, ForwardCounter, count_forward
from dlplayground.bench.memory import MemoryPeak, check_against_oom, fill_batch, forward_peak_bytes
from dlplayground.bench.models import ModelSpec
from dlplayground.bench.noise import point_noise
from dlplayground.bench.passes import pass_order
from dlplayground.bench.peaks import FULL_PEAKS, QUICK_PEAKS, Peaks, measure_peaks
from dlplayground.bench.profiling import trace_point
from dlplayground.bench.record import SweepRecord
from dlplayground.bench.roofline import Roofs, diagnose_record, place
from dlplayground.bench.saturation import Saturation, analyse
from dlplayground.bench.timing import TimerConfig, Visit, inference_call, time_call
from dlplayground.bench.variants import (
    CUDAGRAPHS,
    EAGER,
    Speedup,
    VariantBuild,
    VariantSkipped,
    first_call_s,
    remedy_text,
    speedups,
)
from dlplayground.bench.visits import BuiltModel, VisitError, build_for_timing, point_inputs, visit_point
from dlplayground.bench.worker import (
    START_TOGETHER,
    BuildJob,
    PassJob,
    VisitJob,
    WorkerFailed,
    WorkerModel,
    Workers,
    rebuildable,
)
from dlplayground.devices import (
    dtype_name,
    empty_cache,
    environment_fingerprint,
    is_out_of_memory,
    synchronize,
)
from dlplayground.errors import error_text, first_line
from dlplayground.progress import progress, track
from dlplayground.results import BATCH_SIZE_STUDY, SCHEMA_VERSION, TimingRecord, jsonable, make_envelope

PROCESS = "process"
IN_PROCESS = "in-process"
"""The unit of a pass (``passes.unit`` in the envelope's config): a fresh worker process, or this process."""
Point = tuple[str, int]


@dataclass
class ModelSweep:
    """The state of one model's sweep."""

    spec: ModelSpec
    built: BuiltModel | None = None
    """The model as timed in this process (None before it is built and once its points are done)."""
    variant: VariantBuild | None = None
    """The built variant (kept for the record after the model is freed)."""
    variant_skipped: str | None = None
    first_call_s: dict[int, float] = field(default_factory=dict)
    costs: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Per batch, the record's cost fields (memory, FLOPs, bytes moved), once counted."""
    range: RangeResult | None = None
    visits: dict[int, list[Visit]] = field(default_factory=dict)
    """Per batch, one visit per pass so far."""
    records: list[TimingRecord] = field(default_factory=list)
    oom_batch_size: int | None = None
    oom_message: str | None = None
    oom_during_passes: bool = False
    failed_batch_size: int | None = None
    """The batch at which the model raised an error that is not out-of-memory (it and larger ones dropped)."""
    failure: str | None = None
    failed_during_passes: bool = False
    flop_count_error: str | None = None
    """Why FLOPs/bytes could not be counted for this model (its points then carry None), if they could not."""
    traces: list[str] = field(default_factory=list)

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        """The batches the passes measure (the explored range, less any that ran out of memory in a pass)."""
        if self.range is None:
            return ()
        limits = [b for b in (self.oom_batch_size, self.failed_batch_size) if b is not None]
        return tuple(b for b in self.range.batch_sizes if not limits or b < min(limits))

    def record(self, memory_budget_gb: float | None = None) -> SweepRecord:
        """The sweep's outcome as the record the envelope stores and the report reads (with the batch that fills
        ``memory_budget_gb``, extrapolated from the per-point memory, when a budget is given)."""
        stop_reason, stop_detail = (self.range.stop_reason, self.range.stop_detail) if self.range else ("", "")
        if self.oom_during_passes:
            stop_reason, stop_detail = OUT_OF_MEMORY, f"out of memory at batch {self.oom_batch_size} during a pass"
        if self.failed_during_passes:
            stop_reason, stop_detail = FAILED, f"batch {self.failed_batch_size} failed during a pass: {self.failure}"
        return SweepRecord(family=self.spec.family, description=self.spec.description,
                           batch_sizes=self.batch_sizes, measured=tuple(r.batch_size for r in self.records),
                           stop_reason=stop_reason, stop_detail=stop_detail,
                           oom_batch_size=self.oom_batch_size, oom_message=self.oom_message,
                           failed_batch_size=self.failed_batch_size, failure=self.failure,
                           flop_count_error=self.flop_count_error, traces=tuple(self.traces),
                           variant=self.spec.variant, base_model=self.spec.base_name,
                           variant_detail=self.variant.detail if self.variant else "",
                           variant_skipped=self.variant_skipped,
                           compile_s=self.variant.compile_s if self.variant else None,
                           first_call_s={str(b): s for b, s in sorted(self.first_call_s.items())},
                           **self._memory_fill(memory_budget_gb))

    def _memory_fill(self, budget_gb: float | None) -> dict[str, Any]:
        points = [(r.batch_size, r.peak_memory_bytes) for r in self.records if r.peak_memory_bytes is not None]
        if budget_gb is None or not points:
            return {}
        estimate = fill_batch([b for b, _ in points], [m for _, m in points], int(budget_gb * 1e9))
        return {"memory_fill": estimate, "memory_check": check_against_oom(estimate, self.oom_batch_size)}


class PointSkipped(Exception):
    """A point that was not measured, with the reason (past the model's range or its OOM boundary)."""


class PointFailed(Exception):
    """A point whose model raised an error (not out-of-memory) at that batch; the message names the error."""


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
        self._injected = clock is not time.perf_counter or sync is not synchronize
        self._peaks = peaks
        self._measured = False
        self._failure: BaseException | None = None
        self._saturation: dict[str, Saturation] | None = None
        self._phase = "before measuring"
        self._passes_done = 0
        self.incomplete: str | None = None
        """Why the sweep holds fewer points or passes than configured (an interrupt), or None when complete."""
        self.pass_unit: tuple[str, str] | None = None
        """Where the passes ran (``PROCESS`` or ``IN_PROCESS``) and why; None before the passes began."""

    @property
    def failures(self) -> dict[str, tuple[int | None, str]]:
        """Per model that raised an error: (the batch it raised at, the error)."""
        return {name: (s.failed_batch_size, s.failure or "") for name, s in self.models.items()
                if s.failure is not None}

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
            self._phase = "measuring the peaks"
            self.peaks()
            for sweep in self.models.values():
                self._phase = f"exploring {sweep.spec.name}'s range"
                self._explore(sweep)
            self._align_variants()
            self.pass_unit = self._choose_unit()
            workers = self._workers() if self.pass_unit[0] == PROCESS else None
            with contextlib.ExitStack() as stack:
                if workers is not None:
                    stack.callback(workers.close)  # stops the workers still running or waiting
                    self._count_costs()  # the parent's last use of its models, freed before any worker starts
                self._passes(workers)
            if workers is None:
                self._count_costs()
            for sweep in self.models.values():
                self._finish(sweep)
        except (KeyboardInterrupt, WorkerFailed) as exc:
            self._failure = exc
            self._keep_partial(exc)
            raise
        except BaseException as exc:
            self._failure = exc  # every later point reports the same failure, not a made-up skip reason
            raise
        finally:
            gc.unfreeze()
        progress(f"sweep measured {sum(len(s.records) for s in self.models.values())} points in "
                 f"{time.perf_counter() - started:.1f} s")

    def _build(self, sweep: ModelSweep) -> None:
        """Build the model (and its variant); ``VariantSkipped`` when the variant cannot be built here."""
        sweep.built = build_for_timing(sweep.spec, self.config.device, self.config.dtype, self._sync)
        sweep.variant = sweep.built.variant
        if sweep.variant is not None and sweep.variant.compiles_per_shape and sweep.variant.compile_s is not None:
            sweep.first_call_s[1] = sweep.variant.compile_s
        # The timer collects garbage before every visit; with torch and the models loaded a full collection
        # takes 0.1-0.4 s. Freezing what exists now (models, modules) leaves the timer only the new objects.
        gc.collect()
        gc.freeze()

    def _inputs(self, sweep: ModelSweep, batch_size: int):
        """The point's batch: the same data at every visit and in every process (seeded per point)."""
        return point_inputs(sweep.built, sweep.spec, batch_size, self.config.device, self.config.dtype)

    def _explore(self, sweep: ModelSweep) -> None:
        name = sweep.spec.name
        try:
            self._build(sweep)
        except VariantSkipped as reason:  # not a failure: this variant does not exist here
            sweep.variant_skipped = str(reason)
            sweep.range = RangeResult((), (), VARIANT_SKIPPED, str(reason))
            sweep.built = None
            progress(f"{name}: skipped ({reason}); the other variants still run")
            return
        except Exception as exc:  # a user factory that raises: this model fails, the others still run
            first = (self.config.explicit_batch_sizes or (1,))[0]
            sweep.range = RangeResult((), (), FAILED, f"building the model failed: {error_text(exc)}",
                                      failed_batch_size=first, failure=f"building the model: {error_text(exc)}")
            sweep.failed_batch_size, sweep.failure = first, sweep.range.failure
            progress(f"{name}: failed ({sweep.range.stop_detail}); the other models still run")
            return

        sweep.range = explore(lambda b: self._explore_call(sweep, b), self.config.range_,
                              self.config.explicit_batch_sizes)
        sweep.oom_batch_size, sweep.oom_message = sweep.range.oom_batch_size, sweep.range.oom_message
        sweep.failed_batch_size, sweep.failure = sweep.range.failed_batch_size, sweep.range.failure
        sizes = sweep.range.batch_sizes
        span = f"batches {sizes[0]}..{sizes[-1]}" if sizes else "no batch"
        progress(f"{name}: range {span} ({sweep.range.stop_reason}: {sweep.range.stop_detail})")

    def _explore_call(self, sweep: ModelSweep, batch_size: int) -> float:
        """One exploratory measurement: the fastest call at ``batch_size`` (raises ``OutOfMemoryAtBatch`` or
        ``FailedAtBatch``)."""
        try:
            inputs = self._inputs(sweep, batch_size)
            timer = self.config.explore_timer
            # The point's costs are counted in one forward that replaces the exploration's warm-up call: it runs
            # the point's kernels at its shapes (fast calls still warm up for the rest of warmup_s). Not at the
            # model's first point: its very first forward pays one-time allocations (library workspaces,
            # caches) that are not that point's memory, so there the costs are counted after the timing.
            first_point = not sweep.costs
            if not first_point and batch_size not in sweep.costs:
                started = self._clock()
                if (costs := self._costs_together(sweep, inputs)) is not None:
                    sweep.costs[batch_size] = costs
                    timer = replace(timer, warmup_calls=0,
                                    warmup_s=max(0.0, timer.warmup_s - (self._clock() - started)))
            compiles = sweep.variant is not None and sweep.variant.compiles_per_shape
            if compiles and batch_size not in sweep.first_call_s:
                # A compiled or graph-captured variant compiles/captures at each new shape: keep that out of
                # every timing, and record it.
                sweep.first_call_s[batch_size] = first_call_s(sweep.built.model, inputs, self.config.device,
                                                              self._sync)
            samples, _, _ = time_call(inference_call(sweep.built.model, inputs), self.config.device, timer,
                                      clock=self._clock, sync=self._sync)
            if first_point and (costs := self._costs_together(sweep, inputs)) is not None:
                sweep.costs[batch_size] = costs
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise FailedAtBatch(error_text(exc)) from None
            empty_cache(self.config.device)
            raise OutOfMemoryAtBatch(first_line(exc)) from None
        # The fastest call: on a shared machine noise only ever slows a call down, and one stalled call
        # must not end the doubling early (the range is a selection; the passes measure what it chose).
        return min(samples)

    def _align_variants(self) -> None:
        """Give every variant of a model the union of its variants' ranges, so each batch has every variant.

        Each variant explores on its own (a compiled model may keep gaining where eager stopped), but a speed-up
        is a ratio at one batch and the knee comparison needs the same batches: each variant is explored at the
        batches another variant reached, up to its own out-of-memory boundary, failure or time cap.
        """
        groups: dict[str, list[ModelSweep]] = {}
        for sweep in self.models.values():
            if sweep.range is not None and sweep.variant_skipped is None and sweep.failure is None:
                groups.setdefault(sweep.spec.base_name, []).append(sweep)
        for group in (g for g in groups.values() if len(g) > 1):
            union = sorted({b for sweep in group for b in sweep.range.batch_sizes})
            for sweep in group:
                missing = [b for b in union if b not in sweep.range.batch_sizes]
                if not missing:
                    continue
                added: dict[int, float] = {}
                ended = ""
                for batch in missing:
                    if sweep.oom_batch_size is not None and batch >= sweep.oom_batch_size:
                        break
                    try:
                        call_s = self._explore_call(sweep, batch)
                    except OutOfMemoryAtBatch as exc:
                        sweep.oom_batch_size, sweep.oom_message = batch, str(exc)
                        ended = f", then out of memory at batch {batch}"
                        break
                    except FailedAtBatch as exc:
                        sweep.failed_batch_size, sweep.failure = batch, str(exc)
                        ended = f", then batch {batch} failed: {exc}"
                        break
                    if batch > 1 and call_s > self.config.range_.max_call_s:
                        ended = f", then a call at batch {batch} took {call_s:.3g} s, over the time cap"
                        break
                    added[batch] = call_s
                if added or ended:
                    calls = dict(zip(sweep.range.batch_sizes, sweep.range.call_s, strict=True)) | added
                    order = sorted(calls)
                    listed = ", ".join(map(str, sorted(added)))
                    extended = f"extended to batch(es) {listed}" if added else "not extended"
                    detail = f"{sweep.range.stop_detail}; {extended} that its variants reached{ended}"
                    sweep.range = replace(sweep.range, batch_sizes=tuple(order), call_s=tuple(calls[b] for b in order),
                                          stop_detail=detail)
                    progress(f"{sweep.spec.name}: range {extended} (its variants reached them){ended}")

    def _choose_unit(self) -> tuple[str, str]:
        """Where the passes run, and why (module docstring)."""
        if self.config.in_process_passes:
            return IN_PROCESS, "--in-process-passes"
        if self._injected:
            return IN_PROCESS, "a clock or sync was injected"
        measured = [s for s in self.models.values() if s.batch_sizes]
        compiles = [s.spec.name for s in measured if s.variant is not None and s.variant.compiles_per_shape]
        if compiles:
            return IN_PROCESS, f"{compiles[0]} compiles or captures per batch size"
        unnamed = [s.spec.name for s in measured if not rebuildable(s.spec)]
        if unnamed:
            return IN_PROCESS, f"{unnamed[0]} cannot be rebuilt by name in a worker"
        return PROCESS, "each pass in a fresh worker process"

    def _workers(self) -> Workers:
        """The workers of the passes (none started yet): every model that has points, as the parent built it."""
        build = BuildJob(device=str(self.config.device), dtype=dtype_name(self.config.dtype),
                         models=tuple(WorkerModel.of(s.spec) for s in self.models.values() if s.batch_sizes))
        return Workers(build, self.config.passes.passes, together=START_TOGETHER.get(self.config.device.type, 1))

    def _passes(self, workers: Workers | None) -> None:
        """Every point once per pass, in this process (``workers`` None) or each pass in a fresh worker."""
        plan = self.config.passes
        points = [(name, b) for name, s in self.models.items() for b in s.batch_sizes]
        calls = {(name, b): s.range.call_s[s.range.batch_sizes.index(b)]
                 for name, s in self.models.items() for b in s.batch_sizes}
        progress(f"measuring {len(points)} points in {plan.passes} interleaved passes, "
                 + ("each in a fresh worker process" if workers else f"in this process ({self.pass_unit[1]})"))
        timers = {point: plan.visit_timer(call_s, threads=self.config.threads, back_to_back=self.config.back_to_back,
                                          fresh_process=workers is not None)
                  for point, call_s in calls.items()}

        def visits() -> Iterator[tuple[Point, Visit | VisitError | None]]:
            for p in range(plan.passes):
                self._phase = f"pass {p + 1} of {plan.passes}"
                order = pass_order(points, p, plan.seed)
                note = yield from (self._pass_in_process(order, timers) if workers is None else
                                   self._pass_in_worker(workers, p, order, timers))
                self._passes_done = p + 1
                self._phase = f"starting pass {p + 2} of {plan.passes}" if p + 1 < plan.passes else "ending the passes"
                if note:  # said once the pass counts as completed, so an interrupt after it keeps the pass
                    progress(note)

        with contextlib.closing(visits()) as outcomes:  # closing stops the pass's worker (an interrupt)
            for (name, batch_size), outcome in track(outcomes, "passes", total=plan.passes * len(points),
                                                     unit="visit"):
                self._take(self.models[name], batch_size, outcome)
        self._passes_done = plan.passes

    def _pass_in_process(self, order: list[Point], timers: dict[Point, TimerConfig]
                         ) -> Generator[tuple[Point, Visit | VisitError | None], None, str]:
        """A pass in this process, one visit at a time (None for a point dropped earlier)."""
        for name, batch_size in order:
            sweep = self.models[name]
            outcome = None
            if batch_size in sweep.batch_sizes:
                outcome = visit_point(sweep.built, sweep.spec, batch_size, self.config.device, self.config.dtype,
                                      timers[name, batch_size], clock=self._clock, sync=self._sync)
            yield (name, batch_size), outcome
        return ""

    def _pass_in_worker(self, workers: Workers, p: int, order: list[Point], timers: dict[Point, TimerConfig]
                        ) -> Generator[tuple[Point, Visit | VisitError | None], None, str]:
        """Pass ``p`` in its fresh worker process (``dlplayground.bench.worker``): the points not dropped yet, in
        the pass's order, each outcome yielded as the worker reports it (None for a point dropped earlier);
        returns the pass's progress line."""
        live = [(name, b) for name, b in order if b in self.models[name].batch_sizes]
        job = PassJob(pass_index=p, passes=self.config.passes.passes,
                      visits=tuple(VisitJob(name, b, timers[name, b]) for name, b in live))
        with contextlib.closing(workers.for_pass(p)) as worker:
            started = time.perf_counter()
            with contextlib.closing(worker.run(job)) as reports:
                for point in order:
                    yield point, next(reports) if point in live else None
                next(reports, None)  # the worker's exit is checked after its last visit
        return (f"{worker.name}: {len(live)} visits in {time.perf_counter() - started:.1f} s in a fresh worker "
                f"(it took {worker.ready_s:.1f} s to start and build the models)")

    def _take(self, sweep: ModelSweep, batch_size: int, outcome: Visit | VisitError | None) -> None:
        """Keep one visit's outcome: its samples, or (on an error) that batch and larger ones dropped."""
        if outcome is None or batch_size not in sweep.batch_sizes:
            return  # not visited: dropped by an out-of-memory error or a failure earlier in the passes
        name = sweep.spec.name
        if isinstance(outcome, Visit):
            sweep.visits.setdefault(batch_size, []).append(outcome)
        elif outcome.out_of_memory:
            sweep.oom_batch_size, sweep.oom_message = batch_size, outcome.message
            sweep.oom_during_passes = True
            progress(f"{name}: out of memory at batch {batch_size} during a pass; it and larger batches dropped")
        else:
            sweep.failed_batch_size, sweep.failure = batch_size, outcome.message
            sweep.failed_during_passes = True
            progress(f"{name}: batch {batch_size} failed during a pass ({sweep.failure}); it and larger batches "
                     "dropped, the other points still run")

    def _keep_partial(self, cause: BaseException) -> None:
        """After an interrupt or a failed worker: turn the visits of the passes completed so far into records
        (module docstring).

        Every kept point then has the same number of passes (the completed ones; or the first, partial pass when
        none was complete, so a long first pass is not thrown away). Costs not counted by then are not: the user
        asked to stop, or the run cannot go on.
        """
        keep = max(1, self._passes_done)
        measured = any(v for s in self.models.values() for v in s.visits.values())
        kept = (f"kept the points of the {keep} completed pass(es)" if self._passes_done else
                "kept the points of the first, partial pass" if measured else "no point had been measured yet")
        what = f"interrupted while {self._phase}" if isinstance(cause, KeyboardInterrupt) else str(cause)
        self.incomplete = f"{what}; {kept} (of {self.config.passes.passes} passes)"
        for sweep in self.models.values():
            sweep.visits = {b: v[:keep] for b, v in sweep.visits.items() if v}
            if not sweep.records:
                self._finish(sweep)
        stopped = "interrupted" if isinstance(cause, KeyboardInterrupt) else "stopped"
        progress(f"{stopped}: {sum(len(s.records) for s in self.models.values())} points kept ({self.incomplete})")

    def _count_costs(self) -> None:
        """Count every point's costs (untimed: module docstring), then free each model's weights."""
        self._phase = "counting costs"
        for sweep in self.models.values():
            if sweep.built is not None:
                for batch_size in sweep.batch_sizes:
                    inputs = self._inputs(sweep, batch_size)
                    if batch_size not in sweep.costs:  # not counted in the exploration (a variant; it raised there)
                        sweep.costs[batch_size] = (self._costs_together(sweep, inputs)
                                                   or {**self._memory(sweep, inputs), **self._flops(sweep, inputs)})
                    if self.config.trace_dir:
                        path = trace_point(sweep.built.model, inputs, Path(self.config.trace_dir),
                                           model_name=sweep.spec.name, batch_size=batch_size,
                                           device=self.config.device)
                        sweep.traces.append(str(path))
            sweep.built = None  # free the weights once the model's costs are counted
            if sweep.variant is not None:
                sweep.variant.model = None  # type: ignore[assignment] -- the compiled graphs go with the weights
            empty_cache(self.config.device)

    def _finish(self, sweep: ModelSweep) -> None:
        """Assemble each point's record from its visits and its costs (where they were counted)."""
        records = []
        for batch_size in sweep.batch_sizes:
            visits = sweep.visits.get(batch_size, [])
            if not visits:
                continue
            times = tuple(t for v in visits for t in v.times_s)
            index = tuple(p for p, v in enumerate(visits) for _ in v.times_s)
            blocks = tuple(v.block_s for v in visits if v.block_s is not None)
            costs = sweep.costs.get(batch_size, {"memory_kind": "not measured: the run stopped before its costs"})
            records.append(TimingRecord(
                model=sweep.spec.name, family=sweep.spec.family, device=str(self.config.device),
                dtype=dtype_name(self.config.dtype), batch_size=batch_size, threads=visits[0].threads,
                warmup_calls=visits[0].warmup_calls, times_s=times, pass_index=index,
                block_times_s=blocks if len(blocks) == len(visits) else (), timer=visits[0].timer, **costs))
        sweep.records = records

    def _costs_together(self, sweep: ModelSweep, inputs) -> dict[str, Any] | None:
        """The point's memory and FLOPs from ONE untimed forward: the FLOP counter watches the forward whose
        memory peak is measured (it allocates no tensors). None where they cannot share a forward -- a variant
        (its memory is the variant's, its FLOPs the eager model's), a model the counter already failed on -- or
        where the forward raised: the caller then meets the error on its own calls (the exploration: an
        out-of-memory boundary) or counts each on its own forward, which say what failed (``_memory``,
        ``_flops``)."""
        if sweep.spec.variant != EAGER or sweep.flop_count_error is not None:
            return None
        counter = ForwardCounter(sweep.built.eager)
        try:
            peak = forward_peak_bytes(sweep.built.model, inputs, self.config.device, warmup_calls=0, around=counter)
        except Exception:
            return None
        assert counter.cost is not None
        return {**_memory_fields(peak), **_flop_fields(counter.cost)}

    def _memory(self, sweep: ModelSweep, inputs) -> dict[str, Any]:
        """The memory of one (untimed) forward at the point's batch, as record fields: parameters, inputs and
        the peak of tensors allocated during the forward (``dlplayground.bench.memory``), so memory can be read
        per batch.

        A graph-captured variant allocates its buffers at capture, not during a replay: its eager model, whose
        forward the graph holds, is measured instead.
        """
        model = sweep.built.eager if sweep.spec.variant == CUDAGRAPHS else sweep.built.model
        try:
            # No warm-up forward: every point already ran in this process's exploration, which paid the
            # one-time allocations the warm-up exists for.
            peak = forward_peak_bytes(model, inputs, self.config.device, warmup_calls=0)
        except Exception as exc:  # user code again (one more forward); keep the timing, say why
            return {"memory_kind": f"not measured: {error_text(exc)}"}
        return _memory_fields(peak)

    @staticmethod
    def _flops(sweep: ModelSweep, inputs) -> dict[str, Any]:
        """The FLOPs and estimated bytes of one (untimed) forward pass, as record fields.

        Counting failures (a user model with an operator the counter cannot follow) leave the figures None
        and are noted in the sweep, rather than losing the timed point.
        """
        if sweep.flop_count_error is not None:
            return {}
        try:
            cost = count_forward(sweep.built.eager, inputs)
        except Exception as exc:  # the counter runs arbitrary user code; keep the timing, say why
            sweep.flop_count_error = f"{type(exc).__name__}: {first_line(exc)}"
            return {}
        return _flop_fields(cost)

    # -------------------------------------------------------------------------------------- results
    def outcome(self, name: str, batch_size: int) -> TimingRecord:
        """The record of one point, measuring first if needed; ``PointSkipped`` says why there is none."""
        self.measure()
        sweep = self.models.get(name)
        if sweep is None:
            raise PointSkipped(f"{name}: not selected in this run")
        if sweep.variant_skipped is not None:
            raise PointSkipped(f"{name}: variant skipped ({sweep.variant_skipped})")
        for record in sweep.records:
            if record.batch_size == batch_size:
                return record
        if sweep.failed_batch_size is not None and batch_size == sweep.failed_batch_size:
            raise PointFailed(f"{name} at batch {batch_size}: {sweep.failure}")
        if sweep.failed_batch_size is not None and batch_size > sweep.failed_batch_size:
            raise PointSkipped(f"{name}: not measured, batch {sweep.failed_batch_size} failed ({sweep.failure})")
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
            return jsonable({**extras, "achieved_gflop_s": record.achieved_gflop_s})
        return jsonable({
            **extras, "achieved_gflop_s": point.achieved_gflop_s, "achieved_gb_s": point.achieved_gb_s,
            "arithmetic_intensity": point.intensity_flop_per_byte, "pct_of_matmul_peak": point.pct_of_matmul_peak,
            "pct_of_bandwidth": point.pct_of_bandwidth, "pct_of_roof": point.pct_of_roof,
            "above_bandwidth_roof": point.above_bandwidth_roof, "above_matmul_roof": point.above_matmul_roof})

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
        for name, sat in out.items():
            if sat.diagnosis is not None and self.models[name].spec.variant == EAGER:
                remedy = remedy_text(sat.diagnosis.bound, self.config.device.type,
                                     self._measured_variants(name, sat.saturation_batch))
                out[name] = replace(sat, diagnosis=replace(sat.diagnosis, remedy=remedy))
        if self._measured:
            self._saturation = out
        return out

    def _measured_variants(self, name: str, batch_size: int | None) -> dict[str, Speedup | None]:
        """The swept variants of the eager model ``name``: each one's speed-up at ``batch_size`` (None if it has
        no point there). Variants that were skipped are left out: they were not measured."""
        at_batch = [r for r in self.models[name].records if r.batch_size == batch_size]  # the only batch asked
        out: dict[str, Speedup | None] = {}
        for other in self.models.values():
            if other.spec.base_name != name or other.spec.variant == EAGER or other.variant_skipped:
                continue
            found = speedups(at_batch, other.records, resamples=self.config.saturation.resamples)
            out[other.spec.variant] = found[0] if found else None
        return out

    def envelope_section(self) -> dict[str, Any]:
        """The ``dlplayground`` key of the benchmark JSON (strict JSON values: pytest-benchmark would write an
        infinite or NaN float as ``Infinity``/``NaN``, which is not JSON)."""
        return jsonable({
            "schema": SCHEMA_VERSION, "study": BATCH_SIZE_STUDY,
            "environment": {**environment_fingerprint(self.config.device).to_dict(),
                            "peaks": self.peaks().to_dict()},
            "config": self._config_dict(),
            "sweeps": {name: s.record(self.config.memory_budget_gb).to_dict() for name, s in self.models.items()},
            "saturation": {name: sat.to_dict() for name, sat in self.saturation().items()},
            **({"incomplete": self.incomplete} if self.incomplete else {}),
        })

    def _config_dict(self) -> dict[str, Any]:
        """The run's config, with where its passes ran (``passes.unit`` and ``passes.unit_reason``; absent when
        the run stopped before its passes)."""
        config = self.config.to_dict()
        if self.pass_unit is not None:
            config["passes"] = {**config["passes"], "unit": self.pass_unit[0], "unit_reason": self.pass_unit[1]}
        return config

    def envelope(self) -> dict[str, Any]:
        """The whole results file from the sweep alone, in the layout pytest-benchmark writes.

        For the runs pytest-benchmark does not save -- interrupted ones, or ones where no point's test passed --
        so ``dlplayground bench`` still keeps every point measured. Each point is a minimal benchmark entry
        whose ``extra_info`` is its record (and the derived figures), as in a file pytest-benchmark wrote.
        """
        section = self.envelope_section()
        group = f"on {self.config.device} ({dtype_name(self.config.dtype)})"
        benchmarks = [{"name": f"test_inference[{r.model}-b{r.batch_size}]", "group": f"{r.model} {group}",
                       "extra_info": {**r.to_dict(), **self.point_extras(r)}}
                      for s in self.models.values() for r in s.records]
        envelope = make_envelope(study=BATCH_SIZE_STUDY, environment=section["environment"],
                                 config=section["config"], benchmarks=benchmarks)
        envelope["dlplayground"] = section
        return envelope


def _memory_fields(peak: MemoryPeak) -> dict[str, Any]:
    """A point's memory as record fields."""
    kind = f"{peak.kind}, plus parameters and inputs"
    return {"peak_memory_bytes": peak.peak_bytes, "memory_kind": kind if peak.peak_bytes else peak.kind}


def _flop_fields(cost: ForwardCost) -> dict[str, Any]:
    """A point's FLOPs and estimated bytes moved as record fields."""
    return {"flops": cost.flops, "bytes_moved": cost.bytes_moved}
