"""The whole sweep on a fake machine whose speed drifts: interleaved passes against one block per point.

``Machine`` is a fake device: a clock that only the fake models advance, by cost(b) x speed(t) x a little
log-normal noise per call, where speed(t) is the drift (the machine slowing down or freeing up while the run
goes on; it starts with the measured phase, so the exploration before it runs at the initial speed). Each
fake model is a user model (a ``ModelSpec``) whose forward pass does nothing but advance that clock, and the
``Sweep`` runs every phase on it through its ``clock``/``sync``/``peaks`` seams; nothing real is timed.

The true value of a point is what it costs on this machine over the run: cost(b) times the speed averaged
over the measured window. The one-block design this module compares against is the schedule the sweep
replaced: each point timed in one contiguous block, model by model, batches ascending, with as many calls
as the interleaved sweep spent on it, and its interval the bootstrap of those per-call samples as if they
were independent (a single-pass record, for which ``point_noise`` reduces to exactly that).
"""

from __future__ import annotations

import gc
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import fields, replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import dlplayground.bench.timing as timing_mod
from dlplayground.bench.config import BenchConfig, BenchOptions
from dlplayground.bench.explore import KNEE, LIST_END, OUT_OF_MEMORY
from dlplayground.bench.models import ModelSpec
from dlplayground.bench.noise import point_noise
from dlplayground.bench.passes import PassConfig, pass_order
from dlplayground.bench.peaks import Peaks
from dlplayground.bench.saturation import SaturationConfig, analyse
from dlplayground.bench.sweep import IN_PROCESS, PointFailed, PointSkipped, Sweep
from dlplayground.bench.timing import TimerConfig, inference_call, time_call
from dlplayground.results import TimingRecord, parse_envelope, to_json

CPU = torch.device("cpu")
PEAKS = Peaks(matmul_gflop_s=100.0, bandwidth_gb_s=10.0, dtype="float32", device="cpu", threads=1, matmul_n=512,
              matmul_median_gflop_s=90.0, matmul_by_n=[], copy_bytes=1 << 20, bandwidth_median_gb_s=9.0,
              elapsed_s=0.0)
BATCHES = (1, 2, 4, 8, 16, 32, 64)
COSTS: dict[str, Callable[[int], float]] = {
    "knee16": lambda b: 1e-3 * max(1.0, b / 16),  # overhead-bound up to 16 items, then linear
    "linear": lambda b: 2e-4 + 5e-5 * b,
    "heavy": lambda b: 2e-3 * max(1.0, b / 4),
}
"""Seconds per call of each fake model at batch b on the machine at speed 1."""


class Machine:
    """A fake clock and device whose speed drifts with the time since the measured phase began."""

    def __init__(self, speed: Callable[[float], float], *, noise: float = 0.03, seed: int = 0):
        self.speed = speed
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.now = 0.0
        self.start: float | None = None
        self.end: float | None = None
        self.log: list[tuple[str, int]] = []
        """(model, batch) of every call in the measured phase, in order."""

    def clock(self) -> float:
        return self.now

    def sync(self, device: torch.device) -> None:
        pass

    @property
    def measuring(self) -> bool:
        return self.start is not None and self.end is None

    def begin(self) -> None:
        self.start, self.end, self.log = self.now, None, []

    def finish(self) -> None:
        self.end = self.now

    def elapsed(self) -> float:
        if self.start is None:
            return 0.0
        return min(self.now, self.end if self.end is not None else math.inf) - self.start

    def call(self, name: str, batch: int, cost_s: float) -> None:
        if self.measuring:
            self.log.append((name, batch))
        self.now += cost_s * self.speed(self.elapsed()) * math.exp(self.rng.normal(0.0, self.noise))

    def mean_speed(self) -> float:
        """The speed averaged over the measured window: true value = cost x this."""
        return float(np.mean([self.speed(t) for t in np.linspace(0.0, self.end - self.start, 20001)]))


