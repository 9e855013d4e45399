"""One rank of one configuration of the precision/process table; started by ``efficiency.launch_workers``.

``python -m dlplayground.studies.gods.efficiency_worker SPEC.json OUT.json`` with ``RANK``/``WORLD_SIZE``/
``MASTER_*`` set for two processes (none for one). The spec holds the encoded posts, the model (a
from-scratch spec with its tokenizer, or a checkpoint), the recipe, the seeds and the precisions to measure.
The precisions run one after the other in the same processes -- one interpreter start per process count,
not per cell, which on a busy machine is most of the cost -- each from the same initial weights and streams.
Between them the peak-memory window is reset: on CUDA the allocator's counter, on Linux the process's peak
resident set (``/proc/self/clear_refs``, after ``malloc_trim`` has handed freed memory back, so the next
precision does not reuse the previous one's pages unseen); elsewhere the CPU figure is the monotonic
``ru_maxrss`` and says so. Every precision first runs ``WARM_UP_STEPS`` untimed steps, so one-time
initialisation (kernels, autograd, allocator arenas) is not charged to whichever cell comes first. Rank 0
writes the step times, every rank's memory figures, the losses and the held-out predictions to OUT.json. A
failing rank ends the job at once (``distributed.run_rank``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from dlplayground.devices import cpu_threads, parse_device, peak_memory, reset_peak_memory
from dlplayground.studies.gods.amp import select_precision
from dlplayground.studies.gods.distributed import (
    DEFAULT_TIMEOUT_S,
    all_gather_objects,
    context_from_env,
    process_group,
    rank_device,
    run_rank,
)
from dlplayground.studies.gods.longformer import (
    CheckpointRef,
    ScratchSpec,
    attention_window_of,
    build_classifier,
    load_checkpoint_tokenizer,
    wrap_tokenizer,
)
from dlplayground.studies.gods.train import TrainConfig, predict_classes, train_classifier

WARM_UP_STEPS = 2
"""Untimed steps of every precision before any is measured, so one-time costs land in no cell."""


def _tokenizer(spec: dict[str, Any]) -> Any:
    if spec["checkpoint"] is not None:
        return load_checkpoint_tokenizer(CheckpointRef(**spec["checkpoint"]))[0]
    return wrap_tokenizer(Tokenizer.from_str(spec["tokenizer_json"]), spec["max_length"])


def _vm_hwm_bytes() -> int | None:
    """This process's peak resident set since the last reset (Linux ``VmHWM``), or None where unreadable."""
    try:
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def _release_freed_memory() -> None:
    """Hand memory glibc keeps after ``free`` back to the OS, so the next window starts from what is in use."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak(device: torch.device) -> bool:
    """Start a new peak-memory window; on the CPU via Linux's ``clear_refs`` (False where that is unavailable)."""
    if device.type != "cpu":
        reset_peak_memory(device)
        return True
    _release_freed_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak resident set to the current one
    except OSError:
        return False
    return _vm_hwm_bytes() is not None


def read_peak(device: torch.device, resettable: bool) -> tuple[int | None, str]:
    """The peak since ``reset_peak`` and what it measures (``devices.peak_memory`` where no reset exists)."""
    if device.type == "cpu" and resettable:
        return _vm_hwm_bytes(), "process_peak_rss_reset"
    return peak_memory(device)


def measure_one(spec: dict[str, Any], precision: str, ctx: Any, device: torch.device, tokenizer: Any,
                steps: int | None = None) -> dict[str, Any]:
    """Train and score one precision on every rank; the same seeds and data for every precision.

    ``steps`` overrides the spec's (the warm-up); such a run predicts nothing.
    """
    plan = select_precision(precision, device)
    scratch = ScratchSpec(**spec["scratch"]) if spec["scratch"] is not None else None
    checkpoint = CheckpointRef(**spec["checkpoint"]) if spec["checkpoint"] is not None else None
    names = tuple(spec["label_names"])
    torch.manual_seed(int(spec["init_seed"]))
    model = build_classifier(scratch, checkpoint, tokenizer, names, spec["dropout"]).to(device)
    torch.manual_seed(int(spec["dropout_seeds"][ctx.rank]))
    recipe = TrainConfig(steps=int(steps or spec["steps"]), global_batch_size=int(spec["batch_size"]),
                         learning_rate=float(spec["learning_rate"]), imbalance=spec["strategy"],
                         seed=int(spec["sampler_seed"]))
    window, pad_id = attention_window_of(model), int(tokenizer.pad_token_id)
    resettable = reset_peak(device)
    baseline, _ = read_peak(device, resettable)
    log = train_classifier(model, spec["train"], spec["train_labels"], len(names), recipe, ctx=ctx, plan=plan,
                           device=device, pad_id=pad_id, window=window)
    peak, kind = read_peak(device, resettable)
    memory = all_gather_objects((baseline, peak), ctx)
    if steps is not None:
        return {}
    predictions = predict_classes(model, spec["eval"], ctx=ctx, plan=plan, device=device, pad_id=pad_id, window=window)
    return {"precision": plan.name, "step_s": log.step_s, "losses": log.losses, "memory_kind": kind,
            "baseline_bytes": [m[0] for m in memory], "peak_bytes": [m[1] for m in memory],
            "predictions": predictions}


def work(spec: dict[str, Any], out: Path) -> int:
    """Measure every precision of the spec in turn on this rank; rank 0 writes ``out``."""
    ctx = context_from_env()
    with cpu_threads(int(spec["threads_per_rank"])):
        device = rank_device(ctx, parse_device(spec["device"]))
        with process_group(ctx, device, float(spec.get("timeout_s", DEFAULT_TIMEOUT_S))):
            tokenizer = _tokenizer(spec)
            for precision in spec["precisions"]:  # lazy initialisation is paid here, not by the first cell
                measure_one(spec, precision, ctx, device, tokenizer, steps=WARM_UP_STEPS)
            results = [measure_one(spec, precision, ctx, device, tokenizer) for precision in spec["precisions"]]
            if ctx.is_main:
                out.write_text(json.dumps({"world_size": ctx.world_size, "results": results}), encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m dlplayground.studies.gods.efficiency_worker SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    return run_rank(lambda: work(spec, Path(args[1])), context_from_env())


if __name__ == "__main__":
    raise SystemExit(main())
