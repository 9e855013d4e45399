"""Cross-check the harness timer against a bare ``torch.utils.benchmark.Timer`` on the same models.

Not a timed test: a script that answers "does our timer add or lose time?". For each model at batch 1 it
alternates (A B A B ...) the harness's ``measure_inference`` and ``Timer.blocked_autorange`` on the same
model and input, so drift in machine load hits both alike, and prints the ratio of their medians with the
spread over repetitions. A ratio near 1.00 means the harness reports what torch's own tool reports; the
target is within 5%.

    python benchmarks/compare_timers.py [--models mlp,cnn,...] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
from torch.utils.benchmark import Timer

from dlplayground.bench.config import FULL_TIMER
from dlplayground.bench.models import BUILTIN_MODELS, build, resolve_model
from dlplayground.bench.timing import PointSpec, measure_inference
from dlplayground.bench.visits import prepare_inputs
from dlplayground.errors import UserInputError
from dlplayground.seeding import seed_everything


def compare_one(name: str, repeats: int, device: torch.device, min_run_time_s: float) -> dict[str, object]:
    spec = resolve_model(name)
    seed_everything(0)
    model, make_input = build(spec)
    model = model.to(device).eval()
    inputs = prepare_inputs(make_input(1), device, torch.float32)
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    point = PointSpec(model=name, family=spec.family, batch_size=1, device=device, dtype=torch.float32)
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(measure_inference(model, inputs, point, FULL_TIMER).quantile_s(0.5))
        with torch.inference_mode():
            timer = Timer(stmt="model(*args)", globals={"model": model, "args": args},
                          num_threads=torch.get_num_threads())
            theirs.append(timer.blocked_autorange(min_run_time=min_run_time_s).median)
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return {
        "model": name, "harness_p50_ms": statistics.median(ours) * 1e3,
        "torch_timer_median_ms": statistics.median(theirs) * 1e3,
        "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(BUILTIN_MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per blocked_autorange")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        if args.repeats < 1:
            raise UserInputError(f"--repeats must be >= 1, got {args.repeats}")
        names = [n.strip() for n in args.models.split(",") if n.strip()]
        for name in names:
            resolve_model(name)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    device = torch.device("cpu")
    print(f"threads={torch.get_num_threads()}  batch=1  repeats={args.repeats} (alternating harness / torch Timer)")
    print(f"{'model':>12} {'harness p50 ms':>15} {'Timer median ms':>16} {'ratio':>7} {'range':>13}")
    rows = []
    for name in names:
        row = compare_one(name, args.repeats, device, args.min_run_time)
        rows.append(row)
        print(f"{name:>12} {row['harness_p50_ms']:>15.4f} {row['torch_timer_median_ms']:>16.4f} "
              f"{row['ratio']:>7.3f} {row['ratio_min']:>6.3f}-{row['ratio_max']:<6.3f}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