class FakeModel(nn.Module):
    """A user model whose forward pass costs ``cost_s(batch)`` on the machine (and can run out of memory:
    ``out_of_memory(batch)`` True raises CUDA's error, or the exception it returns)."""

    def __init__(self, machine: Machine, name: str, cost_s: Callable[[int], float],
                 out_of_memory: Callable[[int], bool | BaseException] = lambda b: False):
        super().__init__()
        self.machine, self.name, self.cost_s, self.out_of_memory = machine, name, cost_s, out_of_memory

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        error = self.out_of_memory(batch)
        if isinstance(error, BaseException):
            raise error
        if error:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {batch} GiB")
        self.machine.call(self.name, batch, self.cost_s(batch))
        return x.sum(dim=1, keepdim=True)


def fake_specs(machine: Machine, costs: dict[str, Callable[[int], float]],
               out_of_memory: dict[str, Callable[[int], bool | BaseException]] | None = None) -> tuple[ModelSpec, ...]:
    def factory(name: str) -> Callable[[], tuple[nn.Module, Callable[[int], torch.Tensor]]]:
        oom = (out_of_memory or {}).get(name, lambda b: False)
        return lambda: (FakeModel(machine, name, costs[name], oom), lambda b: torch.zeros(b, 4))
    return tuple(ModelSpec(name, "user", factory(name), f"fake model {name}") for name in costs)


DRIFT_PASSES = PassConfig(passes=6, pass_time_s=0.035, min_calls=1, max_calls=40, rewarm_calls=1, rewarm_s=0.01)
"""The passes the drift scenarios below are sized for (about 7 fake seconds of passes): six passes of 0.035 s
per point, as one process ran them before each pass got a worker of its own (``tests/test_worker.py``)."""


def make_config(specs: tuple[ModelSpec, ...], *, batch_sizes: str = "1,2,4,8,16,32,64", **changes) -> BenchConfig:
    """The full configuration with the fake models in place of the built-ins, and ``DRIFT_PASSES``."""
    config = BenchConfig.from_options(BenchOptions(models="mlp", batch_sizes=batch_sizes))
    return replace(config, models=specs, **{"passes": DRIFT_PASSES, **changes})


def fixed_visits(passes: int = 5, calls: int = 4, seed: int = 0) -> PassConfig:
    """Visits of exactly 1 + ``calls`` forward passes (one re-warm call, no re-warm time), so the log of calls
    cuts into visits."""
    return PassConfig(passes=passes, pass_time_s=0.1, min_calls=calls, max_calls=calls, rewarm_calls=1,
                      rewarm_s=0.0, seed=seed)


def run_sweep(machine: Machine, config: BenchConfig) -> Sweep:
    """Measure every phase on the fake machine; its drift runs from the first to the last call of the passes."""
    sweep = Sweep(config, clock=machine.clock, sync=machine.sync, peaks=PEAKS)
    timed_passes = sweep._passes

    def passes(workers) -> None:
        machine.begin()
        timed_passes(workers)
        machine.finish()

    sweep._passes = passes
    sweep.measure()
    return sweep


def records_of(sweep: Sweep) -> list[TimingRecord]:
    return [r for s in sweep.models.values() for r in s.records]


def one_block(machine: Machine, costs: dict[str, Callable[[int], float]],
              calls: dict[tuple[str, int], tuple[int, int]]) -> list[TimingRecord]:
    """The replaced schedule: model by model, batches ascending, each point one block of (warm-up, timed) calls."""
    machine.begin()
    out = []
    for name in costs:
        model = FakeModel(machine, name, costs[name])
        for batch in sorted(b for m, b in calls if m == name):
            warm, timed = calls[name, batch]
            timer = TimerConfig(warmup_calls=warm, warmup_s=0.0, min_rounds=timed, max_rounds=timed)
            samples, threads, kind = time_call(inference_call(model, torch.zeros(batch, 4)), CPU, timer,
                                               clock=machine.clock, sync=machine.sync)
            out.append(TimingRecord(model=name, family="user", device="cpu", dtype="float32", batch_size=batch,
                                    threads=threads, warmup_calls=warm, times_s=tuple(samples), timer=kind))
    machine.finish()
    return out


