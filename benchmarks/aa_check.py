"""A/A check of the batch-size study: does a second run of the same code reproduce the first?

Not a timed test: a script a user (or a reviewer of a measurement change) runs on their machine. For each
pair it runs the study twice back to back (``dlplayground bench``, fresh processes) and prints the verdict:

* compare's calls between the two runs (``dlplayground compare``): on identical code, none should be a
  regression or an improvement;
* per model, both runs' saturation batches with their intervals: each run's batch should lie inside the
  other run's interval, and no interval should span more than three doublings.

``--runs-per-side K`` runs each side K times (alternating A B A B ...) and compares the two sides as K runs
each, so compare measures the drift between runs instead of assuming it. ``--slow MODEL`` makes the second
side of each pair run MODEL's forward pass twice (exactly 2x the work, by the factory in
``benchmarks/aa_models.py``; both sides name the model ``aa_models:MODEL`` so the points match): every point
of that model should then be flagged, and the first run's stated noise floor says which smaller slowdowns it
could have caught. ``--bare`` also times a bare ``torch.utils.benchmark`` sweep of the
first run's points (``blocked_autorange``, torch's default 0.2 s per point), for the study's time budget.

    python benchmarks/aa_check.py [--pairs 3] [--runs-per-side 2] [--slow mlp] [--bare] [--out DIR]
                                  [-- bench options]
    python benchmarks/aa_check.py --score RUN.json RUN.json RUN.json ...

``--score`` runs nothing: every pair of the given runs of the same code is an A/A pair, and it prints the share
of pairs whose saturation agrees by each rule, with an interval from resampling the runs. A handful of pairs
cannot tell a rule met 95 % of the time from one met half of the time; 20 runs give 190 pairs.

Exit code 0 when every pair passes (and, with --slow, every slowed point is flagged), 1 otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dlplayground.bench.calibration import stored_profile_for
from dlplayground.bench.models import BUILTIN_MODELS
from dlplayground.bench.noise import noise_floor, point_noise
from dlplayground.bench.record import BatchSizeRun
from dlplayground.bench.saturation import Saturation
from dlplayground.report.compare import IMPROVEMENT, REGRESSION, compare_envelopes, compare_runs
from dlplayground.results import read_envelope

HERE = Path(__file__).resolve().parent
MAX_SPAN_DOUBLINGS = 3


def slowed_name(model: str) -> str:
    """The name the slowed copy of a built-in model runs under (a factory in ``aa_models``)."""
    return f"aa_models:{model.replace('-', '_')}"


def run_bench(out: Path, models: list[str], bench_args: list[str], slowdown: float) -> float:
    """One ``dlplayground bench`` run in a fresh process; returns its wall time in seconds."""
    env = {**os.environ, "DLP_AA_SLOWDOWN": str(slowdown),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")]))}
    cmd = [sys.executable, "-m", "dlplayground", "bench", "--models", ",".join(models), "-o", str(out), *bench_args]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def knee_agreement(sa: Saturation, sb: Saturation) -> tuple[bool, bool, str]:
    """One model's saturation in two runs, judged by both rules: (the issue's rule, DESIGN.md's rule, why).

    The issue's rule: each run's saturation batch inside the other run's interval, and neither interval over
    three doublings. DESIGN.md's: the two batches at most one doubling apart, and the intervals overlap.
    """
    inside = sb.ci_low <= sa.saturation_batch <= sb.ci_high and sa.ci_low <= sb.saturation_batch <= sa.ci_high
    narrow = max(np.log2(s.ci_high / s.ci_low) for s in (sa, sb)) <= MAX_SPAN_DOUBLINGS
    design = (abs(np.log2(sa.saturation_batch / sb.saturation_batch)) <= 1
              and sa.ci_low <= sb.ci_high and sb.ci_low <= sa.ci_high)
    why = ("" if inside else " (outside the other interval)") + ("" if narrow else " (interval over 3 doublings)")
    return inside and narrow, design, why


def saturation_check(a: BatchSizeRun, b: BatchSizeRun) -> tuple[bool, bool, list[str]]:
    """Every model's saturation in two runs: (all agree by the issue's rule, all by DESIGN.md's, a line each)."""
    ok = design_ok = True
    lines = []
    for model in sorted(set(a.saturation) & set(b.saturation)):
        sa, sb = a.saturation[model], b.saturation[model]
        good, design, why = knee_agreement(sa, sb)
        ok &= good
        design_ok &= design
        lines.append(f"  {model:>16}: A {sa.saturation_batch} [{sa.ci_low}-{sa.ci_high}]  "
                     f"B {sb.saturation_batch} [{sb.ci_low}-{sb.ci_high}]  {'ok' if good else 'FAIL'}{why}"
                     f"{'' if design else '  (DESIGN.md rule: FAIL)'}")
    return ok, design_ok, lines


