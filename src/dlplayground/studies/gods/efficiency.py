"""Mixed precision and DDP, measured: fp32 vs bf16 (and fp16 on CUDA) autocast, one vs two processes.

The same training -- fold 1's development posts, the imbalance strategy its inner selection chose, the
EFFICIENCY random streams, ``--efficiency-steps`` steps of the global batch -- runs once per configuration
in worker processes (``efficiency_worker``) started fresh for each process count, outside the study's own
process; the precisions of one process count run one after the other in them, with the peak-memory window
reset in between. Two processes use gloo on the CPU and NCCL on CUDA (one GPU per
process). Every process gets ``--threads`` CPU threads, so two processes use twice the cores of one -- the
CPU counterpart of adding a GPU; on a machine with fewer free cores they compete, and the table shows it.

Recorded per configuration: examples/s over the timed steps (the first ``warmup_steps`` are left out: they
pay for lazy initialisation) and per block of consecutive steps (``BLOCKS`` blocks; the spread between
blocks shows how steady the machine was), the peak memory per process and how much it grew during
training (CUDA: the allocator's peak; CPU: the process's peak resident set, which includes the interpreter
and libraries -- hence the growth column), and the held-out accuracy of fold 1 with its bootstrap interval,
plus its paired difference from the fp32 single-process reference. That reference is measured once more
after every other cell, in fresh processes (``_remeasure``): its two measurements bracket the table, so
drift of a shared machine during the table shows up as a wider reference band (``EfficiencyRow.speed_band``)
rather than as a difference between cells. Configurations a device cannot run are
listed with the reason (``plan_configurations``): fp16 autocast off CUDA, two NCCL processes with fewer
than two GPUs, two processes on MPS.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlplayground.progress import progress
from dlplayground.stats import Interval, simultaneous_level
from dlplayground.studies.gods.amp import supported_precisions
from dlplayground.studies.gods.comparison import BootstrapPlan, paired_difference, score_interval

PRECISION_ORDER = ("fp32", "bf16", "fp16")
REFERENCE = ("fp32", 1)
"""The cell every other is compared with: fp32 in one process."""
WORLD_SIZES = (1, 2)
BLOCKS = 5
CONFIG_TIMEOUT_S = 1800.0
"""Wall-clock limit of one configuration's workers: a guard against a hang, far above any expected run."""
_LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                       "ROLE_RANK", "ROLE_NAME", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class PlannedConfig:
    """One cell of the table: a precision and a process count, or the reason it cannot run here."""

    precision: str
    world_size: int
    backend: str
    """'single process', 'gloo' or 'nccl'."""
    skip_reason: str | None = None


def plan_configurations(device: torch.device, global_batch: int, cuda_devices: int | None = None
                        ) -> list[PlannedConfig]:
    """Every (precision, processes) pair, in table order, with a skip reason where it cannot run here."""
    if device.type == "cuda" and cuda_devices is None:
        cuda_devices = torch.cuda.device_count()
    supported = supported_precisions(device)
    out = []
    for world in WORLD_SIZES:
        for precision in PRECISION_ORDER:
            backend = "single process" if world == 1 else ("nccl" if device.type == "cuda" else "gloo")
            reason = None
            if precision not in supported:
                reason = f"{precision} autocast is not supported for training on {device.type} here"
            elif world > 1 and device.type == "cuda" and (cuda_devices or 0) < world:
                reason = f"NCCL needs one GPU per process: {world} processes, {cuda_devices} GPU(s) visible"
            elif world > 1 and device.type == "mps":
                reason = "no multi-process backend for MPS"
            elif global_batch % world:
                reason = f"the global batch {global_batch} does not split evenly over {world} processes"
            out.append(PlannedConfig(precision, world, backend, reason))
    return out


