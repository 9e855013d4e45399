"""The timer, driven by a fake clock: warm-up, synchronization, adaptive rounds, thread count, records."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
import torch

from dlplayground.bench.timing import PointSpec, TimerConfig, measure_inference, time_call, time_visit
from dlplayground.errors import UserInputError

CPU = torch.device("cpu")


class FakeDevice:
    """A fake clock and sync: each call of the work advances time by the next scripted duration."""

    def __init__(self, durations: list[float]):
        self.durations = list(durations)
        self.now = 100.0
        self.calls = 0
        self.events: list[str] = []

    def clock(self) -> float:
        return self.now

    def sync(self, device: torch.device) -> None:
        self.events.append("sync")

    def work(self) -> None:
        self.events.append("call")
        self.now += self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1


def test_warmup_calls_are_not_timed_and_samples_are_exact():
    fake = FakeDevice([9.0, 9.0, 0.010, 0.020, 0.030])
    config = TimerConfig(warmup_calls=2, warmup_s=0.0, min_rounds=3, max_rounds=3, target_time_s=1e-9)
    samples, threads, kind = time_call(fake.work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert samples == pytest.approx([0.010, 0.020, 0.030])
    assert fake.calls == 5
    assert kind == "perf_counter"
    assert threads == torch.get_num_threads()


def test_no_warmup_times_the_first_call():
    # warmup_calls=0 with warmup_s=0 (a visit of a slow point, which the passes do not re-warm): every call
    # is timed, the first one included.
    fake = FakeDevice([9.0, 0.010, 0.020])
    config = TimerConfig(warmup_calls=0, warmup_s=0.0, min_rounds=3, max_rounds=3, target_time_s=1e-9)
    samples, _, _ = time_call(fake.work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert samples == pytest.approx([9.0, 0.010, 0.020])
    assert fake.calls == 3


def test_every_timed_call_is_bracketed_by_synchronization():
    fake = FakeDevice([0.001])
    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=4, max_rounds=4, target_time_s=1e-9)
    time_call(fake.work, CPU, config, clock=fake.clock, sync=fake.sync)
    timed = fake.events[fake.events.index("call") + 2:]  # after warm-up call and its sync
    assert timed == ["sync", "call", "sync"] * 4


def test_warmup_continues_until_warmup_time_has_passed():
    fake = FakeDevice([0.01])
    config = TimerConfig(warmup_calls=1, warmup_s=0.05, min_rounds=1, max_rounds=1, target_time_s=1e-9)
    time_call(fake.work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert fake.calls == 5 + 1  # 5 warm-up calls reach 0.05 s, then one timed call


def test_rounds_stop_at_target_time_after_min_rounds():
    fake = FakeDevice([0.1])
    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=2, max_rounds=100, target_time_s=0.45)
    samples, _, _ = time_call(fake.work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert len(samples) == 5  # 0.5 s >= 0.45 s target


def test_slow_calls_still_get_min_rounds_and_fast_calls_stop_at_max_rounds():
    slow = FakeDevice([2.0])
    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=3, max_rounds=50, target_time_s=0.1)
    assert len(time_call(slow.work, CPU, config, clock=slow.clock, sync=slow.sync)[0]) == 3
    fast = FakeDevice([1e-6])
    assert len(time_call(fast.work, CPU, config, clock=fast.clock, sync=fast.sync)[0]) == 50


def thread_recording_work() -> tuple[int, int, list[int], FakeDevice, Callable[[], None]]:
    """The caller's thread count, another one to ask for, and a fake call that logs the count it ran with."""
    before = torch.get_num_threads()
    seen: list[int] = []
    fake = FakeDevice([0.001])

    def work() -> None:
        seen.append(torch.get_num_threads())
        fake.work()

    return before, 1 if before != 1 else 2, seen, fake, work