def score_runs(paths: list[Path], resamples: int = 1000) -> list[str]:
    """Every pair of the given runs of the same code is an A/A pair: the share of pairs whose saturation agrees
    (by each rule, and per model by the issue's), with a 95 % interval from resampling the runs (pairs share
    runs, so the runs are the unit). Many runs judge the rule far better than three pairs do."""
    runs = [BatchSizeRun.from_envelope(read_envelope(p)) for p in paths]
    if len(runs) < 3:
        sys.exit("error: --score needs at least 3 run files")
    n = len(runs)
    issue, design = np.zeros((n, n), bool), np.zeros((n, n), bool)
    per_model: dict[str, list[bool]] = {}
    for i, j in itertools.combinations(range(n), 2):
        issue[i, j] = issue[j, i] = design[i, j] = design[j, i] = True
        for model in sorted(set(runs[i].saturation) & set(runs[j].saturation)):
            good, by_design, _ = knee_agreement(runs[i].saturation[model], runs[j].saturation[model])
            per_model.setdefault(model, []).append(good)
            issue[i, j] = issue[j, i] = issue[i, j] and good
            design[i, j] = design[j, i] = design[i, j] and by_design
    rng = np.random.default_rng(0)

    def rate(matrix: np.ndarray) -> str:
        pairs = matrix[np.triu_indices(n, 1)].mean()
        draws = []
        for _ in range(resamples):
            pick = rng.integers(0, n, n)
            sub = matrix[np.ix_(pick, pick)]
            distinct = pick[:, None] != pick[None, :]
            if distinct.any():
                draws.append(sub[distinct].mean())
        low, high = np.quantile(draws, [0.025, 0.975])
        return f"{pairs:.2f} [95% CI {low:.2f}-{high:.2f}]"

    return [f"{n} runs, {n * (n - 1) // 2} A/A pairs: saturation agrees in a share {rate(issue)} of pairs by the "
            f"issue's rule (each batch inside the other interval, no interval over 3 doublings), "
            f"{rate(design)} by DESIGN.md's (at most one doubling apart, intervals overlap)",
            "per model, by the issue's rule: "
            + ", ".join(f"{m} {np.mean(v):.2f}" for m, v in sorted(per_model.items()))]