def warmup_steps_for(steps: int) -> int:
    """Steps left out of the timing: a tenth of the run, at least one, always leaving one timed step."""
    return min(max(1, steps // 10), steps - 1) if steps > 1 else 0


def throughput(step_s: Sequence[float], global_batch: int) -> tuple[float, tuple[float, ...]]:
    """Examples/s over the timed steps, and per block of consecutive timed steps."""
    timed = np.asarray(step_s[warmup_steps_for(len(step_s)):], dtype=float)
    if timed.size == 0 or timed.sum() <= 0:
        return float("nan"), ()
    blocks = np.array_split(timed, min(BLOCKS, timed.size))
    return (global_batch * timed.size / timed.sum(),
            tuple(global_batch * b.size / b.sum() for b in blocks))


@dataclass(frozen=True)
class EfficiencyRow:
    """One configuration's measurements (or why there are none)."""

    precision: str
    world_size: int
    backend: str
    device: str
    status: str
    """'measured', 'skipped' or 'failed'."""
    reason: str = ""
    threads_per_rank: int | None = None
    steps: int = 0
    examples_per_s: float = float("nan")
    block_examples_per_s: tuple[float, ...] = ()
    peak_memory_bytes: int | None = None
    """Largest over the ranks."""
    memory_growth_bytes: int | None = None
    """Largest over the ranks: peak during training minus the peak before it."""
    memory_kind: str = ""
    final_loss: float | None = None
    accuracy: Interval | None = None
    accuracy_vs_reference: Interval | None = None
    remeasured_examples_per_s: float = float("nan")
    """The fp32 single-process reference only: its speed measured again after every other cell."""
    remeasured_block_examples_per_s: tuple[float, ...] = ()
    predictions: tuple[int, ...] = field(default=(), repr=False)

    @property
    def speed_band(self) -> tuple[float, float]:
        """Slowest and fastest block over every measurement of this cell (both, for the reference)."""
        blocks = (*self.block_examples_per_s, *self.remeasured_block_examples_per_s)
        return (min(blocks), max(blocks)) if blocks else (float("nan"), float("nan"))

    @property
    def label(self) -> str:
        return f"{self.precision}, {self.world_size} process{'es' if self.world_size > 1 else ''}"

    @property
    def measured(self) -> bool:
        return self.status == "measured"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "world_size": self.world_size, "backend": self.backend,
                "device": self.device, "status": self.status, "reason": self.reason,
                "threads_per_rank": self.threads_per_rank, "steps": self.steps,
                "examples_per_s": self.examples_per_s, "block_examples_per_s": list(self.block_examples_per_s),
                "peak_memory_bytes": self.peak_memory_bytes, "memory_growth_bytes": self.memory_growth_bytes,
                "memory_kind": self.memory_kind, "final_loss": self.final_loss,
                "accuracy": self.accuracy.to_dict() if self.accuracy else None,
                "accuracy_vs_reference": self.accuracy_vs_reference.to_dict() if self.accuracy_vs_reference else None,
                "remeasured_examples_per_s": self.remeasured_examples_per_s,
                "remeasured_block_examples_per_s": list(self.remeasured_block_examples_per_s),
                "predictions": list(self.predictions)}


# ------------------------------------------------------------------------------------------------ launch
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_environment(base: Mapping[str, str], rank: int, world_size: int, port: int) -> dict[str, str]:
    """``base`` without any launcher's variables (this run may itself be under torchrun), plus this rank's."""
    env = {k: v for k, v in base.items() if k not in _LAUNCHER_VARIABLES and not k.startswith("TORCHELASTIC_")}
    if world_size > 1:
        env.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port))
    return env


def _tail(path: Path, lines: int = 4) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines() if path.exists() else []
    return " | ".join(text[-lines:]) or "no output"