def same_calls(sweep: Sweep, machine: Machine) -> dict[tuple[str, int], tuple[int, int]]:
    """Per point, (untimed, timed) calls the interleaved passes spent on it."""
    spent = Counter(machine.log)
    return {(r.model, r.batch_size): (spent[r.model, r.batch_size] - len(r.times_s), len(r.times_s))
            for r in records_of(sweep)}


def coverage(records: list[TimingRecord], machine: Machine, costs: dict[str, Callable[[int], float]]) -> float:
    """Fraction of points whose 95 % interval of the median holds the true value."""
    speed = machine.mean_speed()
    hits = [n.ci_low_ms <= costs[r.model](r.batch_size) * speed * 1e3 <= n.ci_high_ms
            for r in records for n in [point_noise(r)]]
    return float(np.mean(hits))


@pytest.fixture(autouse=True)
def no_full_collection(monkeypatch):
    """The timer's ``gc.collect()`` before each visit walks every live object (~0.1 s with torch loaded) and
    the fake clock cannot see it; skip it to keep these sweeps of hundreds of visits quick."""
    monkeypatch.setattr(timing_mod, "gc", SimpleNamespace(collect=lambda: 0, isenabled=gc.isenabled,
                                                          disable=gc.disable, enable=gc.enable))


# ------------------------------------------------------------------------------ the passes' shape
def test_every_point_gets_every_pass_with_equal_samples_per_pass():
    machine = Machine(lambda t: 1.0)
    config = make_config(fake_specs(machine, COSTS), batch_sizes="1,4,16,64",
                         passes=replace(DRIFT_PASSES, passes=4))
    sweep = run_sweep(machine, config)
    # An injected clock cannot reach a worker process: these sweeps keep their passes in this process.
    assert sweep.pass_unit == (IN_PROCESS, "a clock or sync was injected")
    assert sweep.envelope_section()["config"]["passes"]["unit"] == IN_PROCESS
    records = records_of(sweep)
    assert len(records) == 3 * 4
    explored_ratios = []
    for r in records:
        per_pass = len(r.times_s) // 4
        assert r.passes == 4
        assert r.pass_index == tuple(p for p in range(4) for _ in range(per_pass))
        assert r.pass_matrix.shape == (4, per_pass)
        # Calls per visit fill pass_time_s at the exploratory call time, within [min_calls, max_calls].
        explored = sweep.models[r.model].range
        call_s = explored.call_s[explored.batch_sizes.index(r.batch_size)]
        # The exploration keeps the fastest of its calls: below the cost by a few noise SDs (3 % each).
        explored_ratios.append(call_s / COSTS[r.model](r.batch_size))
        assert 0.85 <= explored_ratios[-1] <= 1.03
        assert per_pass == config.passes.calls_for(call_s)
        assert r.warmup_calls == config.passes.rewarm_calls
        assert r.block_times_s == ()  # CPU: every call is synchronous, no back-to-back block
    # The fastest call, not the median: the median of the noise is the cost itself (mean ratio ~1).
    assert float(np.mean(explored_ratios)) < 0.98
    for name in COSTS:
        record = sweep.models[name].record()
        assert (record.batch_sizes, record.measured, record.stop_reason) == ((1, 4, 16, 64), (1, 4, 16, 64), LIST_END)


def test_visits_re_warm_fast_points_and_not_slow_ones():
    plan = PassConfig(rewarm_calls=2, rewarm_s=0.02, rewarm_max_call_s=0.05)
    fast = plan.visit_timer(0.01, threads=3, back_to_back=True)
    assert (fast.warmup_calls, fast.warmup_s) == (2, 0.02)
    assert (fast.min_rounds, fast.max_rounds) == (plan.calls_for(0.01),) * 2
    assert (fast.threads, fast.back_to_back) == (3, True)
    at_limit = plan.visit_timer(0.05, threads=None, back_to_back=False)
    assert (at_limit.warmup_calls, at_limit.warmup_s) == (2, 0.02)
    slow = plan.visit_timer(0.2, threads=None, back_to_back=False)
    assert (slow.warmup_calls, slow.warmup_s) == (0, 0.0)
    assert (slow.min_rounds, slow.max_rounds) == (plan.min_calls,) * 2  # still timed, just not re-warmed
    # In a pass's fresh worker process no point has run yet: even a slow one gets one untimed first call.
    cold = plan.visit_timer(0.2, threads=None, back_to_back=False, fresh_process=True)
    assert (cold.warmup_calls, cold.warmup_s, cold.min_rounds) == (1, 0.0, plan.min_calls)
    no_rewarm = replace(plan, rewarm_calls=0)
    assert no_rewarm.visit_timer(0.01, threads=None, back_to_back=False, fresh_process=True).warmup_calls == 1
    fresh_fast = plan.visit_timer(0.01, threads=None, back_to_back=False, fresh_process=True)
    assert fresh_fast == replace(fast, threads=None, back_to_back=False)  # a fast point's re-warm-up suffices