def test_thread_count_is_fixed_recorded_and_restored():
    before, target, seen, fake, work = thread_recording_work()
    config = TimerConfig(warmup_calls=2, warmup_s=0.0, min_rounds=3, max_rounds=3, threads=target)
    _, threads, _ = time_call(work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert threads == target
    assert seen == [target] * 5  # every warm-up and timed call ran with the asked thread count
    assert torch.get_num_threads() == before  # and the caller's setting is back


def test_measure_inference_builds_a_record_in_eval_and_inference_mode():
    seen = {}
    fake = FakeDevice([0.004])

    class Probe(torch.nn.Module):
        def forward(self, x):
            fake.work()
            seen["training"] = self.training
            seen["inference"] = torch.is_inference_mode_enabled()
            return x * 2

    spec = PointSpec(model="probe", family="user", batch_size=4, device=CPU, dtype=torch.float32)
    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=5, max_rounds=5, target_time_s=1e-9)
    record = measure_inference(Probe().train(), torch.ones(4, 3), spec, config, clock=fake.clock, sync=fake.sync)
    assert seen == {"training": False, "inference": True}
    assert (record.batch_size, record.model, record.dtype) == (4, "probe", "float32")
    assert len(record.times_s) == 5
    assert record.p50_ms == pytest.approx(4.0)
    assert record.throughput_items_s == pytest.approx(1000.0)
    assert record.warmup_calls == 1
    assert (record.passes, record.pass_index, record.block_times_s) == (1, (), ())  # one visit: a single block


def test_a_visit_is_the_timer_s_per_call_samples():
    fake = FakeDevice([9.0, 0.010, 0.020, 0.030])
    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=3, max_rounds=3, target_time_s=1e-9)
    visit = time_visit(fake.work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert visit.times_s == pytest.approx((0.010, 0.020, 0.030))
    assert visit.block_s is None  # not asked for: nothing more is run
    assert fake.calls == 4
    assert (visit.threads, visit.timer) == (torch.get_num_threads(), "perf_counter")


def test_back_to_back_block_runs_as_many_calls_with_one_sync_at_the_end():
    fake = FakeDevice([0.001, 0.010, 0.010, 0.010, 0.002, 0.004, 0.006])
    gc_during_block: list[bool] = []

    def work() -> None:
        if fake.calls >= 4:
            gc_during_block.append(gc.isenabled())
        fake.work()

    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=3, max_rounds=3, target_time_s=1e-9,
                         back_to_back=True)
    visit = time_visit(work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert visit.times_s == pytest.approx((0.010, 0.010, 0.010))
    assert visit.block_s == pytest.approx((0.002 + 0.004 + 0.006) / 3)  # seconds per call over the block
    block = fake.events[-(3 + 2):]
    assert block == ["sync", "call", "call", "call", "sync"]  # one sync before, one at the end, none between
    assert fake.events[:-(3 + 2)].count("call") == 1 + 3  # after the warm-up and the per-call samples
    assert gc_during_block == [False] * 3
    assert gc.isenabled()


def test_back_to_back_keeps_the_thread_count_of_the_samples():
    before, target, seen, fake, work = thread_recording_work()
    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=2, max_rounds=2, threads=target, back_to_back=True)
    visit = time_visit(work, CPU, config, clock=fake.clock, sync=fake.sync)
    assert visit.threads == target
    assert seen == [target] * (1 + 2 + 2)
    assert torch.get_num_threads() == before


def test_measure_inference_records_the_back_to_back_figure():
    fake = FakeDevice([0.004])

    class Probe(torch.nn.Module):
        def forward(self, x):
            fake.work()
            return x

    spec = PointSpec(model="probe", family="user", batch_size=2, device=CPU, dtype=torch.float32)
    config = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=4, max_rounds=4, back_to_back=True)
    record = measure_inference(Probe(), torch.ones(2, 3), spec, config, clock=fake.clock, sync=fake.sync)
    assert record.block_times_s == pytest.approx((0.004,))
    assert len(record.times_s) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup_calls": -1}, "warmup_calls"),
        ({"warmup_s": -0.01}, "warmup_s"),
        ({"min_rounds": 0}, "min_rounds"),
        ({"min_rounds": 5, "max_rounds": 4}, "max_rounds"),
        ({"target_time_s": 0}, "target_time_s"),
        ({"threads": 0}, "--threads"),
    ],
)
def test_timer_config_rejects_bad_values(kwargs, message):
    with pytest.raises(UserInputError, match=message):
        TimerConfig(**kwargs)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_uses_events_and_measures_real_work():
    device = torch.device("cuda")
    a = torch.randn(2048, 2048, device=device)
    config = TimerConfig(warmup_calls=2, min_rounds=5, max_rounds=5)
    samples, _, kind = time_call(lambda: a @ a, device, config)
    assert kind == "cuda_event"
    assert all(s > 0 for s in samples)
