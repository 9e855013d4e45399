"""Passes in fresh worker processes: a real round trip, and a worker's errors, crashes and signals.

The models (``WORKER_MODELS``, written to a temporary folder and imported as ``workermodels``) misbehave only
inside a pass's worker, from its n-th worker on: the parent that explored their range never sees it, exactly
as a real model whose trouble depends on the process (its memory layout, a flaky extension) would behave.
Real workers are started here (each imports torch: about 2 s on a 2-core machine), so the sweeps are small:
two batches, two passes. The fake-clock tests of the passes themselves (``tests/test_passes.py``) stay in
one process: an injected clock cannot reach a worker.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dlplayground.bench.config import BenchConfig, BenchOptions
from dlplayground.bench.peaks import Peaks
from dlplayground.bench.sweep import IN_PROCESS, PROCESS, PointFailed, PointSkipped, Sweep
from dlplayground.bench.timing import TimerConfig
from dlplayground.bench.worker import (
    BuildJob,
    PassJob,
    VisitJob,
    WorkerFailed,
    WorkerModel,
    Workers,
    rebuildable,
    run_pass,
)
from dlplayground.results import TimingRecord, parse_envelope, to_json

WORKER_MODELS = '''
"""User models that misbehave only in a pass's worker, from the DLP_TEST_FROM-th worker of the run on, at
batches from DLP_TEST_AT: a worker (``python -m dlplayground.bench.worker``) logs its pid to DLP_TEST_LOG at its
first call, which numbers the workers (passes run one after another); any other process is the parent."""
import os
import signal
import sys
from pathlib import Path

import torch
from torch import nn

_number = None


def worker_number():
    global _number
    if getattr(sys.modules["__main__"].__spec__, "name", None) != "dlplayground.bench.worker":
        return 0
    if _number is None:
        log = Path(os.environ["DLP_TEST_LOG"])
        with log.open("a") as f:
            f.write(f"{os.getpid()}\\n")
        _number = len(log.read_text().split())
    return _number


class Misbehaves(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.linear = nn.Linear(8, 4)

    def forward(self, x):
        if self.how == "prints":
            print("a user model that prints")  # in a worker: to its stderr, never into its results
        batch = x.shape[0]
        if worker_number() >= int(os.environ["DLP_TEST_FROM"]) and batch >= int(os.environ["DLP_TEST_AT"]):
            if self.how == "raises":
                raise ValueError(f"shape bug at batch {batch}")
            if self.how == "oom":
                raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB")
            if self.how == "crashes":
                sys.stderr.write("fatal: the model's extension crashed\\n")
                sys.stderr.flush()
                os._exit(3)
            if self.how in ("SIGINT", "SIGTERM"):
                os.kill(os.getpid(), getattr(signal, self.how))
        return self.linear(x)


def _factory(how):
    return lambda: (Misbehaves(how), lambda b: torch.randn(b, 8))


prints, raises, oom, crashes = (_factory(h) for h in ("prints", "raises", "oom", "crashes"))
sigint, sigterm = _factory("SIGINT"), _factory("SIGTERM")
'''
"""The models' source (``tests/test_reliability.py`` writes it too, for a whole ``dlplayground bench``)."""

PEAKS = Peaks(matmul_gflop_s=100.0, bandwidth_gb_s=10.0, dtype="float32", device="cpu", threads=1, matmul_n=512,
              matmul_median_gflop_s=90.0, matmul_by_n=[], copy_bytes=1 << 20, bandwidth_median_gb_s=9.0,
              elapsed_s=0.0)
PASSES = 2


def worker_models_env(folder: Path, log: Path, *, start: int, at: int = 4) -> dict[str, str]:
    """Write ``workermodels.py`` into ``folder``; the environment that makes its models misbehave from the
    ``start``-th worker on at batches from ``at``, the workers logging their pids to ``log``."""
    (folder / "workermodels.py").write_text(WORKER_MODELS)
    return {"DLP_TEST_LOG": str(log), "DLP_TEST_FROM": str(start), "DLP_TEST_AT": str(at)}


