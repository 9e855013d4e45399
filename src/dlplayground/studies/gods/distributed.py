"""Process-group setup from torchrun's environment, and failing fast instead of hanging.

``torchrun --nproc_per_node N script.py`` starts N copies with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` set; without them a script runs as one process and nothing here
touches ``torch.distributed``. The backend is NCCL on CUDA and gloo otherwise, and the group gets a
finite timeout so a collective waiting for a rank that is gone ends with an error.

A failing rank must not leave the others blocked in a collective. ``run_rank`` therefore ends a failing
rank with ``os._exit`` right after printing its error: no ``atexit`` handler, destructor or
``destroy_process_group`` gets a chance to wait on peers. The dead rank's sockets close, the other ranks'
collectives fail, and torchrun (which watches its workers) stops the rest and exits non-zero.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from dlplayground.errors import UserInputError

DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and prints progress."""
        return self.rank == 0


def _env_int(env: Mapping[str, str], name: str) -> int:
    raw = env[name]
    try:
        return int(raw)
    except ValueError:
        raise UserInputError(f"environment variable {name}={raw!r} is not an integer") from None


def context_from_env(env: Mapping[str, str] | None = None) -> DistContext:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK; none of them set means a single process."""
    env = os.environ if env is None else env
    names = ("RANK", "WORLD_SIZE")
    present = [n for n in names if n in env]
    if not present:
        return DistContext()
    if len(present) != len(names):
        missing = next(n for n in names if n not in env)
        raise UserInputError(f"{present[0]} is set but {missing} is not; launch with torchrun, or set neither")
    rank, world = _env_int(env, "RANK"), _env_int(env, "WORLD_SIZE")
    local = _env_int(env, "LOCAL_RANK") if "LOCAL_RANK" in env else rank
    if world < 1 or not 0 <= rank < world:
        raise UserInputError(f"RANK={rank} is not valid for WORLD_SIZE={world}")
    return DistContext(rank=rank, world_size=world, local_rank=local)


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def rank_device(ctx: DistContext, device: torch.device) -> torch.device:
    """The device this rank computes on: ``cuda:LOCAL_RANK`` for CUDA runs under torchrun."""
    if not ctx.is_distributed or device.type != "cuda":
        return device
    if device.index is not None:
        raise UserInputError(
            f"--device {device} names one GPU, but under torchrun each rank uses cuda:LOCAL_RANK; pass --device cuda"
        )
    if ctx.local_rank >= torch.cuda.device_count():
        raise UserInputError(
            f"LOCAL_RANK={ctx.local_rank} but only {torch.cuda.device_count()} CUDA device(s) are visible; "
            "lower --nproc_per_node"
        )
    return torch.device(f"cuda:{ctx.local_rank}")


@contextmanager
def process_group(
    ctx: DistContext, device: torch.device, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Iterator[None]:
    """Join the job's process group for the duration of the block (a no-op for a single process).

    On success every rank meets at a barrier before the group is destroyed, so no rank tears down while
    another still needs it. On an exception nothing collective is attempted: the error propagates to
    ``run_rank``, which exits the process at once.
    """
    if not ctx.is_distributed:
        yield
        return
    if timeout_s <= 0:
        raise UserInputError(f"--dist-timeout-s must be > 0, got {timeout_s}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend=backend_for(device),
        timeout=_dt.timedelta(seconds=timeout_s),
        rank=ctx.rank,
        world_size=ctx.world_size,
        device_id=device if device.type == "cuda" else None,
    )
    yield
    dist.barrier()
    dist.destroy_process_group()


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. a tokenizer trained once)."""
    if not ctx.is_distributed:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.is_distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Element-wise sum over ranks (a copy; the input is untouched)."""
    out = tensor.detach().clone()
    if ctx.is_distributed:
        # NCCL reduces only CUDA tensors: round-trip through this rank's GPU.
        on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else out.device
        moved = out.to(on)
        dist.all_reduce(moved, op=dist.ReduceOp.SUM)
        out = moved.to(tensor.device)
    return out


def _hard_exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def run_rank(fn: Callable[[], int], ctx: DistContext) -> int:
    """Run one rank's work; in a distributed job a failing rank exits immediately with its code.

    Returns ``fn``'s exit code when it is 0 or the job is a single process (tests call ``main`` in
    process, and there nothing can hang). An exception is printed with the rank's number first.
    """
    try:
        code = fn()
    except SystemExit as exc:  # argparse errors and --help
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        if not ctx.is_distributed:
            raise
        print(f"error: rank {ctx.rank} of {ctx.world_size} failed; stopping the job", file=sys.stderr)
        traceback.print_exc()
        code = 1
    if ctx.is_distributed and code != 0:
        _hard_exit(code)
    return code