def test_the_sweep_re_warms_only_points_faster_than_the_limit():
    # Every visit: 4 timed calls, plus one re-warm call where the exploratory call took at most 1.5 ms.
    passes = 3
    machine = Machine(lambda t: 1.0)
    plan = replace(fixed_visits(passes), rewarm_max_call_s=1.5e-3)
    sweep = run_sweep(machine, make_config(fake_specs(machine, COSTS), passes=plan))
    spent = same_calls(sweep, machine)
    rewarmed = {point for point, (untimed, _) in spent.items() if untimed}
    assert all(untimed in (0, passes) and timed == 4 * passes for untimed, timed in spent.values())
    assert rewarmed == {(m, b) for m, b in spent if COSTS[m](b) <= 1.5e-3}
    assert ("knee16", 16) in rewarmed  # both kinds are present
    assert ("heavy", 1) not in rewarmed


def visits(machine: Machine, calls_per_visit: int) -> list[tuple[str, int]]:
    """The point of each visit, from the log of calls (each visit: ``calls_per_visit`` calls of one point)."""
    log = machine.log
    assert len(log) % calls_per_visit == 0
    chunks = [log[i:i + calls_per_visit] for i in range(0, len(log), calls_per_visit)]
    assert all(len(set(c)) == 1 for c in chunks)
    return [c[0] for c in chunks]


def test_each_pass_visits_all_points_of_all_models_in_a_fresh_seeded_order():
    passes, batches = 5, (1, 2, 4, 8)
    machine = Machine(lambda t: 1.0)
    config = make_config(fake_specs(machine, COSTS), batch_sizes="1,2,4,8", passes=fixed_visits(passes))
    run_sweep(machine, config)
    seen = visits(machine, 1 + 4)
    points = [(m, b) for m in COSTS for b in batches]
    orders = [seen[p * len(points):(p + 1) * len(points)] for p in range(passes)]
    assert orders == [pass_order(points, p, seed=0) for p in range(passes)]
    assert all(sorted(o) == sorted(points) for o in orders)  # every point once per pass
    assert len({tuple(o) for o in orders}) == passes  # a fresh order every pass
    # Models are interleaved: one block per model would switch model 2 times in a pass of 3 models.
    switches = [sum(a[0] != b[0] for a, b in zip(o, o[1:], strict=False)) for o in orders]
    assert min(switches) > len(COSTS) - 1
    assert sum(switches) / (passes * (len(points) - 1)) > 0.5
    # The same seed replays the same order; another seed gives another.
    again = Machine(lambda t: 1.0)
    run_sweep(again, make_config(fake_specs(again, COSTS), batch_sizes="1,2,4,8", passes=fixed_visits(passes)))
    assert again.log == machine.log
    other = Machine(lambda t: 1.0)
    run_sweep(other, make_config(fake_specs(other, COSTS), batch_sizes="1,2,4,8",
                                 passes=fixed_visits(passes, seed=1)))
    assert visits(other, 5) != seen
    assert sorted(visits(other, 5)) == sorted(seen)


# ---------------------------------------------------------------------------- intervals under drift
DRIFTS = {
    "slows-40%-linearly": lambda t: 1.0 + 0.4 * min(1.0, t / 6.0),
    "slows-40%-in-a-step": lambda t: 1.0 if t < 3.0 else 1.4,
}
"""Speed against seconds since the measured phase began (the passes take about 7 fake seconds)."""