def bare_sweep_s(run: BatchSizeRun) -> float:
    """Wall time of a bare torch.utils.benchmark sweep of the run's points (build, inputs, blocked_autorange)."""
    import torch
    from torch.utils.benchmark import Timer

    from dlplayground.bench.models import build, resolve_model
    from dlplayground.seeding import seed_everything

    started = time.perf_counter()
    by_model: dict[str, list[int]] = {}
    for r in run.records:
        by_model.setdefault(r.model, []).append(r.batch_size)
    threads = run.records[0].threads
    for name, batches in by_model.items():
        seed_everything(0)
        model, make_input = build(resolve_model(name))
        model.eval()
        for batch in sorted(batches):
            x = make_input(batch)
            args = x if isinstance(x, tuple) else (x,)
            with torch.inference_mode():
                Timer("model(*args)", globals={"model": model, "args": args},
                      num_threads=threads).blocked_autorange(min_run_time=0.2)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1, help="A/A pairs to run (default 1)")
    parser.add_argument("--slow", default=None, help="slow this built-in model 2x in the second run of each pair")
    parser.add_argument("--models", default=",".join(BUILTIN_MODELS), help="models (default: all built-ins)")
    parser.add_argument("--bare", action="store_true", help="also time a bare torch.utils.benchmark sweep")
    parser.add_argument("--runs-per-side", type=int, default=1,
                        help="runs per side of each pair (default 1); with 2 or more, compare measures the "
                             "run-to-run drift from their spread instead of assuming it")
    parser.add_argument("--out", type=Path, default=Path("reports/aa"), help="folder for the run files")
    parser.add_argument("--score", type=Path, nargs="+", default=None, metavar="RUN",
                        help="run nothing: judge every pair of these run files of the same code as an A/A pair")
    parser.add_argument("bench_args", nargs="*", help="extra `dlplayground bench` options, after '--'")
    args = parser.parse_args(argv)
    if args.score:
        print("\n".join(score_runs(args.score)))
        return 0
    if args.pairs < 1 or args.runs_per_side < 1:
        parser.error("--pairs and --runs-per-side must be >= 1")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.slow is not None:
        if args.slow not in models:
            parser.error(f"--slow {args.slow!r} is not among --models {args.models!r}")
        models = [slowed_name(m) if m == args.slow else m for m in models]
    args.out.mkdir(parents=True, exist_ok=True)
    passed, summary = True, []
    for pair in range(args.pairs):
        # Runs alternate A B A B ..., so a spell of machine noise falls on both sides alike.
        sides: dict[str, list[Path]] = {"A": [], "B": []}
        walls = []
        for k in range(args.runs_per_side):
            for side, slowdown in (("A", 1.0), ("B", 2.0 if args.slow else 1.0)):
                suffix = "" if args.runs_per_side == 1 else f"{k + 1}"
                path = args.out / f"pair{pair}-{side}{suffix}.json"
                walls.append(run_bench(path, models, args.bench_args, slowdown))
                sides[side].append(path)
        base, new = ([read_envelope(p) for p in sides[s]] for s in "AB")
        env_a, env_b = base[0], new[0]
        runs = [BatchSizeRun.from_envelope(e) for e in (env_a, env_b)]
        if args.runs_per_side == 1:
            profile, source = stored_profile_for([env_a, env_b])  # what `dlplayground compare A B` would use
            result = compare_envelopes(env_a, env_b, profile=profile, profile_source=source)
        else:  # several runs per side: compare measures the drift from their spread
            result = compare_runs(base, new)
        counts = result.counts()
        unit = (env_a.config.get("passes") or {}).get("unit", "unrecorded")
        print(f"pair {pair}: runs took {', '.join(f'{w:.0f}' for w in walls)} s (passes: {unit})")
        print(result.to_text(show_all=False))
        if args.slow is None:
            called = counts[REGRESSION] + counts[IMPROVEMENT]
            sat_ok, design_ok, lines = saturation_check(*runs)
            print("  saturation batches [95% CI]:")
            print("\n".join(lines))
            ok = called == 0 and sat_ok
            summary.append(f"pair {pair}: {counts[REGRESSION]} regression(s), {counts[IMPROVEMENT]} improvement(s) "
                           f"of {len(result.points)} points; saturation {'agrees' if sat_ok else 'DISAGREES'} "
                           f"(DESIGN.md's rule: {'agrees' if design_ok else 'disagrees'}) "
                           f"-> {'PASS' if ok else 'FAIL'}")
        else:
            slowed = [p for p in result.points if p.model == slowed_name(args.slow)]
            flagged = [p for p in slowed if p.status == REGRESSION]
            others = [p for p in result.points if p not in slowed and p.status in (REGRESSION, IMPROVEMENT)]
            sigma = result.run_sigma.value
            floors = [noise_floor(point_noise(r), sigma) for r in runs[0].records if r.model == slowed_name(args.slow)]
            ok = len(flagged) == len(slowed) and not others
            summary.append(f"pair {pair}: {len(flagged)}/{len(slowed)} points of the 2x-slowed {args.slow} flagged; "
                           f"{len(others)} call(s) elsewhere; run A's noise floor for {args.slow}: median "
                           f"{np.median(floors):+.0%}, range {min(floors):+.0%}..{max(floors):+.0%} (slowdowns "
                           f"above it would be caught) -> {'PASS' if ok else 'FAIL'}")
        passed = passed and bool(ok)
        if args.bare and pair == 0:
            bare = bare_sweep_s(runs[0])
            summary.append(f"time budget: run A {walls[0]:.0f} s vs a bare torch.utils.benchmark sweep of its "
                           f"{len(runs[0].records)} points {bare:.0f} s = {walls[0] / bare:.2f}x (budget 3x)")
    print("\nA/A verdict")
    print("\n".join(summary))
    (args.out / "verdict.json").write_text(json.dumps({"passed": passed, "summary": summary}, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