def launch_workers(spec_path: Path, out_path: Path, world_size: int, work_dir: Path,
                   timeout_s: float = CONFIG_TIMEOUT_S) -> dict[str, Any]:
    """Run ``world_size`` worker processes on ``spec_path``; return rank 0's JSON, or raise RuntimeError."""
    port = _free_port()
    procs = []
    for rank in range(world_size):
        log = work_dir / f"{out_path.stem}.rank{rank}.log"
        with log.open("w", encoding="utf-8") as handle:
            procs.append((subprocess.Popen(
                [sys.executable, "-m", "dlplayground.studies.gods.efficiency_worker", str(spec_path), str(out_path)],
                env=worker_environment(os.environ, rank, world_size, port), stdout=handle, stderr=subprocess.STDOUT,
            ), log))
    deadline = time.monotonic() + timeout_s
    try:
        while any(p.poll() is None for p, _ in procs):
            failed = [(p, log) for p, log in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for p, _ in procs:  # only the processes started above
            if p.poll() is None:
                p.kill()
                p.wait()
    codes = [p.returncode for p, _ in procs]
    if any(code != 0 for code in codes) or not out_path.is_file():
        why = "timed out" if time.monotonic() > deadline else f"exit codes {codes}"
        # The first rank that failed on its own (not killed above) says why; rank 0's log otherwise.
        log = next((log for (p, log), code in zip(procs, codes, strict=True) if code not in (0, -9)), procs[0][1])
        raise RuntimeError(f"{why}: {_tail(log)}")
    return json.loads(out_path.read_text(encoding="utf-8"))


def write_spec(path: Path, spec: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ measure
def _row(cfg: PlannedConfig, device: str, threads: int, out: Mapping[str, Any], global_batch: int,
         truth: Sequence[int], num_classes: int, plan: BootstrapPlan) -> EfficiencyRow:
    rate, blocks = throughput(out["step_s"], global_batch)
    peaks = [p for p in out["peak_bytes"] if p is not None]
    growth = [p - b for p, b in zip(out["peak_bytes"], out["baseline_bytes"], strict=True)
              if p is not None and b is not None]
    predictions = tuple(int(v) for v in out["predictions"])
    return EfficiencyRow(
        precision=cfg.precision, world_size=cfg.world_size, backend=cfg.backend, device=device, status="measured",
        threads_per_rank=threads, steps=len(out["step_s"]), examples_per_s=rate, block_examples_per_s=blocks,
        peak_memory_bytes=max(peaks) if peaks else None, memory_growth_bytes=max(growth) if growth else None,
        memory_kind=out["memory_kind"], final_loss=float(out["losses"][-1]),
        accuracy=score_interval(truth, predictions, "accuracy", num_classes, plan), predictions=predictions,
    )


def measure_configurations(
    planned: Sequence[PlannedConfig], spec: Mapping[str, Any], *, device: str, threads: int, global_batch: int,
    truth: Sequence[int], num_classes: int, plan: BootstrapPlan, work_dir: Path,
) -> list[EfficiencyRow]:
    """Run every runnable configuration on ``spec`` (one launch per process count); score and tabulate them."""
    done: dict[tuple[str, int], EfficiencyRow] = {}
    for world in WORLD_SIZES:
        runnable = [c for c in planned if c.world_size == world and c.skip_reason is None]
        if not runnable:
            continue
        precisions = [c.precision for c in runnable]
        spec_path = write_spec(work_dir / f"spec{world}.json", {**spec, "precisions": precisions, "device": device,
                                                                 "threads_per_rank": threads})
        progress(f"precision/process table: {', '.join(precisions)} in {world} process(es) ({runnable[0].backend})")
        try:
            out = launch_workers(spec_path, work_dir / f"out{world}.json", world, work_dir)
        except RuntimeError as exc:
            progress(f"precision/process table: {world} process(es) failed: {exc}")
            for c in runnable:
                done[(c.precision, world)] = EfficiencyRow(c.precision, world, c.backend, device, status="failed",
                                                           reason=str(exc), threads_per_rank=threads)
            continue
        for c, result in zip(runnable, out["results"], strict=True):
            done[(c.precision, world)] = _row(c, device, threads, result, global_batch, truth, num_classes, plan)
    reference = done.get(REFERENCE)
    if reference is not None and reference.measured and len([r for r in done.values() if r.measured]) > 1:
        done[REFERENCE] = _remeasure(reference, spec, device=device, threads=threads, global_batch=global_batch,
                                     work_dir=work_dir)
    rows = [done.get((c.precision, c.world_size)) or EfficiencyRow(c.precision, c.world_size, c.backend, device,
                                                                   status="skipped", reason=c.skip_reason or "")
            for c in planned]
    return _with_reference_differences(rows, truth, num_classes, plan)


def _remeasure(reference: EfficiencyRow, spec: Mapping[str, Any], *, device: str, threads: int, global_batch: int,
               work_dir: Path) -> EfficiencyRow:
    """The reference once more, in fresh processes after every other cell: the cells are bracketed by it, so a
    machine that got busier or quieter during the table widens the reference's band instead of faking a gap."""
    spec_path = write_spec(work_dir / "spec_reference.json", {**spec, "precisions": ["fp32"], "device": device,
                                                              "threads_per_rank": threads})
    progress("precision/process table: fp32 in 1 process again (the reference, re-measured last)")
    try:
        out = launch_workers(spec_path, work_dir / "out_reference.json", 1, work_dir)
    except RuntimeError as exc:
        progress(f"precision/process table: re-measuring the reference failed: {exc}")
        return replace(reference, reason=f"re-measurement failed: {exc}")
    rate, blocks = throughput(out["results"][0]["step_s"], global_batch)
    return replace(reference, remeasured_examples_per_s=rate, remeasured_block_examples_per_s=blocks)


def _with_reference_differences(rows: list[EfficiencyRow], truth: Sequence[int], num_classes: int,
                                plan: BootstrapPlan) -> list[EfficiencyRow]:
    """Each measured row's accuracy minus the fp32 single-process reference's, on the same posts."""
    reference = next((r for r in rows if r.measured and (r.precision, r.world_size) == REFERENCE), None)
    others = [r for r in rows if r.measured and r is not reference]
    if reference is None or not others:
        return rows
    level = simultaneous_level(plan.level, len(others))
    compared = {id(r) for r in others}
    return [replace(r, accuracy_vs_reference=paired_difference(truth, r.predictions, reference.predictions,
                                                               "accuracy", num_classes, plan, level))
            if id(r) in compared else r for r in rows]