@pytest.mark.parametrize("drift", list(DRIFTS), ids=list(DRIFTS))
def test_interleaved_intervals_cover_the_true_value_where_one_block_intervals_do_not(drift):
    machine = Machine(DRIFTS[drift])
    sweep = run_sweep(machine, make_config(fake_specs(machine, COSTS)))
    interleaved = records_of(sweep)
    assert len(interleaved) == len(COSTS) * len(BATCHES)
    blocked = Machine(DRIFTS[drift], seed=1)
    blocks = one_block(blocked, COSTS, same_calls(sweep, machine))
    assert sum(len(r.times_s) for r in blocks) == sum(len(r.times_s) for r in interleaved)
    assert blocked.end - blocked.start == pytest.approx(machine.end - machine.start, rel=0.05)  # same time spent

    covered, block_covered = coverage(interleaved, machine, COSTS), coverage(blocks, blocked, COSTS)
    assert covered >= 0.85, f"interleaved coverage {covered:.0%}"
    assert block_covered <= 0.15, f"one-block coverage {block_covered:.0%}"
    # Honest, not vacuous: the interleaved intervals are wider than the blocks' but far narrower than the drift.
    widths = [point_noise(r).half_width for r in interleaved]
    assert float(np.median(widths)) < 0.25
    assert float(np.median(widths)) > 5 * float(np.median([point_noise(r).half_width for r in blocks]))


def test_without_drift_both_designs_cover_the_true_value():
    # The control: the one-block emulation is not broken, drift is what defeats it.
    machine = Machine(lambda t: 1.0)
    sweep = run_sweep(machine, make_config(fake_specs(machine, COSTS)))
    blocked = Machine(lambda t: 1.0, seed=1)
    blocks = one_block(blocked, COSTS, same_calls(sweep, machine))
    assert coverage(records_of(sweep), machine, COSTS) >= 0.85
    assert coverage(blocks, blocked, COSTS) >= 0.8


@pytest.mark.parametrize("seed", [0, 5])
def test_the_true_knee_lies_in_the_interleaved_interval_while_the_machine_speeds_up(seed):
    # The machine frees up during the run (1.5x slower at the start, easing towards full speed over 3 s; the
    # passes take about 2 s). One block per batch, ascending, sees the small batches slow and the large ones
    # fast: throughput seems to keep rising past the knee at 16, and the iid interval is too narrow to admit
    # the truth. Both designs are judged on their passes alone (run_sigma=0: no allowance for run-to-run
    # shifts, which would widen the one-block interval too and hide the difference between the designs).
    knee = {"knee16": COSTS["knee16"]}
    speeds_up = lambda t: 1.5 - 0.5 * min(1.0, t / 3.0)  # noqa: E731
    machine = Machine(speeds_up, seed=seed)
    config = make_config(fake_specs(machine, knee), batch_sizes="",
                         passes=replace(DRIFT_PASSES, seed=seed))
    sweep = run_sweep(machine, config)
    sweep_record = sweep.models["knee16"].record()
    assert (sweep_record.stop_reason, sweep_record.batch_sizes) == (KNEE, BATCHES)  # the doubling found the range
    passes_only = SaturationConfig(run_sigma=0.0)
    sat = analyse(sweep.models["knee16"].records, passes_only)
    assert sat.ci_low <= 16 <= sat.ci_high
    assert sat.saturation_batch == 16
    assert sat.passes == config.passes.passes
    default = analyse(sweep.models["knee16"].records)  # and with the run-to-run allowance, as a run reports it
    assert (default.saturation_batch, default.ci_low <= 16 <= default.ci_high) == (16, True)
    blocked = Machine(speeds_up, seed=seed + 100)
    block_sat = analyse(one_block(blocked, knee, same_calls(sweep, machine)), passes_only)
    assert block_sat.saturation_batch > 16
    assert not block_sat.ci_low <= 16 <= block_sat.ci_high