def misbehave(mp: pytest.MonkeyPatch, folder: Path, tag: str, *, start: int, at: int = 4) -> None:
    """Make ``workermodels`` misbehave from the ``start``-th worker on at batches from ``at`` (log: ``tag``)."""
    for name, value in worker_models_env(folder, folder / f"{tag}.log", start=start, at=at).items():
        mp.setenv(name, value)


@pytest.fixture(scope="module")
def models_on_path(tmp_path_factory):
    """``workermodels`` importable here and (through the parent's ``sys.path``) in every worker."""
    folder = tmp_path_factory.mktemp("workermodels")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        yield folder, mp
        sys.modules.pop("workermodels", None)


def sweep_of(models: str, **options: str) -> Sweep:
    config = BenchConfig.from_options(BenchOptions(models=",".join(f"workermodels:{m}" for m in models.split(",")),
                                                   batch_sizes="1,4", passes=str(PASSES), quick=True, **options))
    return Sweep(config, peaks=PEAKS)


@pytest.fixture(scope="module")
def worker_sweep(models_on_path):
    """One real sweep in workers: ``prints`` runs clean; ``raises`` and ``oom`` misbehave at batch 4 from the
    second pass's worker on."""
    folder, mp = models_on_path
    misbehave(mp, folder, "sweep", start=2)
    sweep = sweep_of("prints,raises,oom")
    sweep.measure()
    return sweep


def records(sweep: Sweep, model: str) -> list[TimingRecord]:
    return sweep.models[f"workermodels:{model}"].records


# ------------------------------------------------------------------------------------------ round trip
def test_each_pass_runs_in_a_fresh_worker_and_its_visits_come_back_with_their_pass_index(worker_sweep, models_on_path):
    folder, _ = models_on_path
    assert worker_sweep.pass_unit == (PROCESS, "each pass in a fresh worker process")
    workers = (folder / "sweep.log").read_text().split()
    assert len(workers) == len(set(workers)) == PASSES  # one process per pass, none of them this one
    assert str(os.getpid()) not in workers
    sweep = worker_sweep.models["workermodels:prints"]
    plan = worker_sweep.config.passes
    assert [r.batch_size for r in sweep.records] == [1, 4]
    for record in sweep.records:
        call_s = sweep.range.call_s[sweep.range.batch_sizes.index(record.batch_size)]
        per_pass = plan.calls_for(call_s)
        assert record.passes == PASSES
        assert record.pass_index == tuple(p for p in range(PASSES) for _ in range(per_pass))
        assert record.warmup_calls >= 1  # the first call in a fresh process is never timed
        assert record.threads == worker_sweep.config.threads
        assert record.timer == "perf_counter"
        assert all(t > 0 for t in record.times_s)
    config = parse_envelope(json.loads(to_json(worker_sweep.envelope()))).config
    assert (config["passes"]["unit"], config["in_process_passes"]) == (PROCESS, False)


def test_in_process_passes_give_records_of_the_same_shape(worker_sweep, models_on_path):
    here = sweep_of("prints", in_process_passes=True)
    here.measure()
    assert here.pass_unit == (IN_PROCESS, "--in-process-passes")
    assert parse_envelope(json.loads(to_json(here.envelope()))).config["passes"]["unit"] == IN_PROCESS
    ours, theirs = records(here, "prints"), records(worker_sweep, "prints")
    assert [r.batch_size for r in ours] == [r.batch_size for r in theirs]
    for a, b in zip(ours, theirs, strict=True):
        a_dict, b_dict = a.to_dict(), b.to_dict()
        assert a_dict.keys() == b_dict.keys()
        assert {k: type(v) for k, v in a_dict.items()} == {k: type(v) for k, v in b_dict.items()}
        assert a.passes == b.passes == PASSES
        assert (a.flops, a.bytes_moved) == (b.flops, b.bytes_moved)  # the same model, counted by the parent


# ------------------------------------------------------------------------------------------ model errors
def test_a_model_error_in_a_worker_drops_that_batch_as_in_process(worker_sweep):
    raises = worker_sweep.models["workermodels:raises"]
    assert (raises.failed_batch_size, raises.failure) == (4, "ValueError: shape bug at batch 4")
    assert raises.failed_during_passes
    assert 4 in raises.visits  # visited in the first pass, then dropped
    assert [(r.batch_size, r.passes) for r in raises.records] == [(1, PASSES)]
    assert "batch 4 failed during a pass: ValueError: shape bug at batch 4" in raises.record().stop_detail
    with pytest.raises(PointFailed, match="shape bug at batch 4"):
        worker_sweep.outcome("workermodels:raises", 4)


