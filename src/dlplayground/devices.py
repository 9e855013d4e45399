"""Device discovery and selection, synchronization, memory statistics and the environment fingerprint.

Everything that differs between cpu, cuda and mps lives here, so the timer and the studies never branch on
the device type themselves.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dlplayground.errors import UserInputError, choices_text

DEVICE_KINDS = ("cpu", "cuda", "mps")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_DEVICE_RE = re.compile(r"^(cpu|mps|cuda)(?::(\d+))?$")


class DeviceUnavailableError(UserInputError):
    """The device is well-formed but not present on this machine (e.g. ``cuda`` without a GPU)."""


def available_devices() -> list[str]:
    """Device kinds usable in this process, always starting with ``cpu``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def parse_device(spec: str) -> torch.device:
    """Validate ``spec`` (cpu, cuda, cuda:N, mps) and return the device; raise a clear error otherwise."""
    match = _DEVICE_RE.match(str(spec).strip().lower())
    if match is None:
        raise UserInputError(
            f"--device {spec!r} is not a device; expected {choices_text(['cpu', 'cuda', 'cuda:N', 'mps'])}"
        )
    kind, index = match.group(1), match.group(2)
    if kind == "cpu" and index is not None:
        raise UserInputError(f"--device {spec!r}: the cpu device takes no index; use 'cpu'")
    available = available_devices()
    if kind not in available:
        raise DeviceUnavailableError(
            f"--device {spec!r} is not available on this machine; available: {choices_text(available)}"
        )
    if kind == "cuda" and index is not None and int(index) >= torch.cuda.device_count():
        raise DeviceUnavailableError(
            f"--device {spec!r}: only {torch.cuda.device_count()} CUDA device(s) present "
            f"(valid: {choices_text(f'cuda:{i}' for i in range(torch.cuda.device_count()))})"
        )
    return torch.device(kind if index is None else f"{kind}:{index}")


def supported_dtypes(device: torch.device) -> list[str]:
    """Dtype names worth benchmarking on ``device`` (float16 on CPU is emulated and not offered)."""
    if device.type == "cuda":
        names = ["float32", "float16"]
        if torch.cuda.is_bf16_supported():
            names.append("bfloat16")
        return names
    if device.type == "mps":
        return ["float32", "float16"]
    return ["float32", "bfloat16"]


def parse_dtype(name: str, device: torch.device) -> torch.dtype:
    """Validate a dtype name against the device; raise a clear error naming the valid choices."""
    valid = supported_dtypes(device)
    if name not in DTYPES:
        raise UserInputError(f"--dtype {name!r} is not a dtype; expected {choices_text(DTYPES)}")
    if name not in valid:
        raise UserInputError(
            f"--dtype {name!r} is not supported on {device.type}; choose {choices_text(valid)}"
        )
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """The short name ('float32') of a torch dtype, as used in options and records."""
    return str(dtype).removeprefix("torch.")


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` CPU threads for torch and for NumPy/SciPy's BLAS; restore both after.

    The one way the timer and every study set threads, so a run records the count it really used and leaves
    the process as it found it. ``None`` keeps the current torch setting (and limits nothing). Yields the
    torch thread count in force inside the block.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise UserInputError(f"--threads must be a positive integer, got {threads!r}")
    before = torch.get_num_threads()
    if threads is None:
        yield before
        return
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def synchronize(device: torch.device) -> None:
    """Wait until all work queued on ``device`` has finished (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window on accelerators; the CPU has no resettable counter."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> tuple[int | None, str]:
    """Peak memory in bytes and what that number means.

    CUDA gives the allocator's peak since the last reset, i.e. for one benchmark point. MPS only exposes
    the current driver allocation. On the CPU the only honest figure is the process's peak resident set,
    which is monotonic over the whole run, so it is labelled as such rather than passed off as per point.
    """
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda_max_allocated"
    if device.type == "mps":
        return int(torch.mps.driver_allocated_memory()), "mps_driver_allocated"
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return int(rss if sys.platform == "darwin" else rss * 1024), "process_max_rss"
    except (ImportError, OSError):  # pragma: no cover - Windows
        return None, "unavailable"


OUT_OF_MEMORY_WORDINGS = (
    "out of memory",  # CUDA ("CUDA out of memory"), MPS ("MPS backend out of memory"), HIP
    "can't allocate memory",  # the CPU allocator: "DefaultCPUAllocator: can't allocate memory: you tried ..."
    "cannot allocate memory",  # ENOMEM from the OS (mmap, pinned memory)
)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a device out-of-memory error (ends a sweep at that batch, is not a failure).

    ``torch.OutOfMemoryError`` (CUDA's, also named ``torch.cuda.OutOfMemoryError``) and Python's
    ``MemoryError`` are recognised by type; the CPU allocator, MPS and older CUDA builds raise a plain
    ``RuntimeError`` whose message is the only sign, so their wordings are matched too.
    """
    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None), torch.cuda.OutOfMemoryError,
                                  MemoryError) if isinstance(t, type))
    if isinstance(exc, oom_types):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in OUT_OF_MEMORY_WORDINGS)


def empty_cache(device: torch.device) -> None:
    """Give cached allocator blocks back after an OOM so later points start clean."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(cwd: Path | None = None) -> dict[str, object]:
    """The current git commit and whether the work tree is dirty; empty fields outside a checkout."""
    def _git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"id": commit, "dirty": bool(status) if status is not None else None,
            "branch": _git("rev-parse", "--abbrev-ref", "HEAD") if commit else None}


@dataclass(frozen=True)
class Environment:
    """What produced a result: enough to tell two runs' machines and software apart."""

    device: str
    device_name: str
    python: str
    platform: str
    torch: str
    cuda: str | None
    cudnn: int | None
    cpu_model: str
    logical_cpus: int
    torch_threads: int
    numpy: str
    dlplayground: str
    git: dict[str, object]
    created: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def device_name(device: torch.device) -> str:
    """A human name for the device: the GPU model, 'Apple MPS' or the CPU model."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return _cpu_model()


def environment_fingerprint(device: torch.device | str = "cpu") -> Environment:
    """Collect the environment fingerprint stored in every JSON envelope."""
    import numpy

    from dlplayground import __version__

    device = torch.device(device)
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return Environment(
        device=str(device),
        device_name=device_name(device),
        python=sys.version.split()[0],
        platform=platform.platform(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cudnn=cudnn,
        cpu_model=_cpu_model(),
        logical_cpus=os.cpu_count() or 1,
        torch_threads=torch.get_num_threads(),
        numpy=numpy.__version__,
        dlplayground=__version__,
        git=git_commit(),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