# ----------------------------------------------------------------------------- out of memory, blocks
def test_a_bare_memory_error_in_the_exploration_is_the_oom_boundary():
    # The CPU allocator can raise MemoryError() with an empty message: recorded, not an IndexError.
    machine = Machine(lambda t: 1.0)
    specs = fake_specs(machine, {"hungry": COSTS["linear"]},
                       {"hungry": lambda b: MemoryError() if b >= 8 else False})
    sweep = run_sweep(machine, make_config(specs, passes=fixed_visits(2, calls=2)))
    hungry = sweep.models["hungry"]
    assert (hungry.oom_batch_size, hungry.oom_message) == (8, "")
    assert [r.batch_size for r in hungry.records] == [1, 2, 4]
    assert hungry.record().stop_reason == OUT_OF_MEMORY


def test_out_of_memory_in_a_later_pass_drops_that_batch_and_larger_ones():
    passes, batches, calls_per_visit = 4, (1, 2, 4, 8, 16, 32, 64), 1 + 3
    machine = Machine(lambda t: 1.0)
    costs = {"hungry": COSTS["knee16"], "steady": COSTS["linear"]}
    first_pass_calls = len(costs) * len(batches) * calls_per_visit

    def out_of_memory(batch: int) -> bool:  # from the second pass on, batch 16 and larger no longer fit
        return machine.measuring and len(machine.log) >= first_pass_calls and batch >= 16

    config = make_config(fake_specs(machine, costs, {"hungry": out_of_memory}),
                         passes=fixed_visits(passes, calls=3))
    sweep = run_sweep(machine, config)
    hungry = sweep.models["hungry"]
    assert hungry.oom_batch_size == 16
    assert hungry.oom_message == "CUDA out of memory. Tried to allocate 16 GiB"
    assert {16, 32, 64} <= set(hungry.visits)  # visited in the first pass, then dropped
    assert [r.batch_size for r in hungry.records] == [1, 2, 4, 8]
    assert all(r.passes == passes for r in hungry.records)
    record = hungry.record()
    assert record.stop_reason == OUT_OF_MEMORY
    assert "during a pass" in record.stop_detail
    assert (record.batch_sizes, record.measured, record.oom_batch_size) == ((1, 2, 4, 8), (1, 2, 4, 8), 16)
    for batch in (16, 64):
        with pytest.raises(PointSkipped, match="OOM boundary"):
            sweep.outcome("hungry", batch)
    assert sweep.outcome("hungry", 8).batch_size == 8
    # The other model is untouched.
    assert [r.batch_size for r in sweep.models["steady"].records] == list(batches)
    assert sweep.models["steady"].record().stop_reason == LIST_END
    with pytest.raises(PointSkipped, match="outside the measured range"):
        sweep.outcome("steady", 128)
    with pytest.raises(PointSkipped, match="not selected"):
        sweep.outcome("nosuch", 1)


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                 "tried to allocate 40000000000000 bytes. Error code 12 (Cannot allocate memory)"),
    RuntimeError("MPS backend out of memory (MPS allocated: 9.1 GB, other allocations: 1 GB)"),
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
], ids=["cpu", "mps", "cuda"])
def test_every_device_wording_of_out_of_memory_is_the_boundary_not_a_failure(error):
    machine = Machine(lambda t: 1.0)
    specs = fake_specs(machine, {"hungry": COSTS["linear"]}, {"hungry": lambda b: error if b >= 8 else False})
    sweep = run_sweep(machine, make_config(specs, passes=fixed_visits(2, calls=2)))
    hungry = sweep.models["hungry"]
    assert hungry.oom_batch_size == 8
    assert hungry.failure is None
    assert [r.batch_size for r in hungry.records] == [1, 2, 4]
    with pytest.raises(PointSkipped, match="OOM boundary"):
        sweep.outcome("hungry", 16)