def test_out_of_memory_in_a_worker_is_the_boundary(worker_sweep):
    oom = worker_sweep.models["workermodels:oom"]
    assert (oom.oom_batch_size, oom.failure) == (4, None)
    assert oom.oom_message.startswith("DefaultCPUAllocator: can't allocate memory")
    assert [r.batch_size for r in oom.records] == [1]
    assert "out of memory at batch 4 during a pass" in oom.record().stop_detail
    with pytest.raises(PointSkipped, match="OOM boundary"):
        worker_sweep.outcome("workermodels:oom", 4)


# ------------------------------------------------------------------------------------------ worker failures
def test_a_worker_that_crashes_stops_the_run_in_one_line_and_keeps_the_completed_passes(models_on_path, monkeypatch):
    misbehave(monkeypatch, models_on_path[0], "crash", start=2, at=1)
    sweep = sweep_of("crashes")
    with pytest.raises(WorkerFailed) as failed:
        sweep.measure()
    message = str(failed.value)
    assert message == (f"pass 2 of {PASSES}: the worker exited with code 3 before reporting all 2 visits; its last "
                       "words: fatal: the model's extension crashed")
    assert "\n" not in message
    assert [(r.batch_size, r.passes) for r in records(sweep, "crashes")] == [(1, 1), (4, 1)]  # pass 1 kept
    assert sweep.incomplete == f"{message}; kept the points of the 1 completed pass(es) (of {PASSES} passes)"
    with pytest.raises(WorkerFailed):  # every later point reports the same failure
        sweep.outcome("workermodels:crashes", 1)


@pytest.mark.usefixtures("sigint_delivered")
def test_a_model_that_interrupts_its_worker_interrupts_the_run(models_on_path, monkeypatch):
    misbehave(monkeypatch, models_on_path[0], "sigint", start=2, at=1)
    sweep = sweep_of("sigint")
    with pytest.raises(KeyboardInterrupt):  # SIGINT killed the worker; the parent raises it on itself
        sweep.measure()
    assert sweep.incomplete.startswith(f"interrupted while pass 2 of {PASSES}; kept the points of the 1 completed")
    assert [r.passes for r in records(sweep, "sigint")] == [1, 1]


BUILD = BuildJob(device="cpu", dtype="float32", models=(WorkerModel("mlp", "mlp", "eager"),))


def job(pass_index: int = 2, batches: tuple[int, ...] = (1, 2)) -> PassJob:
    timer = TimerConfig(warmup_calls=1, warmup_s=0.0, min_rounds=2, max_rounds=2)
    return PassJob(pass_index=pass_index, passes=5, visits=tuple(VisitJob("mlp", b, timer) for b in batches))


def fake_worker(body: str) -> list[str]:
    """A stand-in for the worker that reads its models, then runs ``body``, where ``ready()`` says the models are
    built and reads the pass."""
    prelude = ("import sys, json, os\nsys.stdin.readline()\n"
               "def ready():\n    print(json.dumps({'ready_s': 1}), flush=True)\n    sys.stdin.readline()\n")
    return [sys.executable, "-c", prelude + body]


def visit_line(model: str = "mlp", batch: int = 1, **fields: object) -> str:
    return f"print(json.dumps({{'model': {model!r}, 'batch_size': {batch}, **{fields!r}}}))"


