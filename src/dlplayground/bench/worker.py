"""Each interleaved pass in a fresh process: the worker (``python -m dlplayground.bench.worker``) and its client.

Why a process per pass: a point's speed relative to its neighbours is fixed per *process* -- by where its
tensors landed in memory, which kernels oneDNN (or cuDNN) picked, where the threads were placed -- and
differs between processes. On the 2-core CI machine four separate runs of the same GRU sweep gave
X(256)/X(128) = 1.16, 1.19, 0.97 and 1.28, while inside each run the between-pass spread of every point was
1-5 %: passes inside one process cannot see that variation, so their intervals were too narrow, and A/A pairs
disagreed on the knee. Running every pass in a fresh process (pyperf's worker processes) puts that variation
between the passes, where the interval sees it.

The parent (``dlplayground.bench.sweep``) explores each model's range and computes each visit's timer. Each
pass's worker is started with ``sys.executable`` and ``PYTHONPATH`` carrying the parent's ``sys.path`` (so a
``package.module:factory`` user model imports the same); it

* reads one JSON line on stdin (``BuildJob``: device, dtype, the models), builds every model exactly as the
  parent does (``dlplayground.bench.visits.build_for_timing``: same seed, same weights, same variant) and
  writes ``{"ready_s": ...}``;
* reads a second line (``PassJob``: the pass's visits in the pass's order, each with the timer the parent
  computed), times each visit with the same ``visit_point`` and writes one JSON line per visit (the samples,
  the back-to-back block, threads, timer kind, warm-up calls; or the out-of-memory or error message; or
  ``skipped`` for a batch at or above one of its model's that failed earlier in the pass), then exits.

Starting a worker (importing torch, and transformers for its models; building the models) takes seconds. On
the CPU the workers are started in pairs (``START_TOGETHER``): both start-ups run side by side, and both
workers are ready before the first of them times anything, so a start-up never overlaps a pass; the second
waits idle (blocked on its stdin) while the first measures. On an accelerator each worker starts alone, so
the device holds one worker's memory during a pass, as it held only the parent's during the exploration.

The results go to the worker's own copy of its stdout: anything the user's model prints goes to stderr. The
client yields the outcomes as they arrive, one per visit, so the progress bar ticks per visit and an
interrupt keeps the visits finished so far. The worker's stderr is kept in a temporary file: when the worker
crashes, exits non-zero or writes something that is not a result, ``WorkerFailed`` says so in one line, naming
the pass and the last line the worker wrote to stderr. A worker stopped by SIGINT or SIGTERM (a user's model
that signals its own process, Ctrl-C reaching the worker) stops the run as that signal would have stopped the
parent: the signal is raised in the parent, whose handlers keep the completed passes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import torch

from dlplayground.bench.models import ModelSpec, resolve_model
from dlplayground.bench.timing import TimerConfig, Visit
from dlplayground.bench.visits import VisitError, build_for_timing, visit_point
from dlplayground.devices import parse_dtype, synchronize
from dlplayground.errors import error_text

MODULE = "dlplayground.bench.worker"


@dataclass(frozen=True)
class WorkerModel:
    """A model as the worker rebuilds it: the swept name, the model (a built-in or ``package.module:factory``)
    and the variant."""

    name: str
    base: str
    variant: str

    @classmethod
    def of(cls, spec: ModelSpec) -> WorkerModel:
        return cls(spec.name, spec.base_name, spec.variant)

    def spec(self) -> ModelSpec:
        """The spec the parent swept (the factory looked up by name; the parent already checked it)."""
        return replace(resolve_model(self.base, check=False), name=self.name, variant=self.variant, base=self.base)


def rebuildable(spec: ModelSpec) -> bool:
    """Whether a worker can rebuild ``spec`` by its name: the name resolves to the very factory the parent uses
    (a model made in code, such as a test's, has no name to import it by)."""
    try:
        return WorkerModel.of(spec).spec().factory is spec.factory
    except Exception:  # an unknown name, a module that no longer imports
        return False


@dataclass(frozen=True)
class BuildJob:
    """What a worker builds before its pass: the models, on the device, in the dtype."""

    device: str
    dtype: str
    models: tuple[WorkerModel, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BuildJob:
        data = json.loads(text)
        return cls(device=data["device"], dtype=data["dtype"], models=tuple(WorkerModel(**m) for m in data["models"]))


@dataclass(frozen=True)
class VisitJob:
    model: str
    batch_size: int
    timer: TimerConfig


@dataclass(frozen=True)
class PassJob:
    """What a worker times: one pass's visits, in the pass's order."""

    pass_index: int
    passes: int
    visits: tuple[VisitJob, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PassJob:
        data = json.loads(text)
        return cls(pass_index=data["pass_index"], passes=data["passes"],
                   visits=tuple(VisitJob(v["model"], v["batch_size"], TimerConfig(**v["timer"]))
                                for v in data["visits"]))


def pass_name(pass_index: int, passes: int) -> str:
    return f"pass {pass_index + 1} of {passes}"


class WorkerFailed(RuntimeError):
    """A pass's worker crashed, exited non-zero or wrote something that is not a result (the message: one line)."""


# ------------------------------------------------------------------------------------------ the worker
def _outcome_line(visit: VisitJob, outcome: Visit | VisitError | None) -> dict[str, Any]:
    line: dict[str, Any] = {"model": visit.model, "batch_size": visit.batch_size}
    if outcome is None:
        return {**line, "skipped": True}
    if isinstance(outcome, VisitError):
        return {**line, "oom" if outcome.out_of_memory else "failure": outcome.message}
    return {**line, "times_s": list(outcome.times_s), "block_s": outcome.block_s, "threads": outcome.threads,
            "timer": outcome.timer, "warmup_calls": outcome.warmup_calls}


def work(stdin: IO[str], results: IO[str]) -> int:
    """Build the models of the first job line, say so, time the visits of the second, one JSON line each."""
    started = time.perf_counter()
    build = BuildJob.from_json(stdin.readline())
    device = torch.device(build.device)
    dtype = parse_dtype(build.dtype, device)
    built = {}
    for model in build.models:
        try:
            spec = model.spec()
            built[model.name] = (spec, build_for_timing(spec, device, dtype, synchronize))
        except Exception as exc:  # the parent built it: a factory that fails only sometimes
            print(f"error: building {model.name} in the worker failed: {error_text(exc)}", file=sys.stderr)
            return 1
    # As in the parent: freeze what exists now, so the timer's collection before each visit costs microseconds.
    gc.collect()
    gc.freeze()
    results.write(json.dumps({"ready_s": time.perf_counter() - started}) + "\n")
    line = stdin.readline()  # waits, idle, while the worker started beside this one measures its pass
    if not line:
        return 0  # the run needs no pass of this worker (it stopped)
    job = PassJob.from_json(line)
    failed_at: dict[str, int] = {}  # per model, the smallest batch that failed or ran out of memory in this pass
    for visit in job.visits:
        spec, model = built[visit.model]
        outcome = None
        if visit.batch_size < failed_at.get(visit.model, visit.batch_size + 1):
            outcome = visit_point(model, spec, visit.batch_size, device, dtype, visit.timer)
            if isinstance(outcome, VisitError):
                failed_at[visit.model] = visit.batch_size
        results.write(json.dumps(_outcome_line(visit, outcome)) + "\n")
    return 0


def main() -> int:
    # The results get their own copy of stdout; fd 1 and sys.stdout then point at stderr, so a user model that
    # prints cannot corrupt them.
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        return work(sys.stdin, results)
    except BrokenPipeError:  # the parent is gone (killed): nobody is left to read the results
        os._exit(1)


# ------------------------------------------------------------------------------------------ the client
def worker_env() -> dict[str, str]:
    """The worker's environment: the parent's, with ``PYTHONPATH`` carrying the parent's ``sys.path``."""
    paths = [p or str(Path.cwd()) for p in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


START_TOGETHER = {"cpu": 2}
"""Workers started side by side, per device type (others: 1). Two start-ups on two or more cores take the time
of one; more would hold more copies of the models in memory at once. A single worker that would be left for the
last pass joins the group before it instead (three side by side on two cores take less than two and one)."""


class Worker:
    """One fresh worker process, destined for one pass (``pass_index``); started by ``Workers``."""

    def __init__(self, build: BuildJob, pass_index: int, passes: int, command: Sequence[str] | None = None):
        self.name = pass_name(pass_index, passes)
        self.started = time.perf_counter()
        self.ready_s: float | None = None
        """Seconds from the start until its models were built (None until then)."""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the worker; close() closes it
        self._proc = subprocess.Popen(list(command or [sys.executable, "-m", MODULE]), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, env=worker_env(), text=True)
        self._send(build.to_json(), "before reading its models")

    def _send(self, line: str, when: str) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise self._ended(when) from None

    def wait_ready(self) -> None:
        """Wait until its models are built."""
        if self.ready_s is None:
            ready = self._read("that its models were built")
            if "ready_s" not in ready:
                raise WorkerFailed(f"{self.name}: the worker did not start with its ready line: {ready!r}"[:300])
            self.ready_s = time.perf_counter() - self.started

    def run(self, job: PassJob) -> Iterator[Visit | VisitError | None]:
        """Time ``job`` in this worker: yields each visit's outcome, in the job's order (None: skipped after an
        earlier failure of its model in this pass); checks the worker's exit after the last."""
        self.wait_ready()
        self._send(job.to_json(), "before reading its pass")
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        for visit in job.visits:
            yield _outcome(self._read(f"all {len(job.visits)} visits"), visit, self.name)
        if self._proc.wait() != 0:
            raise self._ended("after its last visit")

    def close(self) -> None:
        """Stop the worker if it still runs (an interrupt, a failure elsewhere) and let go of its files."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._stderr):
            if stream is not None and not stream.closed:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()

    def _read(self, expected: str) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise self._ended(f"before reporting {expected}")
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._proc.kill()
            raise WorkerFailed(f"{self.name}: the worker wrote something that is not a result: "
                               f"{line.strip()[:120]!r}")
        return data

    def _ended(self, what: str) -> WorkerFailed:
        """The worker ended before it was done: pass a SIGINT/SIGTERM on, else say how it ended."""
        code = self._proc.wait()
        if code < 0 and -code in (signal.SIGINT, signal.SIGTERM):
            # Stopped as Ctrl-C or kill would stop the run: raise the signal here, where the run's handlers keep
            # the completed passes (KeyboardInterrupt for SIGINT; `dlplayground bench` turns SIGTERM into one too).
            signal.raise_signal(-code)
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        last = _last_line(self._stderr)
        return WorkerFailed(f"{self.name}: the worker {how} {what}" + (f"; its last words: {last}" if last else ""))


class Workers:
    """The workers of a run's passes, one per pass, started ``together`` at a time (module docstring)."""

    def __init__(self, build: BuildJob, passes: int, *, together: int = 1, command: Sequence[str] | None = None):
        self.build, self.passes, self.together, self.command = build, passes, max(1, together), command
        self._waiting: list[Worker] = []

    def _start(self, pass_index: int) -> None:
        """Start the group of workers from pass ``pass_index`` on, unless started ones are waiting."""
        if not self._waiting:
            left = self.passes - pass_index
            count = left if left <= self.together + 1 and self.together > 1 else min(self.together, left)
            for p in range(pass_index, pass_index + count):
                self._waiting.append(Worker(self.build, p, self.passes, self.command))

    def for_pass(self, pass_index: int) -> Worker:
        """Pass ``pass_index``'s worker, ready: the next started one, or the first of a new group; every worker
        of its group is ready before it returns, so no start-up overlaps a pass."""
        self._start(pass_index)
        for worker in self._waiting:
            worker.wait_ready()
        return self._waiting.pop(0)

    def close(self) -> None:
        for worker in self._waiting:
            worker.close()
        self._waiting = []


def run_pass(build: BuildJob, job: PassJob, *, command: Sequence[str] | None = None
             ) -> Iterator[Visit | VisitError | None]:
    """Run one pass in a fresh worker of its own: yields each visit's outcome, in the job's order. Raises
    ``WorkerFailed`` when the worker fails; the worker is killed when the caller stops early (an interrupt)."""
    worker = Worker(build, job.pass_index, job.passes, command)
    try:
        yield from worker.run(job)
    finally:
        worker.close()


def _last_line(stderr: IO[bytes]) -> str:
    stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, stderr.tell() - 65536))
    lines = [line.strip() for line in stderr.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _outcome(data: dict[str, Any], visit: VisitJob, name: str) -> Visit | VisitError | None:
    try:
        if (data["model"], data["batch_size"]) != (visit.model, visit.batch_size):
            raise ValueError(f"expected {visit.model} at batch {visit.batch_size}, got {data['model']} at batch "
                             f"{data['batch_size']}")
        if data.get("skipped"):
            return None
        if "oom" in data or "failure" in data:
            return VisitError("oom" in data, str(data.get("oom", data.get("failure"))))
        return Visit(tuple(float(t) for t in data["times_s"]), data["block_s"], int(data["threads"]),
                     str(data["timer"]), int(data["warmup_calls"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkerFailed(f"{name}: the worker wrote a malformed result ({error_text(exc)})") from None


if __name__ == "__main__":
    raise SystemExit(main())