def test_a_model_that_raises_fails_at_that_batch_and_the_rest_is_kept():
    machine = Machine(lambda t: 1.0)
    costs = {"buggy": COSTS["linear"], "steady": COSTS["linear"]}
    specs = fake_specs(machine, costs, {"buggy": lambda b: ValueError(f"shape bug at {b}\nsecond line") if b >= 4
                                        else False})
    sweep = run_sweep(machine, make_config(specs, passes=fixed_visits(2, calls=2), batch_sizes="1,2,4,8"))
    buggy = sweep.models["buggy"]
    assert (buggy.failed_batch_size, buggy.failure) == (4, "ValueError: shape bug at 4")
    assert [r.batch_size for r in buggy.records] == [1, 2]
    record = buggy.record()
    assert (record.stop_reason, record.failed_batch_size, record.failure) == ("failed", 4, "ValueError: shape bug at 4")
    assert sweep.failures == {"buggy": (4, "ValueError: shape bug at 4")}
    with pytest.raises(PointFailed, match="buggy at batch 4: ValueError: shape bug at 4"):
        sweep.outcome("buggy", 4)
    with pytest.raises(PointSkipped, match="not measured, batch 4 failed"):
        sweep.outcome("buggy", 8)
    assert [r.batch_size for r in sweep.models["steady"].records] == [1, 2, 4, 8]
    assert set(sweep.saturation()) == {"buggy", "steady"}  # the failed model's measured points are analysed


def test_a_failure_in_a_later_pass_drops_that_batch_and_larger_ones():
    machine = Machine(lambda t: 1.0)
    calls_per_pass = 4 * (1 + 2)

    def flaky(batch: int) -> bool | BaseException:
        return RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR") if (
            machine.measuring and len(machine.log) >= calls_per_pass and batch == 2) else False

    sweep = run_sweep(machine, make_config(fake_specs(machine, {"flaky": COSTS["linear"]}, {"flaky": flaky}),
                                           passes=fixed_visits(3, calls=2), batch_sizes="1,2,4,8"))
    flaky_sweep = sweep.models["flaky"]
    assert flaky_sweep.failed_batch_size == 2
    assert flaky_sweep.failed_during_passes
    assert [r.batch_size for r in flaky_sweep.records] == [1]
    assert "failed during a pass: RuntimeError: cuDNN error" in flaky_sweep.record().stop_detail


def test_a_factory_that_raises_fails_that_model_only():
    machine = Machine(lambda t: 1.0)
    good = fake_specs(machine, {"steady": COSTS["linear"]})

    def broken():
        raise OSError("weights file missing")

    specs = (*good, ModelSpec("broken", "user", broken, "a user model whose weights are gone"))
    sweep = run_sweep(machine, make_config(specs, passes=fixed_visits(2, calls=2), batch_sizes="1,2"))
    assert sweep.failures["broken"][0] == 1
    assert "building the model" in sweep.failures["broken"][1]
    assert "weights file missing" in sweep.failures["broken"][1]
    assert sweep.models["broken"].records == []
    assert [r.batch_size for r in sweep.models["steady"].records] == [1, 2]
    with pytest.raises(PointFailed, match="weights file missing"):
        sweep.outcome("broken", 1)


@pytest.mark.parametrize(("stop_after_passes", "kept_passes"), [(0.5, 1), (2.5, 2)])
def test_an_interrupt_keeps_the_completed_passes_and_marks_the_run_incomplete(stop_after_passes, kept_passes):
    machine = Machine(lambda t: 1.0)
    calls_per_pass = 2 * 4 * (1 + 2)

    def interrupt(batch: int) -> bool | BaseException:
        return KeyboardInterrupt() if (machine.measuring and
                                       len(machine.log) >= stop_after_passes * calls_per_pass) else False

    costs = {"a": COSTS["linear"], "b": COSTS["knee16"]}
    specs = fake_specs(machine, costs, {"a": interrupt, "b": interrupt})
    sweep = Sweep(make_config(specs, passes=fixed_visits(4, calls=2), batch_sizes="1,2,4,8"),
                  clock=machine.clock, sync=machine.sync, peaks=PEAKS)
    passes = sweep._passes
    sweep._passes = lambda workers: (machine.begin(), passes(workers))
    with pytest.raises(KeyboardInterrupt):
        sweep.measure()
    records = records_of(sweep)
    assert records
    assert all(r.passes == kept_passes for r in records)
    if kept_passes > 1:  # every point took part in every completed pass
        assert len(records) == 8
    assert sweep.incomplete.startswith(f"interrupted while pass {int(stop_after_passes) + 1} of 4")
    envelope = parse_envelope(json.loads(to_json(sweep.envelope())))
    assert envelope.incomplete == sweep.incomplete
    assert sorted((r.model, r.batch_size) for r in envelope.records) == sorted((r.model, r.batch_size)
                                                                               for r in records)
    with pytest.raises(KeyboardInterrupt):  # later points report the interrupt, not a made-up outcome
        sweep.outcome("a", 1)