@pytest.mark.parametrize(("body", "message"), [
    ("sys.stderr.write('warming up\\nSegmentation fault\\n'); sys.exit(139)",
     "pass 3 of 5: the worker exited with code 139 before reporting that its models were built; its last words: "
     "Segmentation fault"),
    ("os.kill(os.getpid(), 9)",
     "pass 3 of 5: the worker was killed by SIGKILL before reporting that its models were built"),
    ("print('Some weights were not initialized')",
     "pass 3 of 5: the worker wrote something that is not a result: 'Some weights were not initialized'"),
    ("ready(); " + visit_line(times_s="x"),
     "pass 3 of 5: the worker wrote a malformed result (ValueError: could not convert string to float: 'x')"),
    ("ready(); " + visit_line("cnn", skipped=True),
     "pass 3 of 5: the worker wrote a malformed result (ValueError: expected mlp at batch 1, got cnn at batch 1)"),
    ("ready(); " + visit_line(skipped=True),
     "pass 3 of 5: the worker exited with code 0 before reporting all 2 visits"),
    ("ready(); " + visit_line(skipped=True) + "; " + visit_line(batch=2, skipped=True)
     + "; sys.stderr.write('Traceback...\\nOSError: disk full\\n'); sys.exit(1)",
     "pass 3 of 5: the worker exited with code 1 after its last visit; its last words: OSError: disk full"),
], ids=["crash", "killed", "garbage", "malformed", "out-of-order", "truncated", "non-zero-exit"])
def test_a_failed_worker_is_one_line_naming_the_pass_and_its_last_words(body, message):
    with pytest.raises(WorkerFailed) as failed:
        list(run_pass(BUILD, job(), command=fake_worker(body)))
    assert str(failed.value) == message


@pytest.mark.usefixtures("sigint_delivered")
def test_a_worker_stopped_by_sigint_is_an_interrupt_of_the_run():
    with pytest.raises(KeyboardInterrupt):
        list(run_pass(BUILD, job(), command=fake_worker("ready(); os.kill(os.getpid(), 2)")))


def test_a_real_worker_reports_every_visit_and_a_stopped_caller_kills_it():
    outcomes = run_pass(BUILD, job())
    first = next(outcomes)
    assert (len(first.times_s), first.warmup_calls, first.timer) == (2, 1, "perf_counter")
    outcomes.close()  # as an interrupt in the parent does: the worker is killed, nothing is left running
    assert list(outcomes) == []


def test_workers_start_in_groups_and_all_of_a_group_are_ready_before_its_first_pass():
    workers = Workers(BUILD, 4, together=2, command=fake_worker("ready()"))
    try:
        first = workers.for_pass(0)
        (second,) = workers._waiting
        assert first.ready_s is not None
        assert second.ready_s is not None  # already built: its start-up cannot overlap the first pass
        assert (first.name, second.name) == ("pass 1 of 4", "pass 2 of 4")
        assert list(first.run(job(0, ()))) == []
        first.close()
        assert workers.for_pass(1) is second  # no new start
        second.close()
        third = workers.for_pass(2)  # the next group
        assert [w.name for w in (third, *workers._waiting)] == ["pass 3 of 4", "pass 4 of 4"]
    finally:
        workers.close()


@pytest.mark.parametrize(("passes", "together", "groups"), [
    (6, 2, [2, 2, 2]), (5, 2, [2, 3]), (3, 2, [3]), (2, 2, [2]), (3, 1, [1, 1, 1]), (1, 2, [1])])
def test_a_single_worker_left_for_the_last_pass_joins_the_group_before(passes, together, groups):
    workers = Workers(BUILD, passes, together=together, command=fake_worker("ready()"))
    started = []
    try:
        for p in range(passes):
            if not workers._waiting:
                started.append(0)
            worker = workers.for_pass(p)
            started[-1] += 1
            worker.close()
    finally:
        workers.close()
    assert started == groups


# ------------------------------------------------------------------------------------------ when workers run
def test_models_made_in_code_cannot_be_rebuilt_in_a_worker():
    config = BenchConfig.from_options(BenchOptions(models="mlp", batch_sizes="1"))
    (mlp,) = config.models
    assert rebuildable(mlp)
    assert not rebuildable(replace(mlp, factory=lambda: (torch.nn.Linear(2, 2), lambda b: torch.zeros(b, 2))))
    assert not rebuildable(replace(mlp, name="mine", base="mine"))


def test_in_process_passes_is_an_option():
    assert BenchConfig.from_options(BenchOptions(in_process_passes=True)).in_process_passes
    assert not BenchConfig.from_options(BenchOptions()).in_process_passes