def test_a_variant_that_cannot_be_built_is_skipped_and_its_siblings_still_run():
    machine = Machine(lambda t: 1.0)
    (eager,) = fake_specs(machine, {"knee16": COSTS["knee16"]})
    specs = (eager, replace(eager, name="knee16[cudagraphs]", variant="cudagraphs", base="knee16"),
             replace(eager, name="knee16[channels_last]", variant="channels_last", base="knee16"))
    sweep = run_sweep(machine, make_config(specs, passes=fixed_visits(2, calls=2), batch_sizes="1,2,4"))
    assert [r.batch_size for r in sweep.models["knee16"].records] == [1, 2, 4]
    graphs = sweep.models["knee16[cudagraphs]"].record()
    assert graphs.variant_skipped == "CUDA graphs need a CUDA device; this run is on cpu"
    assert (graphs.stop_reason, graphs.measured, graphs.variant, graphs.base_model) == (
        "variant unavailable", (), "cudagraphs", "knee16")
    assert "4-D (image) inputs" in sweep.models["knee16[channels_last]"].variant_skipped
    with pytest.raises(PointSkipped, match="variant skipped"):
        sweep.outcome("knee16[cudagraphs]", 1)
    assert sweep.failures == {}  # skipped, not failed: the run succeeds


def test_variants_of_a_model_are_measured_at_the_union_of_their_ranges():
    machine = Machine(lambda t: 1.0)
    (eager,) = fake_specs(machine, {"early": lambda b: 1e-3 * b})  # linear from batch 1: knee at once
    (fused,) = fake_specs(machine, {"late": COSTS["knee16"]})  # a variant that keeps gaining up to 16
    fused = replace(fused, name="early[compile]", variant="eager", base="early")  # eager build: no compiler needed
    sweep = run_sweep(machine, make_config((eager, fused), passes=fixed_visits(2, calls=2), batch_sizes=""))
    ranges = {name: s.range.batch_sizes for name, s in sweep.models.items()}
    assert ranges["early[compile]"][-1] >= 64  # its knee at 16, confirmed two doublings on (or one more: noise)
    assert ranges["early"] == ranges["early[compile]"]  # extended to the batches its variant reached
    beyond = ", ".join(str(b) for b in ranges["early"][3:])  # its own doubling stopped at 4 (no gain past 1)
    assert sweep.models["early"].record().stop_detail == (
        f"no doubling past batch 1 gained more than 5% (checked up to batch 4); extended to batch(es) {beyond} that "
        "its variants reached")
    assert [r.batch_size for r in sweep.models["early"].records] == list(ranges["early"])


class BackToBackConfig(BenchConfig):
    """A CPU configuration that times back-to-back blocks as on CUDA/MPS (a test double: on the CPU the
    per-call figure already is the back-to-back one, so the real configuration never asks for it there)."""

    @property
    def back_to_back(self) -> bool:
        return True


def test_back_to_back_blocks_are_recorded_once_per_pass():
    machine = Machine(lambda t: 1.0)
    plain = make_config(fake_specs(machine, COSTS), batch_sizes="1,16", passes=fixed_visits(3, calls=4))
    config = BackToBackConfig(**{f.name: getattr(plain, f.name) for f in fields(plain)})
    assert config.to_dict()["back_to_back"] is True
    sweep = run_sweep(machine, config)
    assert len(machine.log) == 3 * 6 * (1 + 4 + 4)  # per visit: re-warm, 4 timed calls, a block of 4 more
    for r in records_of(sweep):
        assert len(r.block_times_s) == r.passes == 3
        assert r.block_times_s == pytest.approx([COSTS[r.model](r.batch_size)] * 3, rel=0.05)
        TimingRecord.from_dict(r.to_dict())  # and the record round-trips with them
